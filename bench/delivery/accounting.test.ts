import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs bench module without type declarations
import { StreamLog, outcome, ranges } from './accounting.mjs';

const acks = (offsets: number[], ackMs: number[] = offsets.map((o) => o * 10)) => ({ epoch: 'e', offsets, ackMs });

describe('delivery accounting of one client', () => {
  it('owes every acknowledged offset after its start position, once', () => {
    const log = new StreamLog({ offset: 2, epoch: 'e' });
    for (const o of [1, 2, 3, 4, 4, 6]) log.push(o, 'e', o * 10 + 1);
    const r = outcome(log, acks([1, 2, 3, 4, 5, 6]), undefined);
    expect(r).toEqual({ lost: [5], dups: 1, unacked: 0, told: 0, recoveredMs: undefined });
  });

  it('does not count what a recovered: false covered, nor publications under another epoch as received', () => {
    const log = new StreamLog({ offset: 0, epoch: 'e' });
    log.push(1, 'e', 11);
    log.reload({ offset: 4, epoch: 'e' });
    log.push(5, 'e', 51);
    log.push(1, 'other', 60);
    const r = outcome(log, acks([1, 2, 3, 4, 5]), undefined);
    expect(r.lost).toEqual([]);
    expect(r.told).toBe(3);
    expect(log.epochChanges).toBe(1);
  });

  it('is recovered when it holds everything acknowledged before its recovery reply', () => {
    const log = new StreamLog({ offset: 0, epoch: 'e' });
    // 1-2 live before the fault; 3-5 acknowledged meanwhile and replayed after the reply at 60;
    // 6 acknowledged after the reply (live, does not delay the recovery).
    log.push(1, 'e', 11);
    log.push(2, 'e', 21);
    for (const o of [3, 4, 5]) log.push(o, 'e', 61 + o);
    log.push(6, 'e', 200);
    const r = outcome(log, acks([1, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 150]), 60);
    expect(r.recoveredMs).toBe(66);
    expect(r.lost).toEqual([]);
  });

  it('never recovered when something owed at the reply is missing; received but unacknowledged offsets are counted', () => {
    const log = new StreamLog({ offset: 0, epoch: 'e' });
    log.push(1, 'e', 11);
    log.push(3, 'e', 70);
    log.push(300, 'e', 90);
    const r = outcome(log, acks([1, 2, 3], [10, 20, 30]), 60);
    expect(r.recoveredMs).toBeNull();
    expect(r.lost).toEqual([2]);
    expect(r.unacked).toBe(1);
  });

  it('writes offset ranges compactly', () => {
    expect(ranges([1, 2, 3, 5, 7, 8])).toBe('1-3,5,7-8');
    expect(ranges([])).toBe('');
  });
});
