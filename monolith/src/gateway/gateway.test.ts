import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Log } from '@gateway/server-kit';
import type { Conn, Rooms } from '../rooms/rooms.js';
import { MAX_FAILURE_KINDS } from './failure-log.js';
import { Gateway } from './gateway.js';

type Line = { level: string; msg: string; fields: Record<string, unknown> };

function setup(opts: { maxDepth?: number; failureWindowMs?: number } = {}) {
  const options = { maxDepth: opts.maxDepth ?? 32, failureWindowMs: opts.failureWindowMs };
  const sent: Array<Record<string, unknown>> = [];
  const lines: Line[] = [];
  const rooms = { unicast: (_conn: Conn, text: string) => sent.push(JSON.parse(text) as Record<string, unknown>) } as unknown as Rooms;
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => lines.push({ level, msg, fields });
  const log: Log = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const gateway = new Gateway(rooms, log, options);
  const conn = { id: 'c1' } as Conn;
  return { gateway, conn, sent, lines };
}

/** `{"event":"ping","data":{"a":{"a":...}}}` whose whole message is `depth` containers deep. */
function nested(depth: number): Record<string, unknown> {
  let data: unknown = 1;
  for (let i = 1; i < depth; i++) data = { a: data };
  return { event: 'ping', _id: 1, data };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Gateway nesting limit', () => {
  it('answers a message nested past maxDepth with bad_request and never runs its handler', () => {
    const { gateway, conn, sent } = setup({ maxDepth: 32 });
    const handler = vi.fn();
    gateway.on('ping', handler);
    gateway.handle(conn, nested(32));
    expect(handler).toHaveBeenCalledTimes(1);
    gateway.handle(conn, nested(33));
    expect(handler).toHaveBeenCalledTimes(1);
    expect(sent).toEqual([expect.objectContaining({ event: 'error', _id: 1, code: 'bad_request', message: 'message nested deeper than 32' })]);
  });

  it('refuses a 20,000-deep message before any handler could overflow the stack, logging nothing', () => {
    const { gateway, conn, sent, lines } = setup();
    gateway.on('ping', (ctx, data) => ctx.reply('pong', data));
    const deep = JSON.parse(`{"event":"ping","_id":2,"data":${'['.repeat(20_000)}${']'.repeat(20_000)}}`) as Record<string, unknown>;
    gateway.handle(conn, deep);
    expect(sent).toEqual([expect.objectContaining({ code: 'bad_request' })]);
    expect(lines).toEqual([]);
  });
});

describe('Gateway handler failures', () => {
  it('answers internal every time but logs one stack per kind, then a count per window', () => {
    vi.useFakeTimers();
    const { gateway, conn, sent, lines } = setup({ failureWindowMs: 60_000 });
    gateway.on('boom', () => {
      throw new RangeError('Maximum call stack size exceeded');
    });
    for (let i = 0; i < 500; i++) gateway.handle(conn, { event: 'boom', _id: i });
    expect(sent).toHaveLength(500);
    expect(sent.every((m) => m.code === 'internal')).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'handler failed', fields: { event: 'boom', conn: 'c1', err: 'Maximum call stack size exceeded' } });
    expect(String(lines[0]!.fields.stack)).toContain('RangeError');
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ msg: 'handler failures repeated', fields: { count: 499, windowMs: 60_000 } });
    expect(lines[1]!.fields.stack).toBeUndefined();
    // A quiet window reports nothing; the next repeat starts a new count, still without a stack.
    vi.advanceTimersByTime(120_000);
    expect(lines).toHaveLength(2);
    gateway.handle(conn, { event: 'boom', _id: 'again' });
    vi.advanceTimersByTime(60_000);
    expect(lines.slice(2)).toEqual([expect.objectContaining({ msg: 'handler failures repeated', fields: expect.objectContaining({ count: 1 }) })]);
    gateway.close();
  });

  it('logs a new kind (another event or error) with its own first stack, and async rejections alike', async () => {
    const { gateway, conn, lines } = setup();
    gateway.on('a', () => {
      throw new TypeError('x is undefined');
    });
    gateway.on('b', async () => {
      throw new Error('store down');
    });
    gateway.handle(conn, { event: 'a' });
    gateway.handle(conn, { event: 'b' });
    gateway.handle(conn, { event: 'b' });
    await vi.waitFor(() => expect(lines.map((l) => l.fields.event)).toEqual(['a', 'b']));
    expect(lines.every((l) => l.msg === 'handler failed' && typeof l.fields.stack === 'string')).toBe(true);
    gateway.close();
  });

  it('keeps a bounded number of kinds however many distinct messages errors carry', () => {
    const { gateway, conn, lines } = setup();
    let n = 0;
    gateway.on('leak', () => {
      throw new Error(`failure ${n++}`);
    });
    for (let i = 0; i < MAX_FAILURE_KINDS + 50; i++) gateway.handle(conn, { event: 'leak' });
    // One line per remembered kind, plus the first of the catch-all kind.
    expect(lines).toHaveLength(MAX_FAILURE_KINDS + 1);
    gateway.close();
  });
});

