import { Metrics, type Log, type TokenFailure, type VerifyResult } from '@gateway/server-kit';
import { Admission } from '../balancer/src/admission.js';
import { Sessions, type Session, type SocketData } from '../balancer/src/client-session.js';
import { loadConfig } from '../balancer/src/config.js';
import type { MonolithLink } from '../balancer/src/monolith-link.js';
import type { Router } from '../balancer/src/routing/router.js';
import type { WebSocket } from '../balancer/src/uws.js';

/**
 * The balancer's `Sessions` for unit tests, over a uWS socket stand-in, a recording monolith link
 * and a scripted verifier (balancer/src/client-session*.test.ts).
 */

/** A uWS socket stand-in: records topics, sends and the close; `end` does not call `closed`. */
export class FakeUwsSocket {
  readonly topics = new Set<string>();
  readonly sent: string[] = [];
  ended: { code: number; reason: string } | undefined;
  private readonly data: SocketData;
  constructor(session: Session) {
    this.data = { session };
  }
  getUserData(): SocketData {
    return this.data;
  }
  subscribe(topic: string): boolean {
    this.topics.add(topic);
    return true;
  }
  unsubscribe(topic: string): boolean {
    return this.topics.delete(topic);
  }
  getTopics(): string[] {
    return [...this.topics];
  }
  send(text: string): number {
    this.sent.push(text);
    return 1;
  }
  getBufferedAmount(): number {
    return 0;
  }
  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }
}

export const bytes = (text: string): ArrayBuffer => new TextEncoder().encode(text).buffer as ArrayBuffer;

/** Lets resolved verifications apply (Sessions awaits the verifier). */
export const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A verification the test settles itself, to order it against other frames and closes. */
export interface HeldVerification {
  readonly token: string;
  /** Resolves it as valid, then lets it apply. */
  accept(): Promise<void>;
  /** Resolves it as refused for `reason`, then lets it apply. */
  refuse(reason: TokenFailure): Promise<void>;
}

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Sessions over a fake link and a verifier that accepts any token valid for an hour, its subject
 * being the token without a `slow-`/`bad-`/`held-` prefix and a `#…` suffix (`held-alice#2` is a
 * new token of alice's). `slow-…` never finishes verifying, `bad-…` is refused (`invalid`),
 * `held-…` waits in `held` until the test settles it. Strict: an event the state table does not
 * allow throws.
 */
export function sessionsHarness(env: Record<string, string> = {}) {
  const config = loadConfig({ JWT_SECRET: 'unit-jwt-secret-0123456789', LINK_SECRET: 'unit-link-secret-0123456789', MONOLITHS: '127.0.0.1:1', ...env });
  const toLink: string[] = [];
  const link = { send: (frame: string) => (toLink.push(frame), true) } as unknown as MonolithLink;
  const routing = { linked: true };
  // The sessions' clock: a test moves it forward instead of waiting.
  const clock = { ms: Date.now() };
  const router = { pick: () => (routing.linked ? link : undefined) } as unknown as Router;
  const held: HeldVerification[] = [];
  const valid = (token: string): VerifyResult => {
    const subject = token.replace(/^(slow|bad|held)-/, '').split('#')[0]!;
    const expMs = clock.ms + 3_600_000;
    return { ok: true, subject, guest: false, expMs, claims: { sub: subject, exp: Math.floor(expMs / 1000) } };
  };
  const verify = (token: string): Promise<VerifyResult> => {
    if (token.startsWith('slow')) return new Promise(() => {});
    if (token.startsWith('bad')) return Promise.resolve({ ok: false, reason: 'invalid', detail: 'bad signature' });
    if (token.startsWith('held')) {
      return new Promise((resolve) => {
        held.push({
          token,
          accept: () => (resolve(valid(token)), settle().then(() => {})),
          refuse: (reason) => (resolve({ ok: false, reason, detail: reason }), settle().then(() => {})),
        });
      });
    }
    return Promise.resolve(valid(token));
  };
  const admission = new Admission(config, clock.ms);
  const sessions = new Sessions({ config, router, verify, admission, metrics: new Metrics(), log: silent, strict: true, now: () => clock.ms });
  /** A socket as `upgrade` and `open` leave it: admitted from `source`, awaiting its auth frame. */
  const open = (source = '203.0.113.1', pathRoom?: string) => {
    const s = sessions.create(pathRoom);
    const refused = admission.admit(source, sessions.all.size, clock.ms);
    if (refused !== undefined) throw new Error(`admission refused the test socket: ${refused}`);
    s.source = source;
    const ws = new FakeUwsSocket(s);
    sessions.opened(ws as unknown as WebSocket<SocketData>);
    return { s, ws, socket: ws as unknown as WebSocket<SocketData> };
  };
  /** An architus-dialect socket (`/authenticated`), with the sign-in cookie's token if given. */
  const openArchitus = (source = '203.0.113.1', cookie?: string) => {
    const s = sessions.create(undefined, true);
    const refused = admission.admit(source, sessions.all.size, clock.ms);
    if (refused !== undefined) throw new Error(`admission refused the test socket: ${refused}`);
    s.source = source;
    s.cookie = cookie;
    const ws = new FakeUwsSocket(s);
    sessions.opened(ws as unknown as WebSocket<SocketData>);
    return { s, ws, socket: ws as unknown as WebSocket<SocketData> };
  };
  const send = (socket: WebSocket<SocketData>, frame: object | string) =>
    sessions.message(socket, bytes(typeof frame === 'string' ? frame : JSON.stringify(frame)), false);
  /** Sends an auth frame and waits for the (asynchronous) verification to apply. */
  const auth = async (socket: WebSocket<SocketData>, token: string) => {
    send(socket, { action: 'auth', token });
    await settle();
  };
  return { sessions, admission, link, toLink, open, openArchitus, send, auth, routing, config, clock, held };
}
