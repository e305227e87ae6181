import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { LINK_BALANCER_HEADER, LINK_NONCE_HEADER, LINK_PROTOCOL_VERSION, encodeWithMessage, type M2BHead } from '@gateway/protocol';
import { linkProof, type Log } from '@gateway/server-kit';
import { waitFor } from '../../testing/wait.js';
import { MonolithLink, type LinkHandler, type LinkOptions } from './monolith-link.js';

// MonolithLink against an in-process `ws` server that plays the monolith's side of the
// challenge-response (server-kit/src/link-auth.ts): no monolith process, no balancer process.

const SECRET = 'unit-link-secret-0123456789abcdef';

interface Peer {
  ws: WebSocket;
  nonce: string;
  balancerId: string;
  headers: Record<string, string | string[] | undefined>;
  received: string[];
  pings: number;
  closed: boolean;
}

class FakeMonolith {
  readonly peers: Peer[] = [];
  private readonly wss: WebSocketServer;
  readonly listening: Promise<void>;
  /** What to do with each new connection (default: nothing, the test drives it). */
  onPeer: (peer: Peer) => void = () => {};

  constructor(opts: { autoPong?: boolean } = {}) {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/link', autoPong: opts.autoPong ?? true });
    this.listening = new Promise((resolve) => this.wss.once('listening', () => resolve()));
    this.wss.on('connection', (ws, req) => {
      const peer: Peer = {
        ws,
        nonce: String(req.headers[LINK_NONCE_HEADER]),
        balancerId: String(req.headers[LINK_BALANCER_HEADER]),
        headers: req.headers,
        received: [],
        pings: 0,
        closed: false,
      };
      ws.on('message', (data) => peer.received.push(data.toString()));
      ws.on('ping', () => peer.pings++);
      ws.on('close', () => (peer.closed = true));
      ws.on('error', () => {});
      this.peers.push(peer);
      this.onPeer(peer);
    });
  }

