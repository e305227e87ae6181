import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Log } from '@gateway/protocol/node';
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
