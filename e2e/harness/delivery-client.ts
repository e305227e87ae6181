import { ApiEvent, ErrorCode, ServerEvent, fullJitter, guildLogsStream, roomStream, type Since, type StreamPosition } from '@gateway/protocol';
import type { CloseInfo, Msg, TestClient } from './client.js';
import { Changes } from './delivery-changes.js';
import { ackedOrder, nextOrder } from './delivery-order.js';
import { isReconnectCode, reconnectUntilWelcome, type Reconnected } from './reconnect.js';

/**
 * The delivery contract (DESIGN §10) checked from the client side, on raw sockets (not the SDK):
 * `DeliveryClient` tracks its positions per stream, recovers as a client must (re-spectate with
 * `since` and `recover` on `resync`; reconnect with `since` after a reconnect close), and logs
 * every positioned push and every "reload" it was told. `Publisher` (delivery-publisher.ts)
 * posts the numbered publications; delivery-report.ts compares the two.
 */

/** One entry of a client's log, in arrival order. */
export type Mark =
  | { kind: 'push'; stream: string; offset: number; epoch: string; id: string }
  /** A position adopted from a reply (`positions`) for a stream the client held none of: pushes follow it. */
  | { kind: 'start'; stream: string; offset: number; epoch: string }
  /** The client was told it cannot recover: `recovered: false`, or a push under a new epoch. */
  | { kind: 'told'; stream: string; how: string };

export interface DeliverySpec {
  label: string;
  token: string;
  room: string;
  guild: string;
  /** Balancer URLs: the first is used first; reconnects go round the list from the next one. */
  urls: string[];
}

const REQUEST_TIMEOUT_MS = 10_000;
const isPositioned = (m: Msg): m is Msg & { stream: string; offset: number; epoch: string } =>
  typeof m.stream === 'string' && typeof m.offset === 'number' && typeof m.epoch === 'string';
const isGuildStream = (stream: string): boolean => stream.startsWith('guild:');

export class DeliveryClient {
  readonly log: Mark[] = [];
  readonly positions = new Map<string, StreamPosition>();
  /** Error replies, failed reconnects, terminal closes: each is a problem in itself. */
  readonly errors: string[] = [];
  readonly closes: CloseInfo[] = [];
  /** Requests answered `unavailable` and sent again (not a problem: a client retries those). */
  readonly retried: string[] = [];
  welcomes = 0;
  resyncs = 0;
  /** Resyncs handled (recover and re-spectate answered). */
  resynced = 0;
  /** Reconnects completed (welcome and spectate answered on a new socket). */
  reconnects = 0;
  /** Pushes that came from history: acknowledged before this client sent the `since` they follow. */
  replayed = 0;
  monolith = '';
  url = '';
  private current: TestClient | undefined;
  private connecting = false;
  private terminated = false;
  private readonly stop = new AbortController();
  private nextId = 0;
  private sinceAt = 0;
  private hold: (() => Promise<unknown>) | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly changes = new Changes();

  constructor(readonly spec: DeliverySpec) {}

  /** The streams this client must receive: its guild's logs and its room's broadcasts. */
  get streams(): string[] {
    return [guildLogsStream(this.spec.guild), roomStream(this.spec.room)];
  }

  /** Connects, authenticates and spectates; resolves once the spectate reply is in. */
  start(): Promise<void> {
    return this.enqueue(() => this.connectLoop(0, true));
  }

  /** Cuts the socket without a close frame, as a network drop would; the client reconnects. */
  terminate(): void {
    this.terminated = true;
    this.current?.ws.terminate();
  }

  /**
   * The next recovery (resync handling or reconnect) starts only once `until()`, called when it
   * would start, resolves: a slow client, so that its gap surely holds publications (a
   * condition, never a sleep).
   */
  holdRecovery(until: () => Promise<unknown>): void {
    this.hold = until;
  }

  close(): void {
    this.stop.abort();
    this.current?.close();
  }

  /**
   * Resolves once `pred` holds, re-checked on every message and state change (never polled);
   * rejects after `timeoutMs` with what this client has seen.
   */
  until(pred: (c: DeliveryClient) => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.changes.until(() => pred(this), timeoutMs, () => `${this.spec.label}: no ${what} within ${timeoutMs} ms; ${this.summary()}`);
  }

