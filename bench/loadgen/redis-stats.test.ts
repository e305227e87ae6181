import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs load generator without type declarations
import { commandDelta, parseCommandStats } from './redis-stats.mjs';

const before = ['# Commandstats', 'cmdstat_evalsha:calls=10,usec=900,usec_per_call=90.00,rejected_calls=0,failed_calls=0', 'cmdstat_info:calls=3,usec=30,usec_per_call=10.00', ''].join('\r\n');
const after = [
  '# Commandstats',
  'cmdstat_evalsha:calls=25,usec=2000,usec_per_call=80.00,rejected_calls=0,failed_calls=0',
  'cmdstat_info:calls=4,usec=40,usec_per_call=10.00',
  'cmdstat_hget:calls=15,usec=15,usec_per_call=1.00',
  'cmdstat_subscribe:calls=0,usec=0',
].join('\r\n');

describe('Redis command deltas', () => {
  it('parses calls, or microseconds, per command from INFO commandstats', () => {
    expect(parseCommandStats(before)).toEqual({ evalsha: 10, info: 3 });
    expect(parseCommandStats(after, 'usec')).toEqual({ evalsha: 2000, info: 40, hget: 15, subscribe: 0 });
  });

  it('counts what a phase called, without the INFO readings and without idle commands', () => {
    expect(commandDelta(parseCommandStats(before), parseCommandStats(after))).toEqual({ total: 30, byCommand: { evalsha: 15, hget: 15 } });
  });
});
