import { describe, expect, it } from 'vitest';
import { DeliveryClient, type Mark } from '../harness/delivery-client.js';
import { Publisher } from '../harness/delivery-publisher.js';
import { clientProblems, publisherProblems } from '../harness/delivery-report.js';

// The checker the delivery scenarios rely on, fed made-up logs: it must flag every way a client
// can be short-changed, and accept a gap only where the client was told to reload.
const LOGS = 'guild:1:logs';

function publisherWith(acks: Array<[epoch: string, offset: number]>): Publisher {
  const p = new Publisher({ targets: [], guilds: ['1'], rooms: ['r'], paceMs: 0, roomEvery: 1 });
  acks.forEach(([epoch, offset], n) => {
    p.acks.push({ n, stream: LOGS, id: `${epoch}${offset}`, offset, epoch, duplicate: false, phase: 'up' });
    p.attempts.push({ n, stream: LOGS, id: `${epoch}${offset}`, status: 202, body: {}, phases: ['up', 'up'] });
  });
  return p;
}

function clientWith(marks: Array<Mark | [epoch: string, offset: number]>): DeliveryClient {
  const c = new DeliveryClient({ label: 'c', token: '', room: 'r', guild: '1', urls: [] });
  for (const m of marks) c.log.push(Array.isArray(m) ? { kind: 'push', stream: LOGS, epoch: m[0], offset: m[1], id: `${m[0]}${m[1]}` } : m);
  return c;
}

const start = (epoch: string, offset: number): Mark => ({ kind: 'start', stream: LOGS, epoch, offset });
const told: Mark = { kind: 'told', stream: LOGS, how: 'recovered: false in spectate' };
const run = (epoch: string, from: number, to: number): Array<[string, number]> => Array.from({ length: to - from + 1 }, (_, i) => [epoch, from + i]);
const check = (c: DeliveryClient, p: Publisher, toldAllowed = false) => clientProblems(c, p, { toldAllowed, firstStep: 0 });

describe('delivery checker', () => {
  const five = publisherWith(run('e', 1, 5));

  it('accepts every acknowledged publication once, in order, from the start position', () => {
    expect(check(clientWith([start('e', 0), ...run('e', 1, 5)]), five)).toEqual([]);
  });

  it('flags a missing, a duplicated, a reordered and a wrong publication', () => {
    expect(check(clientWith([start('e', 0), ['e', 1], ['e', 2], ['e', 4], ['e', 5]]), five)).toEqual([expect.stringContaining('missing acknowledged offsets 3 (1)')]);
    expect(check(clientWith([start('e', 0), ...run('e', 1, 3), ['e', 3], ...run('e', 4, 5)]), five)).toEqual([
      expect.stringContaining('offset 3 arrived after 3'),
      expect.stringContaining('duplicated offsets 3 (1)'),
    ]);
    expect(check(clientWith([start('e', 0), ['e', 1], ['e', 3], ['e', 2], ['e', 4], ['e', 5]]), five)).toEqual([expect.stringContaining('offset 2 arrived after 3')]);
    const wrong = clientWith([start('e', 0), ...run('e', 1, 5)]);
    (wrong.log[3] as { id: string }).id = 'e9';
    expect(check(wrong, five)).toEqual([expect.stringContaining('offset 3 carried entry e9, acknowledged as e3')]);
  });

  it('flags the first or last publications missing, and a push nobody published', () => {
    expect(check(clientWith([start('e', 0), ...run('e', 2, 5)]), five)).toEqual([expect.stringContaining('missing acknowledged offsets 1 (1)')]);
    expect(check(clientWith([start('e', 0), ...run('e', 1, 3)]), five)).toEqual([expect.stringContaining('missing acknowledged offsets 4-5 (2)')]);
    expect(check(clientWith([start('e', 0), ...run('e', 1, 6)]), five)).toEqual([expect.stringContaining('received e|6 (entry e6), never published')]);
  });

  it('accepts a gap only where the client was told to reload, and nothing missing after it', () => {
    const twoEpochs = publisherWith([...run('a', 1, 4), ...run('b', 1, 3)]);
    const gapAtTold = clientWith([start('a', 0), ...run('a', 1, 2), told, ...run('b', 1, 3)]);
    expect(check(gapAtTold, twoEpochs, true)).toEqual([]);
    expect(check(gapAtTold, twoEpochs, false)).toEqual([expect.stringContaining('told to reload (recovered: false in spectate)')]);
    expect(check(clientWith([start('a', 0), ...run('a', 1, 2), told, start('b', 0), ['b', 1], ['b', 3]]), twoEpochs, true)).toEqual([
      expect.stringContaining('missing acknowledged offsets 2 (1) of epoch b'),
    ]);
    // A new epoch never seen is not a reload the client was told about.
    expect(check(clientWith([start('a', 0), ...run('a', 1, 4)]), twoEpochs, true)).toEqual([expect.stringContaining('never received epoch b')]);
  });

  it('flags a 2xx while the broker was down, a failure while it was up, and offsets that skip', () => {
    const p = publisherWith([]);
    p.attempts.push({ n: 0, stream: LOGS, id: 'x', status: 503, body: { code: 'unavailable' }, phases: ['down', 'down'] });
    expect(publisherProblems(p)).toEqual([]);
    p.attempts.push({ n: 1, stream: LOGS, id: 'y', status: 202, body: {}, phases: ['down', 'down'] });
    p.attempts.push({ n: 2, stream: LOGS, id: 'z', status: 503, body: { code: 'unavailable' }, phases: ['up', 'up'] });
    expect(publisherProblems(p)).toEqual([expect.stringContaining('#1 while the broker was down: 202'), expect.stringContaining('#2 (up→up): 503')]);
    expect(publisherProblems(publisherWith([['e', 1], ['e', 3]]))).toEqual([expect.stringContaining('at 3 after #0 at 1')]);
  });
});