  /** True once this client holds each position (same epoch, offset at least as high). */
  holds(targets: ReadonlyMap<string, StreamPosition>): boolean {
    for (const [stream, want] of targets) {
      const held = this.positions.get(stream);
      if (!held || held.epoch !== want.epoch || held.offset < want.offset) return false;
    }
    return true;
  }

  /**
   * A ping round trip on the current socket: the owner answers it after every push it sent
   * before, on the same link and socket, so nothing that was on its way is still missing.
   */
  async roundTrip(): Promise<void> {
    const c = this.current;
    if (!c) throw new Error(`${this.spec.label}: no socket`);
    const reply = await c.request('ping', `rt${this.nextId++}`, undefined, REQUEST_TIMEOUT_MS);
    if (reply.event !== ServerEvent.PONG) throw new Error(`${this.spec.label}: ping answered ${JSON.stringify(reply)}`);
  }

  /** `history {stream, limit}` on the current socket: the reply (or an error). */
  history(stream: string, limit = 1000): Promise<Msg> {
    const c = this.current;
    if (!c) throw new Error(`${this.spec.label}: no socket`);
    return c.request(ApiEvent.HISTORY, `h${this.nextId++}`, { stream, limit }, REQUEST_TIMEOUT_MS);
  }

  summary(): string {
    const pos = [...this.positions].map(([s, p]) => `${s}@${p.offset}/${p.epoch}`).join(' ');
    return `url ${this.url}, monolith ${this.monolith}, welcomes ${this.welcomes}, resyncs ${this.resyncs}/${this.resynced}, reconnects ${this.reconnects}, replayed ${this.replayed}, retried ${this.retried.length}, closes ${JSON.stringify(this.closes)}, positions ${pos}, errors ${JSON.stringify(this.errors).slice(0, 600)}`;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch((err: unknown) => {
      this.errors.push((err as Error).message);
      this.changes.changed();
    });
    return run;
  }

  private sinceOf(guild: boolean): Since {
    const out: Since = {};
    for (const [stream, pos] of this.positions) if (isGuildStream(stream) === guild) out[stream] = { offset: pos.offset, epoch: pos.epoch };
    if (Object.keys(out).length) this.sinceAt = nextOrder();
    return out;
  }

  private onMessage(msg: Msg): void {
    if (isPositioned(msg)) {
      const held = this.positions.get(msg.stream);
      if (held && held.epoch !== msg.epoch) this.log.push({ kind: 'told', stream: msg.stream, how: `push under epoch ${msg.epoch} after ${held.epoch}` });
      this.log.push({ kind: 'push', stream: msg.stream, offset: msg.offset, epoch: msg.epoch, id: String(msg.data?.id) });
      const at = ackedOrder(msg.stream, msg.epoch, msg.offset);
      if (at !== undefined && at < this.sinceAt && (!held || held.epoch !== msg.epoch || msg.offset > held.offset)) this.replayed++;
      if (!held || held.epoch !== msg.epoch || msg.offset > held.offset) this.positions.set(msg.stream, { offset: msg.offset, epoch: msg.epoch });
    } else {
      const recovered = (msg.data?.recovered ?? {}) as Record<string, unknown>;
      const positions = (msg.data?.positions ?? {}) as Record<string, StreamPosition>;
      for (const [stream, ok] of Object.entries(recovered)) {
        if (ok !== false) continue;
        this.log.push({ kind: 'told', stream, how: `recovered: false in ${msg.event}` });
        // Reloading: the stream starts again where the reply says, or at the next push.
        this.positions.delete(stream);
      }
      for (const [stream, pos] of Object.entries(positions)) {
        if (this.positions.has(stream) || typeof pos?.offset !== 'number' || typeof pos.epoch !== 'string') continue;
        this.positions.set(stream, { offset: pos.offset, epoch: pos.epoch });
        this.log.push({ kind: 'start', stream, offset: pos.offset, epoch: pos.epoch });
      }
      if (msg.event === ServerEvent.WELCOME) {
        this.welcomes++;
        this.monolith = String(msg.data?.monolith);
      } else if (msg.event === ServerEvent.RESYNC) {
        this.resyncs++;
        void this.enqueue(() => this.resync()).catch(() => {});
      } else if (msg.event === ServerEvent.ERROR && msg._id === undefined) {
        // Errors answering a request are handled (and recorded) by the request.
        this.errors.push(JSON.stringify(msg));
      }
    }
    this.changes.changed();
  }

