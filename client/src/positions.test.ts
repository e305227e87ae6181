import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, StreamPositions, type Gateway, type Recovery } from './index.js';
import { FakeSocket } from '../../testing/fake-socket.js';
import { waitFor } from '../../testing/wait.js';

/**
 * The SDK's stream positions, duplicate drop and resubscription (docs/sdk.md), against
 * a fake socket: no process, every frame the server would send is written here.
 */

const clients: Gateway[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  FakeSocket.all = [];
});

const tick = <T>(what: string, fn: () => T) => waitFor(fn, { timeoutMs: 2000, intervalMs: 2, what });

const USER = { id: 'alice', name: 'alice', guest: false };
const welcome = (extra: Record<string, unknown> = {}) => ({
  event: 'welcome',
  data: { id: 'c1', room: 'user:alice', user: USER, permissions: { admin: false, guilds: { '1': 7 } }, monolith: 'm1', streams: ['user:alice'], ...extra },
});
/** A `log_other` push whose entry id is `n` (the offset unless given). */
const log = (offset: number, epoch = 'e1', n = offset) => ({
  event: 'log_other',
  data: { id: String(n), guild_id: '1', action_number: 1, agent_id: null, subject_id: null, private: false, reversible: false, timestamp: 0 },
  stream: 'guild:1:logs',
  offset,
  epoch,
});
const pool = (offset: number, epoch = 'p1') => ({ event: 'log_pool', data: { offset }, stream: 'guild:1', offset, epoch });
const user = (offset: number, epoch = 'u1') => ({ event: 'note', data: { offset }, stream: 'user:alice', offset, epoch });
const SPECTATED = { guild_id: '1', include_logs: true, channels: ['guild:1', 'guild:1:logs'], streams: ['guild:1', 'guild:1:logs'] };

/** A client spectating guild 1 with logs on a fresh fake socket; stream positions as given. */
type Positions = Record<string, { offset: number; epoch: string }>;
async function spectating(positions: Positions = { 'user:alice': { offset: 0, epoch: 'u1' } }, guild: Positions = { 'guild:1': { offset: 0, epoch: 'p1' }, 'guild:1:logs': { offset: 0, epoch: 'e1' } }) {
  const c = connect({ url: 'ws://fake', getToken: () => 'token', WebSocket: FakeSocket, reconnect: { baseMs: 1, capMs: 1 } });
  clients.push(c);
  const ws = await tick('a socket', () => FakeSocket.all[0]);
  ws.accept();
  ws.push(welcome({ positions }));
  const spectate = c.spectate('1', true);
  ws.reply('spectate', { ...SPECTATED, positions: guild });
  await spectate;
  const recoveries: Recovery[] = [];
  c.on('recovery', (r) => recoveries.push(r));
  const logs: number[] = [];
  c.on('log_other', (d) => logs.push(Number(d.id)));
  return { c, ws, recoveries, logs };
}

/** Drops the socket and returns the next one, opened (its auth frame sent). */
async function reconnect(ws: FakeSocket): Promise<FakeSocket> {
  const at = FakeSocket.all.length;
  ws.drop(1006);
  const next = await tick('a new socket', () => FakeSocket.all[at]);
  next.accept();
  return next;
}

describe('stream positions', () => {
  it('takes a stream_gap once: a stream lost unless already held past it, then positioned after it', () => {
    const p = new StreamPositions();
    const gap = { stream: 's', epoch: 'e1', from: 3, to: 5 };
    expect(p.gap(gap)).toBe('s'); // no position yet: lost, and now past the gap
    expect(p.gap(gap)).toBeUndefined(); // the same push on a second channel
    expect(p.get('s')).toEqual({ offset: 5, epoch: 'e1' });
    expect(p.accept('s', 4, 'e1')).toBe('duplicate');
    expect([p.gap({ stream: 's', epoch: 'e1' }), p.gap(null), p.gap({ ...gap, to: '9' })]).toEqual([undefined, undefined, undefined]);
  });

  it('accepts increasing offsets (gaps included), flags duplicates and epoch changes', () => {
    const p = new StreamPositions();
    expect([1, 2, 5, 5, 3, 9].map((o) => p.accept('s', o, 'e1'))).toEqual(['new', 'new', 'new', 'duplicate', 'duplicate', 'new']);
    expect(p.get('s')).toEqual({ offset: 9, epoch: 'e1' });
    expect(p.accept('s', 1, 'e2')).toBe('epoch_changed');
    expect(p.accept('s', 1, 'e2')).toBe('duplicate');
    expect(p.accept('t', 1, 'e2')).toBe('new');
    expect(p.since(['s', 'missing'])).toEqual({ s: { offset: 1, epoch: 'e2' } });
  });

  it('settles a recovery reply: expected streams it does not mention are not recovered, positions it reports are taken', () => {
    const p = new StreamPositions();
    p.accept('a', 4, 'e');
    p.accept('b', 4, 'e');
    p.accept('c', 4, 'e');
    const out = p.settle(['a', 'b', 'c', 'd'], { a: true, b: false }, { a: { offset: 4, epoch: 'e' }, b: { offset: 90, epoch: 'f' } });
    expect(out).toEqual({ a: true, b: false, c: false, d: false });
    expect(p.all()).toEqual({ a: { offset: 4, epoch: 'e' }, b: { offset: 90, epoch: 'f' } });
    // c was forgotten: its next push starts it again without an epoch alarm
    expect(p.accept('c', 1, 'x')).toBe('new');
  });
});

