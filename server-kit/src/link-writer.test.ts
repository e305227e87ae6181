import { afterEach, describe, expect, it, vi } from 'vitest';
import { linkFrames } from '@gateway/protocol';
import { LINK_BATCH_MAX_CHARS, LinkWriter, type LinkSocket } from './link-writer.js';

/** A `ws` stand-in: a buffered amount the test sets, the messages sent, pong on demand. */
class FakeLinkSocket implements LinkSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  pings = 0;
  terminated = false;
  private pong: () => void = () => {};
  send(data: string): void {
    this.sent.push(data);
  }
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
  on(_event: 'pong', listener: () => void): this {
    this.pong = listener;
    return this;
  }
  answer(): void {
    this.pong();
  }
}

afterEach(() => vi.useRealTimers());

describe('LinkWriter', () => {
  it('sends the frames of one event-loop turn as one message, in order, and counts frames', async () => {
    const ws = new FakeLinkSocket();
    const w = new LinkWriter(ws, { maxBufferBytes: 1000, heartbeatMs: 60_000, onFailure: () => {} });
    for (let i = 0; i < 5; i++) expect(w.send(`{"f":${i}}`)).toBe(true);
    expect(ws.sent).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ws.sent).toHaveLength(1);
    expect(linkFrames(ws.sent[0]!)).toEqual([0, 1, 2, 3, 4].map((i) => `{"f":${i}}`));
    expect(w.send('{"f":5}')).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    // A lone frame is sent as it is.
    expect(ws.sent[1]).toBe('{"f":5}');
    expect(w.framesOut).toBe(6);
    w.stop();
  });

  it('sends a batch at once when it reaches LINK_BATCH_MAX_CHARS, and counts the batch against the bound', () => {
    const ws = new FakeLinkSocket();
    const failures: string[] = [];
    const w = new LinkWriter(ws, { maxBufferBytes: 3 * LINK_BATCH_MAX_CHARS, heartbeatMs: 60_000, onFailure: (r) => failures.push(r) });
    const big = 'x'.repeat(LINK_BATCH_MAX_CHARS / 2);
    w.send(big);
    expect(ws.sent).toEqual([]);
    w.send(big);
    expect(ws.sent).toHaveLength(1);
    // Unsent batch characters count: 2.5 batches buffered + 0.75 unsent is over the bound.
    ws.bufferedAmount = 2.5 * LINK_BATCH_MAX_CHARS;
    expect(w.send('y'.repeat(LINK_BATCH_MAX_CHARS * 0.75))).toBe(true);
    expect(w.send('z')).toBe(false);
    expect(failures).toHaveLength(1);
    w.stop();
  });

  it('resets a peer that stopped reading once its buffer passes the bound, and sends nothing more', () => {
    const ws = new FakeLinkSocket();
    const failures: string[] = [];
    const w = new LinkWriter(ws, { maxBufferBytes: 1000, heartbeatMs: 60_000, onFailure: (r) => failures.push(r) });
    expect(w.send('a')).toBe(true);
    ws.bufferedAmount = 1001;
    expect(w.send('b')).toBe(false);
    expect(ws.terminated).toBe(true);
    expect(failures).toEqual(['link buffer over 1000 bytes: peer stalled']);
    ws.bufferedAmount = 0;
    expect(w.send('c')).toBe(false);
    // The link is gone: what was batched is not sent after the reset.
    expect(ws.sent).toEqual([]);
  });

  it('pings every interval and drops a peer that missed one', () => {
    vi.useFakeTimers();
    const ws = new FakeLinkSocket();
    const failures: string[] = [];
    const w = new LinkWriter(ws, { maxBufferBytes: 1000, heartbeatMs: 100, onFailure: (r) => failures.push(r) });
    vi.advanceTimersByTime(100);
    expect(ws.pings).toBe(1);
    ws.answer();
    vi.advanceTimersByTime(100);
    expect(ws.pings).toBe(2);
    expect(failures).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(failures).toEqual(['heartbeat missed']);
    expect(ws.terminated).toBe(true);
    w.stop();
  });

  it('lets bursts through one at a time, each only once the buffer is below the low-water mark', async () => {
    vi.useFakeTimers();
    const ws = new FakeLinkSocket();
    const w = new LinkWriter(ws, { maxBufferBytes: 1_000_000, heartbeatMs: 60_000, onFailure: () => {} });
    const order: string[] = [];
    ws.bufferedAmount = 500;
    const first = w.drained(100, 1).then(() => {
      order.push('first');
      ws.bufferedAmount = 400; // its burst fills the buffer again
    });
    const second = w.drained(100, 1).then(() => order.push('second'));
    // Many polls later, nothing has gone: the buffer stays above the mark.
    await vi.advanceTimersByTimeAsync(50);
    expect(order).toEqual([]);
    ws.bufferedAmount = 50;
    await vi.advanceTimersByTimeAsync(5);
    await first;
    await vi.advanceTimersByTimeAsync(50);
    // The first one's burst is still unsent: the second waits.
    expect(order).toEqual(['first']);
    ws.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(5);
    await second;
    expect(order).toEqual(['first', 'second']);
    w.stop();
  });
});