describe('Gateway error mapping', () => {
  it('answers an event without a handler unknown_event, echoing a string or numeric _id', () => {
    const { gateway, conn, sent } = setup();
    gateway.handle(conn, { event: 'nope', _id: 'r-1' });
    gateway.handle(conn, { event: 'nope', _id: 2 });
    expect(sent).toEqual([
      expect.objectContaining({ event: 'error', _id: 'r-1', code: 'unknown_event', message: 'unknown event "nope"' }),
      expect.objectContaining({ event: 'error', _id: 2, code: 'unknown_event' }),
    ]);
  });

  it('answers a message that is not an app message bad_request and runs no handler', () => {
    const { gateway, conn, sent } = setup();
    const handler = vi.fn();
    gateway.on('ping', handler);
    gateway.handle(conn, { _id: 3, data: 1 });
    gateway.handle(conn, { event: 42, _id: 4 });
    expect(handler).not.toHaveBeenCalled();
    expect(sent.map((m) => [m.event, m._id, m.code])).toEqual([
      ['error', 3, 'bad_request'],
      ['error', 4, 'bad_request'],
    ]);
  });

  it('omits _id when the request had none; an _id of another type is bad_request, answered without it', () => {
    const { gateway, conn, sent } = setup();
    gateway.on('ping', (ctx) => ctx.reply('pong', { ok: true }));
    gateway.handle(conn, { event: 'ping' });
    gateway.handle(conn, { event: 'ping', _id: { nested: 1 } });
    gateway.handle(conn, { event: 'nope' });
    expect(sent).toEqual([
      { event: 'pong', data: { ok: true } },
      expect.objectContaining({ event: 'error', code: 'bad_request', message: expect.stringContaining('/_id') }),
      expect.objectContaining({ event: 'error', code: 'unknown_event' }),
    ]);
    for (const m of sent) expect('_id' in m).toBe(false);
  });

  it('passes a thrown or rejected error with a catalogued code to the client as that code, logging nothing', async () => {
    const { gateway, conn, sent, lines } = setup();
    gateway.on('sync', () => {
      throw Object.assign(new Error('bad cursor'), { code: 'bad_request' });
    });
    gateway.on('async', async () => {
      throw Object.assign(new Error('no such pool'), { code: 'not_found' });
    });
    gateway.handle(conn, { event: 'sync', _id: 1 });
    gateway.handle(conn, { event: 'async', _id: 2 });
    await vi.waitFor(() => expect(sent).toHaveLength(2));
    expect(sent).toEqual([
      expect.objectContaining({ event: 'error', _id: 1, code: 'bad_request', message: 'bad cursor' }),
      expect.objectContaining({ event: 'error', _id: 2, code: 'not_found', message: 'no such pool' }),
    ]);
    expect(lines).toEqual([]);
    gateway.close();
  });

  it('maps an error whose code is not catalogued (a Node errno, a number) to internal, hiding its message', () => {
    const { gateway, conn, sent, lines } = setup();
    gateway.on('io', () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6379'), { code: 'ECONNREFUSED' });
    });
    gateway.on('num', () => {
      throw Object.assign(new Error('weird'), { code: 4000 });
    });
    gateway.handle(conn, { event: 'io', _id: 1 });
    gateway.handle(conn, { event: 'num', _id: 2 });
    expect(sent).toEqual([
      expect.objectContaining({ event: 'error', _id: 1, code: 'internal', message: 'internal error' }),
      expect.objectContaining({ event: 'error', _id: 2, code: 'internal', message: 'internal error' }),
    ]);
    expect(JSON.stringify(sent)).not.toContain('ECONNREFUSED');
    expect(lines.map((l) => l.fields.event)).toEqual(['io', 'num']);
    gateway.close();
  });

  it('ctx.error sends a catalogued error and replyRaw splices data already serialized', () => {
    const { gateway, conn, sent } = setup();
    gateway.on('deny', (ctx) => ctx.error('forbidden', 'not yours'));
    gateway.on('raw', (ctx) => ctx.replyRaw('raw_reply', '{"n":[1,2,3]}'));
    gateway.handle(conn, { event: 'deny', _id: 'd' });
    gateway.handle(conn, { event: 'raw', _id: 'r' });
    gateway.handle(conn, { event: 'raw' });
    expect(sent).toEqual([
      expect.objectContaining({ event: 'error', _id: 'd', code: 'forbidden', message: 'not yours' }),
      { event: 'raw_reply', _id: 'r', data: { n: [1, 2, 3] } },
      { event: 'raw_reply', data: { n: [1, 2, 3] } },
    ]);
  });
});