describe('client SDK positions and recovery, on a fake socket', () => {
  it('delivers each offset of a stream once, in the order received, and tracks the last', async () => {
    const { c, ws, logs, recoveries } = await spectating();
    for (const o of [1, 2, 2, 1, 4, 3, 7]) ws.push(log(o));
    ws.push(pool(1));
    ws.push(pool(1));
    expect(logs).toEqual([1, 2, 4, 7]);
    expect(c.duplicatesDropped).toBe(4);
    expect(c.position('guild:1:logs')).toEqual({ offset: 7, epoch: 'e1' });
    expect(c.position('guild:1')).toEqual({ offset: 1, epoch: 'p1' });
    expect(recoveries).toEqual([]);
  });

  it('reports an epoch change on a live push as not recovered, before delivering it', async () => {
    const { c, ws, logs, recoveries } = await spectating();
    ws.push(log(5));
    const order: string[] = [];
    c.on('recovery', () => order.push('recovery'));
    c.on('log_other', () => order.push('push'));
    ws.push(log(1, 'e2', 100));
    ws.push(log(2, 'e2', 101));
    expect(recoveries).toEqual([{ trigger: 'epoch', streams: { 'guild:1:logs': false } }]);
    expect(order).toEqual(['recovery', 'push', 'push']);
    expect(logs).toEqual([5, 100, 101]);
  });

  it('reports a stream_gap it did not get past as not recovered, moves past it, and passes the push on', async () => {
    const { c, ws, logs, recoveries } = await spectating();
    const gaps: unknown[] = [];
    c.on('stream_gap', (g) => gaps.push(g));
    ws.push(log(2));
    ws.push({ event: 'stream_gap', data: { stream: 'guild:1:logs', epoch: 'e1', from: 1, to: 2 } }); // it has 2: nothing lost here
    ws.push({ event: 'stream_gap', data: { stream: 'guild:1:logs', epoch: 'e1', from: 3, to: 5 } });
    ws.push(log(6));
    expect(recoveries).toEqual([{ trigger: 'gap', streams: { 'guild:1:logs': false } }]);
    expect(c.position('guild:1:logs')).toEqual({ offset: 6, epoch: 'e1' });
    expect(logs).toEqual([2, 6]);
    expect(gaps).toHaveLength(2);
  });

  it('after a dropped socket: since in auth, one spectate with since, replayed duplicates dropped, one recovery event', async () => {
    const { ws, logs, recoveries } = await spectating();
    ws.push(user(3));
    ws.push(log(1));
    ws.push(log(2));
    ws.push(pool(6));
    const next = await reconnect(ws);
    expect(next.sent[0]).toMatchObject({ action: 'auth', since: { 'user:alice': { offset: 3, epoch: 'u1' } } });
    next.push(welcome({ recovered: { 'user:alice': true }, positions: { 'user:alice': { offset: 3, epoch: 'u1' } } }));
    await tick('the re-spectate', () => next.requests('spectate').length === 1);
    expect(next.requests('spectate')[0]!.data).toEqual({
      guild_id: '1',
      include_logs: true,
      since: { 'guild:1': { offset: 6, epoch: 'p1' }, 'guild:1:logs': { offset: 2, epoch: 'e1' } },
    });
    next.reply('spectate', { ...SPECTATED, recovered: { 'guild:1': false, 'guild:1:logs': true }, positions: { 'guild:1': { offset: 40, epoch: 'p1' }, 'guild:1:logs': { offset: 2, epoch: 'e1' } } });
    // the replay overlaps what was seen (defensive drop), then live
    for (const o of [2, 3, 4, 5]) next.push(log(o));
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries).toEqual([{ trigger: 'reconnect', streams: { 'user:alice': true, 'guild:1': false, 'guild:1:logs': true } }]);
    expect(logs).toEqual([1, 2, 3, 4, 5]);
    expect(next.requests('spectate')).toHaveLength(1);
    expect(next.requests('recover')).toHaveLength(0);
  });

  it('after a failover (welcome then resync on the same socket): one recover and one spectate, both with since', async () => {
    const { c, ws, recoveries } = await spectating();
    ws.push(user(2));
    ws.push(log(9));
    ws.push(welcome({ monolith: 'm2' }));
    expect(ws.requests('spectate')).toHaveLength(1); // the re-join welcome alone re-spectates nothing
    ws.push({ event: 'resync', data: { reason: 'room moved to this monolith' } });
    expect(ws.requests('recover').map((f) => f.data)).toEqual([{ since: { 'user:alice': { offset: 2, epoch: 'u1' } } }]);
    expect(ws.requests('spectate')).toHaveLength(2);
    expect(ws.requests('spectate')[1]!.data).toMatchObject({ since: { 'guild:1:logs': { offset: 9, epoch: 'e1' } } });
    ws.reply('recover', { recovered: { 'user:alice': true }, positions: { 'user:alice': { offset: 2, epoch: 'u1' } } });
    ws.reply('spectate', { ...SPECTATED, recovered: { 'guild:1': true, 'guild:1:logs': true }, positions: { 'guild:1': { offset: 0, epoch: 'p1' }, 'guild:1:logs': { offset: 9, epoch: 'e1' } } });
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries).toEqual([{ trigger: 'resync', streams: { 'user:alice': true, 'guild:1': true, 'guild:1:logs': true } }]);
    expect(c.welcome).toMatchObject({ monolith: 'm2' });
  });

  it('a re-spectate answered unavailable (history unreadable for now) is sent again, with since, until it is answered', async () => {
    const { ws, recoveries } = await spectating();
    ws.push(log(5));
    const next = await reconnect(ws);
    next.push(welcome({ recovered: { 'user:alice': true } }));
    next.error('spectate', 'unavailable');
    await tick('the second spectate', () => next.requests('spectate').length === 2);
    expect(next.requests('spectate')[1]!.data).toMatchObject({ since: { 'guild:1:logs': { offset: 5, epoch: 'e1' } } });
    expect(recoveries).toEqual([]);
    next.reply('spectate', { ...SPECTATED, recovered: { 'guild:1': true, 'guild:1:logs': true } });
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries[0]).toEqual({ trigger: 'reconnect', streams: { 'user:alice': true, 'guild:1': true, 'guild:1:logs': true } });
  });

  it('a refused recover counts as not recovered, and the position is forgotten', async () => {
    const { c, ws, recoveries } = await spectating();
    ws.push(user(2));
    ws.push(welcome());
    ws.push({ event: 'resync', data: {} });
    ws.error('recover', 'unknown_event');
    ws.reply('spectate', { ...SPECTATED, recovered: { 'guild:1': true, 'guild:1:logs': true } });
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries[0]).toEqual({ trigger: 'resync', streams: { 'user:alice': false, 'guild:1': true, 'guild:1:logs': true } });
    expect(c.position('user:alice')).toBeUndefined();
  });

  it('an elevation (another identity on the same socket) re-spectates once; a new guild starts without since', async () => {
    const { c, ws, recoveries } = await spectating();
    ws.push(log(3));
    ws.push(welcome({ room: 'user:bob', user: { ...USER, id: 'bob' }, streams: ['user:bob'] }));
    expect(ws.requests('spectate')).toHaveLength(2);
    expect(ws.requests('spectate')[1]!.data).toMatchObject({ since: { 'guild:1:logs': { offset: 3, epoch: 'e1' } } });
    ws.reply('spectate', { ...SPECTATED, recovered: { 'guild:1': true, 'guild:1:logs': true } });
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries[0]!.trigger).toBe('elevation');
    const other = c.spectate('2', true);
    expect(ws.requests('spectate')[2]!.data).toEqual({ guild_id: '2', include_logs: true });
    ws.reply('spectate', { guild_id: '2', include_logs: true, channels: [], streams: ['guild:2', 'guild:2:logs'] });
    await other;
    expect(c.position('guild:1:logs')).toBeUndefined();
  });

  it('a disconnect while resubscribing reports nothing; the next connection does, with the positions it had', async () => {
    const { ws, recoveries } = await spectating();
    ws.push(log(4));
    const second = await reconnect(ws);
    second.push(welcome({ recovered: { 'user:alice': true } }));
    await tick('the re-spectate', () => second.requests('spectate').length === 1);
    const third = await reconnect(second);
    third.push(welcome({ recovered: { 'user:alice': true } }));
    await tick('the re-spectate', () => third.requests('spectate').length === 1);
    expect(third.requests('spectate')[0]!.data).toMatchObject({ since: { 'guild:1:logs': { offset: 4, epoch: 'e1' } } });
    third.reply('spectate', { ...SPECTATED, recovered: { 'guild:1': true, 'guild:1:logs': true } });
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries).toEqual([{ trigger: 'reconnect', streams: { 'user:alice': true, 'guild:1': true, 'guild:1:logs': true } }]);
  });

  it('a stream with no position to send is reported not recovered', async () => {
    const { ws, recoveries } = await spectating({}, {});
    const next = await reconnect(ws);
    expect(next.sent[0]).not.toHaveProperty('since');
    next.push(welcome());
    next.reply('spectate', SPECTATED);
    await tick('the recovery event', () => recoveries.length === 1);
    expect(recoveries[0]!.streams).toEqual({ 'user:alice': false, 'guild:1': false, 'guild:1:logs': false });
  });
});

describe('docs/sdk.md', () => {
  it('shows client/examples/recovery.mjs as it is', () => {
    const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
    expect(read('docs/sdk.md')).toContain(`\`client/examples/recovery.mjs\`, reacting to \`recovered: false\`:\n\n\`\`\`js\n${read('client/examples/recovery.mjs')}\`\`\``);
  });
});