  private attach(c: TestClient): void {
    c.ws.on('message', (data: Buffer) => {
      try {
        this.onMessage(JSON.parse(data.toString('utf8')) as Msg);
      } catch (err) {
        this.errors.push(`unparsable frame: ${(err as Error).message}`);
      }
    });
    c.ws.on('close', (code: number, reason: Buffer) => {
      if (c !== this.current || this.connecting) return;
      this.closes.push({ code, reason: reason.toString('utf8') });
      const byTest = this.terminated;
      this.terminated = false;
      if (this.stop.signal.aborted) return;
      if (byTest || isReconnectCode(code)) void this.enqueue(() => this.connectLoop(1, false)).catch(() => {});
      else this.errors.push(`terminal close ${code} ${reason.toString('utf8')}`);
      this.changes.changed();
    });
  }

  /** Connect, `auth` with the session streams' `since`, then spectate with the guild's. */
  private async connectLoop(urlStep: number, first: boolean): Promise<void> {
    this.connecting = true;
    try {
      await this.held();
      let session: Reconnected;
      try {
        session = await reconnectUntilWelcome(this.spec.urls, this.spec.token, this.spec.room, {
          maxAttempts: 30,
          start: Math.max(this.spec.urls.indexOf(this.url) + urlStep, 0),
          backOffFirst: !first,
          welcomeTimeoutMs: REQUEST_TIMEOUT_MS,
          signal: this.stop.signal,
          // Attached before auth, so the welcome itself (its `recovered`, `positions`) is logged.
          onSocket: (c) => {
            this.current = c;
            this.attach(c);
          },
          authFrame: (frame) => {
            const since = this.sinceOf(false);
            return { ...frame, ...(Object.keys(since).length ? { since } : {}) };
          },
        });
      } catch (err) {
        if (this.stop.signal.aborted && err === this.stop.signal.reason) return;
        throw new Error(`${this.spec.label}: no session: ${(err as Error).message}`);
      }
      const { client: c, url } = session;
      this.url = url;
      this.connecting = false;
      try {
        await this.spectate(c);
      } catch (err) {
        // Closed meanwhile: the close handler has queued the next reconnect.
        if (c.isClosed) return;
        throw err;
      }
      if (!first) this.reconnects++;
    } finally {
      this.connecting = false;
      this.changes.changed();
    }
  }

  /** `resync` (the room moved): `recover` the session stream, re-spectate with positions. */
  private async resync(): Promise<void> {
    await this.held();
    const c = this.current;
    if (!c || c.isClosed) return;
    try {
      await this.retrying(c, ApiEvent.RECOVER, () => ({ since: this.sinceOf(false) }));
      await this.spectate(c);
    } catch (err) {
      // Closed meanwhile: the reconnect (queued by the close handler) recovers with `since`.
      if (c.isClosed) return;
      throw err;
    }
    this.resynced++;
  }

  private async held(): Promise<void> {
    const hold = this.hold;
    this.hold = undefined;
    await hold?.();
  }

  private spectate(c: TestClient): Promise<void> {
    return this.retrying(c, ApiEvent.SPECTATE, () => {
      const since = this.sinceOf(true);
      return { guild_id: this.spec.guild, include_logs: true, ...(Object.keys(since).length ? { since } : {}) };
    });
  }

  /** A request, sent again (after a back-off) while the answer is `unavailable`, as a client would. */
  private async retrying(c: TestClient, event: string, data: () => object): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, fullJitter(attempt, 100, 1000)));
      const reply = await c.request(event, `${event}${this.nextId++}`, data(), REQUEST_TIMEOUT_MS);
      if (reply.event === event) return;
      this.retried.push(`${event}: ${reply.code}`);
      if (reply.code !== ErrorCode.UNAVAILABLE) throw new Error(`${this.spec.label}: ${event} answered ${JSON.stringify(reply)}`);
    }
    throw new Error(`${this.spec.label}: ${event} still unavailable after 10 attempts`);
  }
}