  get address(): string {
    return `127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }

  /** Sends `init` with a proof under `secret`; returns the `hello` token an honest balancer answers. */
  init(peer: Peer, opts: { id?: string; secret?: string } = {}): string {
    const id = opts.id ?? 'm1';
    const handshake = { balancerNonce: peer.nonce, monolithNonce: randomBytes(18).toString('base64url'), balancerId: peer.balancerId, monolithId: id };
    const token = linkProof(opts.secret ?? SECRET, 'monolith', handshake);
    peer.ws.send(JSON.stringify({ type: 'init', id, port: 1, nonce: handshake.monolithNonce, token, version: LINK_PROTOCOL_VERSION }));
    return linkProof(SECRET, 'balancer', handshake);
  }

  close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

interface Recorded {
  ready: number;
  down: string[];
  frames: { head: M2BHead; message: string | undefined }[];
  warnings: { msg: string; fields: Record<string, unknown> | undefined }[];
}

function recorder(): { handler: LinkHandler; log: Log; seen: Recorded } {
  const seen: Recorded = { ready: 0, down: [], frames: [], warnings: [] };
  const handler: LinkHandler = {
    ready: () => void seen.ready++,
    down: (_link, reason) => void seen.down.push(reason),
    frame: (_link, head, message) => void seen.frames.push({ head, message }),
  };
  const noop = (): void => {};
  const log: Log = { debug: noop, info: noop, error: noop, warn: (msg, fields) => void seen.warnings.push({ msg, fields }) };
  return { handler, log, seen };
}

const baseOptions: LinkOptions = { secret: SECRET, balancerId: 'b-unit', backoffMinMs: 1, backoffMaxMs: 5, heartbeatMs: 10_000, maxBufferBytes: 1 << 20 };

/** Yields to the event loop until `cond` holds: for tests whose setTimeout is faked. */
async function untilIo(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(opts: Partial<LinkOptions> = {}, server: { autoPong?: boolean } = {}) {
  const monolith = new FakeMonolith(server);
  await monolith.listening;
  const { handler, log, seen } = recorder();
  const link = new MonolithLink(monolith.address, { ...baseOptions, ...opts }, handler, log);
  cleanups.push(() => monolith.close(), () => link.stop());
  return { monolith, link, seen };
}

describe('MonolithLink handshake', () => {
  it('dials with a fresh nonce and its id (never the secret), verifies init, answers hello, then carries frames both ways', async () => {
    const { monolith, link, seen } = await setup();
    let expectedHello = '';
    monolith.onPeer = (peer) => (expectedHello = monolith.init(peer, { id: 'mono-7' }));
    link.start();

    await waitFor(() => seen.ready === 1, { what: 'link ready', timeoutMs: 5000 });
    const [peer] = monolith.peers;
    expect(peer!.nonce).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(peer!.balancerId).toBe('b-unit');
    expect(JSON.stringify(peer!.headers)).not.toContain(SECRET);
    expect(link.state).toBe('ready');
    expect(link.monolithId).toBe('mono-7');
    await waitFor(() => peer!.received.length === 1, { what: 'hello', timeoutMs: 5000 });
    expect(JSON.parse(peer!.received[0]!)).toEqual({ type: 'hello', token: expectedHello });

    peer!.ws.send(encodeWithMessage({ type: 'unicast', room: 'r1', id: 'b-unit:1' }, '{"op":1}'));
    peer!.ws.send(JSON.stringify({ type: 'broadcast', room: 'r2' }).replace('}', ',"message":{"op":2}}'));
    await waitFor(() => seen.frames.length === 2, { what: 'two frames', timeoutMs: 5000 });
    expect(seen.frames).toEqual([
      { head: { type: 'unicast', room: 'r1', id: 'b-unit:1' }, message: '{"op":1}' },
      { head: { type: 'broadcast', room: 'r2' }, message: '{"op":2}' },
    ]);

    expect(link.send('{"type":"leave","room":"r1","id":"b-unit:1"}')).toBe(true);
    await waitFor(() => peer!.received.length === 2, { what: 'frame at the monolith', timeoutMs: 5000 });
    expect(peer!.received[1]).toBe('{"type":"leave","room":"r1","id":"b-unit:1"}');
    expect(link.framesOut).toBe(1);
  });

  it('drops a frame that is not a valid M2B head without passing it on', async () => {
    const { monolith, link, seen } = await setup();
    monolith.onPeer = (peer) => monolith.init(peer);
    link.start();
    await waitFor(() => seen.ready === 1, { what: 'link ready', timeoutMs: 5000 });
    const peer = monolith.peers[0]!;
    peer.ws.send('{"type":"no-such-frame"}');
    peer.ws.send(JSON.stringify({ type: 'broadcast', room: 'r' }));
    await waitFor(() => seen.frames.length === 1, { what: 'the valid frame', timeoutMs: 5000 });
    expect(seen.frames[0]!.head).toEqual({ type: 'broadcast', room: 'r' });
    expect(seen.warnings.map((w) => w.msg)).toContain('invalid link frame dropped');
    expect(link.state).toBe('ready');
  });

  it('refuses an init whose proof was made with another secret: no hello, socket dropped, redialled', async () => {
    const { monolith, link, seen } = await setup();
    monolith.onPeer = (peer) => monolith.init(peer, { secret: 'some-other-secret-0123456789abcdef' });
    link.start();

    await waitFor(() => monolith.peers.length >= 2, { what: 'a redial after the bad proof', timeoutMs: 5000 });
    const first = monolith.peers[0]!;
    await waitFor(() => first.closed, { what: 'the first socket closed', timeoutMs: 5000 });
    expect(first.received).toEqual([]);
    expect(monolith.peers[1]!.nonce).not.toBe(first.nonce);
    expect(seen.ready).toBe(0);
    expect(link.state).not.toBe('ready');
    expect(seen.warnings.some((w) => /wrong proof of LINK_SECRET/.test(w.msg))).toBe(true);
    expect(link.send('{"type":"leave","room":"r","id":"x"}')).toBe(false);
  });

  it('refuses an init of another link version', async () => {
    const { monolith, link, seen } = await setup();
    monolith.onPeer = (peer) => {
      const monolithNonce = randomBytes(18).toString('base64url');
      const token = linkProof(SECRET, 'monolith', { balancerNonce: peer.nonce, monolithNonce, balancerId: peer.balancerId, monolithId: 'm1' });
      peer.ws.send(JSON.stringify({ type: 'init', id: 'm1', port: 1, nonce: monolithNonce, token, version: LINK_PROTOCOL_VERSION + 1 }));
    };
    link.start();
    await waitFor(() => monolith.peers[0]?.closed, { what: 'the socket dropped', timeoutMs: 5000 });
    expect(monolith.peers[0]!.received).toEqual([]);
    expect(seen.ready).toBe(0);
    expect(seen.warnings.some((w) => /malformed init or old link version/.test(w.msg))).toBe(true);
  });
});

describe('MonolithLink back-off', () => {
  it('redials after full-jitter delays that double per failed attempt, and starts over once a link was ready', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { monolith, link, seen } = await setup({ backoffMinMs: 1000, backoffMaxMs: 4000 });
    let handshakeOk = false;
    monolith.onPeer = (peer) => (handshakeOk ? monolith.init(peer) : peer.ws.terminate());
    link.start();

    // Failed attempts 0, 1, 2, 3: delays 0.5 × min(4000, 1000 × 2^n) = 500, 1000, 2000, 2000.
    for (const [attempt, delay] of [500, 1000, 2000, 2000].entries()) {
      await untilIo(() => link.state === 'backoff' && monolith.peers.length === attempt + 1, `back-off after dial ${attempt + 1}`);
      vi.advanceTimersByTime(delay - 1);
      expect(link.state).toBe('backoff');
      if (attempt === 3) handshakeOk = true;
      vi.advanceTimersByTime(1);
      expect(link.state).toBe('connecting');
    }
    await untilIo(() => seen.ready === 1, 'link ready');

    // A ready link that drops reports down and redials after the first attempt's delay again.
    monolith.peers.at(-1)!.ws.terminate();
    await untilIo(() => link.state === 'backoff', 'back-off after the ready link dropped');
    expect(seen.down).toHaveLength(1);
    expect(seen.down[0]).toMatch(/^closed 1006/);
    vi.advanceTimersByTime(499);
    expect(link.state).toBe('backoff');
    vi.advanceTimersByTime(1);
    expect(link.state).toBe('connecting');
    await untilIo(() => seen.ready === 2, 'link ready again');
    expect(monolith.peers).toHaveLength(6);
  });

  it('resets a monolith that accepts the socket but never sends init (after max(1 s, heartbeat))', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { monolith, link, seen } = await setup({ heartbeatMs: 200, backoffMinMs: 60_000, backoffMaxMs: 60_000 });
    link.start();
    await untilIo(() => link.state === 'handshaking', 'socket open');
    vi.advanceTimersByTime(999);
    expect(link.state).toBe('handshaking');
    vi.advanceTimersByTime(1);
    await untilIo(() => link.state === 'backoff', 'reset');
    expect(seen.warnings).toContainEqual({ msg: 'link reset', fields: expect.objectContaining({ reason: 'no init from monolith' }) });
    expect(monolith.peers).toHaveLength(1);
  });

  it('stop() ends a ready link for good: down("stopped") once, no redial', async () => {
    const { monolith, link, seen } = await setup();
    monolith.onPeer = (peer) => monolith.init(peer);
    link.start();
    await waitFor(() => seen.ready === 1, { what: 'link ready', timeoutMs: 5000 });
    link.stop();
    expect(link.state).toBe('stopped');
    expect(seen.down).toEqual(['stopped']);
    await waitFor(() => monolith.peers[0]!.closed, { what: 'socket closed', timeoutMs: 5000 });
    link.start();
    expect(link.state).toBe('stopped');
    expect(monolith.peers).toHaveLength(1);
  });
});

describe('MonolithLink heartbeat (the shared LinkWriter)', () => {
  it('pings a ready link every heartbeat and keeps it while the monolith answers', async () => {
    const { monolith, link, seen } = await setup({ heartbeatMs: 20 });
    monolith.onPeer = (peer) => monolith.init(peer);
    link.start();
    await waitFor(() => seen.ready === 1, { what: 'link ready', timeoutMs: 5000 });
    await waitFor(() => monolith.peers[0]!.pings >= 4, { what: 'four pings', timeoutMs: 5000 });
    expect(seen.down).toEqual([]);
    expect(link.state).toBe('ready');
  });

  it('resets a ready link whose monolith stops answering pings, reports it down and redials', async () => {
    const { monolith, link, seen } = await setup({ heartbeatMs: 20 }, { autoPong: false });
    monolith.onPeer = (peer) => monolith.init(peer);
    link.start();
    // Every redialled link fails the same way, so counts only grow: compare with >=.
    await waitFor(() => seen.down.length >= 1, { what: 'link down', timeoutMs: 3000 });
    expect(seen.warnings).toContainEqual({ msg: 'link reset', fields: expect.objectContaining({ reason: 'heartbeat missed' }) });
    // The writer saw one unanswered interval, not zero: it pinged before it gave up.
    expect(monolith.peers[0]!.pings).toBeGreaterThanOrEqual(1);
    expect(seen.down[0]).toMatch(/^closed 1006/);
    await waitFor(() => seen.ready >= 2, { what: 'redialled link ready', timeoutMs: 3000 });
  });
});
