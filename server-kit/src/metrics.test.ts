import { describe, expect, it } from 'vitest';
import { Metrics, parseMetrics } from './metrics.js';

describe('parseMetrics', () => {
  it('reads back what Metrics.render writes, labelled or not, escapes included', () => {
    const m = new Metrics();
    m.counter('x_total', 'help').value = 3;
    m.gauge('x_up', 'help', { address: '127.0.0.1:1', monolith: 'a "b"\\c\nd' }).value = 1;
    m.gauge('x_up', 'help', { address: '127.0.0.1:2', monolith: 'm2' }).value = 0;
    m.collect('x_rooms', 'help', () => [[{}, 7]]);
    const text = m.render();
    expect(parseMetrics(text, 'x_total')).toEqual([{ labels: {}, value: 3 }]);
    expect(parseMetrics(text, 'x_up')).toEqual([
      { labels: { address: '127.0.0.1:1', monolith: 'a "b"\\c\nd' }, value: 1 },
      { labels: { address: '127.0.0.1:2', monolith: 'm2' }, value: 0 },
    ]);
    expect(parseMetrics(text, 'x_rooms')).toEqual([{ labels: {}, value: 7 }]);
    expect(parseMetrics(text, 'x')).toEqual([]);
  });
});
