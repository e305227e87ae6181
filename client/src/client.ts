import type { AuthFrame, Recovered, StreamPosition, WelcomeData } from '@gateway/protocol';
import { ApiEvent, closeCodeName, ErrorCode, fullJitter, isErrorCode, ServerEvent } from '@gateway/protocol/codes';
import { ClientErrorCode, GatewayError } from './errors.js';
import { LOCAL_EVENTS, type EventData, type EventHandler, type EventName } from './events.js';
import { namesIn, positionOf, StreamPositions, type Recovery, type SpectateReply } from './positions.js';
import { ReconnectPolicy } from './reconnect.js';
import type { SocketFactory, SocketLike } from './socket.js';
import { expiryMs, type ClientOptions, type State } from './options.js';

export type { ClientOptions, State } from './options.js';

interface Pending {
  resolve(data: unknown): void;
  reject(err: GatewayError): void;
  timer: ReturnType<typeof setTimeout>;
  /**
   * Extra replies with the same `_id` (streamed pool chunks) go here instead; true on the last.
   * Such a request, rejected by an `error`, still has its chunks up to a `finished` one dropped.
   */
  chunk?: (data: unknown) => boolean;
}
interface Spectation {
  guild_id: string;
  include_logs: boolean;
  /** The streams the last reply named (positions are kept for these). */
  streams: string[];
}

/** Resubscription requests answered with these are sent again after a back-off. */
const RETRIED: ReadonlySet<string> = new Set([ErrorCode.UNAVAILABLE, ErrorCode.RATE_LIMITED]);
const RESUBSCRIBE_ATTEMPTS = 8;
/** Refused streamed requests whose final chunk is awaited (see `refusedStreams`). */
const MAX_REFUSED_STREAMS = 1000;

// The data is the server's, unvalidated: `user` is read as possibly absent.
const sameSession = (a: WelcomeData, b: WelcomeData) => a.room === b.room && a.user?.id === b.user?.id;

/** The `GatewayError` of an `error` frame: its catalogued code (else `internal`), message and human text. */
const errorOf = (msg: Record<string, unknown>) =>
  new GatewayError(isErrorCode(msg.code) ? msg.code : ErrorCode.INTERNAL, String(msg.message), msg.human as string | undefined);

/**
 * A gateway connection: `auth` first, requests matched by `_id`, pushes by event name, token
 * refresh before expiry, full-jitter reconnects on reconnect-range close codes, and delivery
 * recovery (DESIGN §10): the last position of every stream is tracked from positioned pushes
 * and replies, a push at or below it is dropped, and after a reconnect (`since` in `auth`) or
 * a `resync` (`recover`) the current `spectate` is re-issued once with `since`; the outcome is
 * the `recovery` event.
 */
export class GatewayClient {
  state: State = 'connecting';
  /** The last `welcome`'s data. */
  welcome: WelcomeData | undefined;
  /** Positioned pushes dropped because their offset was already seen (should stay 0). */
  duplicatesDropped = 0;
  private ws: SocketLike | undefined;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly pending = new Map<number | string, Pending>();
  /**
   * Streamed requests (pools) rejected by an `error`: every pool refusal is followed by its
   * final chunk, which answers that request and reaches no listener. Dropped once `finished`
   * arrives, or with the socket (ids are never reused).
   */
  private readonly refusedStreams = new Set<number | string>();
  private queue: Array<() => void> = [];
  private nextId = 1;
  private readonly policy: ReconnectPolicy;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private spectating: Spectation | undefined;
  private readonly positions = new StreamPositions();
  /** The session's streams (its room's or its user's), from the last `welcome`. */
  private sessionStreams: string[] = [];
  /** Bumped per socket: work started for an older socket does not report. */
  private socketSeq = 0;
  private welcomedOnSocket = false;
  private dials = 0;

  constructor(private readonly opts: ClientOptions) {
    this.policy = new ReconnectPolicy(opts.reconnect);
    void this.open();
  }

  /**
   * Subscribes to a push or reply-less server event by name, or to the SDK's `state`, `error`,
   * `recovery` and `close`; returns an unsubscribe. `data` is typed per name (`GatewayEvents`),
   * `unknown` for names the protocol does not define; the second argument is the whole frame.
   */
  on<E extends EventName>(event: E, handler: EventHandler<E>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    // Stored by name: emit() passes each handler the data of its own event.
    const h = handler as EventHandler;
    set.add(h);
    return () => set.delete(h);
  }

  /** Sends a request and resolves with its reply's `data`; queued while (re)connecting. */
  request<T = unknown>(event: string, data?: unknown, opts: { timeout?: number; chunk?: (data: unknown) => boolean } = {}): Promise<T> {
    return this.call<T>(event, () => data, opts);
  }

  /**
   * Spectates one guild (replacing the previous) and remembers it: after a reconnect or a
   * `resync` it is re-issued with the positions of its streams, so only what was missed follows.
   */
  spectate(guildId: string, includeLogs = false): Promise<SpectateReply> {
    const prev = this.spectating;
    if (!prev || prev.guild_id !== guildId || prev.include_logs !== includeLogs) {
      // Another subscription: the old streams' positions would replay what no one asked for.
      if (prev) this.positions.forget(prev.streams);
      this.spectating = { guild_id: guildId, include_logs: includeLogs, streams: [] };
    }
    return this.respectate().then((r) => r.reply);
  }

  /**
   * `recover`: asks for what the session's streams (its room's or its user's) missed since their
   * last positions; resolves with which were recovered (the missed pushes follow the reply).
   * The client calls it by itself on `resync`.
   */
  async recover(): Promise<Recovered> {
    const streams = this.sessionStreams;
    const reply = await this.call<{ recovered?: unknown; positions?: unknown }>(ApiEvent.RECOVER, () => ({ since: this.positions.since(streams) }));
    return this.positions.settle(streams, reply?.recovered, reply?.positions);
  }

  /** The last position seen of a stream (from a push or a reply), if any. */
  position(stream: string): StreamPosition | undefined {
    return this.positions.get(stream);
  }

  close(): void {
    this.setState('closed');
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
    this.failAll(new GatewayError(ClientErrorCode.CLOSED, 'the client was closed'));
    this.ws?.close(1000, 'client closed');
  }

  /** `data` is read when the frame is sent: a queued request carries positions current then. */
  private call<T>(event: string, data: () => unknown, opts: { timeout?: number; chunk?: (data: unknown) => boolean } = {}): Promise<T> {
    if (this.state === 'closed') return Promise.reject(new GatewayError(ClientErrorCode.CLOSED, 'the client is closed'));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GatewayError(ClientErrorCode.TIMEOUT, `${event} got no reply in time`));
      }, opts.timeout ?? this.opts.requestTimeoutMs ?? 10_000);
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer, ...(opts.chunk ? { chunk: opts.chunk } : {}) });
      const send = () => this.ws?.send(JSON.stringify({ event, _id: id, data: data() }));
      if (this.state === 'open') return send();
      if (this.queue.length >= (this.opts.maxQueued ?? 100)) {
        clearTimeout(timer);
        this.pending.delete(id);
        return reject(new GatewayError(ClientErrorCode.QUEUE_FULL, 'too many requests waiting for the connection'));
      }
      this.queue.push(send);
    });
  }

  /** Sends the current spectation with `since`; `recovered` covers the streams it had before. */
  private async respectate(): Promise<{ reply: SpectateReply; recovered: Recovered }> {
    const target = this.spectating!;
    const expected = target.streams;
    const reply = await this.call<SpectateReply>(ApiEvent.SPECTATE, () => {
      const since = this.positions.since(target.streams);
      return { guild_id: target.guild_id, include_logs: target.include_logs, ...(Object.keys(since).length ? { since } : {}) };
    });
    // Spectating something else meanwhile: that request owns the positions now.
    if (this.spectating !== target) return { reply, recovered: {} };
    target.streams = namesIn(reply.streams) ?? target.streams;
    return { reply, recovered: this.positions.settle(expected, reply.recovered, reply.positions) };
  }

  /**
   * One resubscription per trigger: the session part (already known, or a `recover`), then the
   * spectation re-issued with `since`; `recovery` reports both. `unavailable` (history cannot be
   * read now) is retried with back-off; a request refused for good counts as not recovered; one
   * cut by a disconnect reports nothing (the reconnect will).
   */
  private resubscribe(trigger: Recovery['trigger'], session: () => Promise<Recovered>): void {
    const seq = this.socketSeq;
    const persist = async <T>(attempt: () => Promise<T>): Promise<T> => {
      for (let n = 1; ; n++) {
        try {
          return await attempt();
        } catch (err) {
          if (!(err instanceof GatewayError) || !RETRIED.has(err.code) || n >= RESUBSCRIBE_ATTEMPTS || seq !== this.socketSeq) throw err;
          await new Promise((resolve) => setTimeout(resolve, fullJitter(n, 100, 2000)));
        }
      }
    };
    const expected = this.spectating?.streams ?? [];
    const refused = (err: unknown, streams: readonly string[]): Recovered => {
      if (err instanceof GatewayError && (err.code === ClientErrorCode.DISCONNECTED || err.code === ClientErrorCode.CLOSED)) throw err;
      this.positions.forget(streams);
      return Object.fromEntries(streams.map((s) => [s, false]));
    };
    const sessionStreams = this.sessionStreams;
    const guild = this.spectating ? persist(() => this.respectate()).then((r) => r.recovered) : Promise.resolve({});
    Promise.all([persist(session).catch((err: unknown) => refused(err, sessionStreams)), guild.catch((err: unknown) => refused(err, expected))]).then(
      ([a, b]) => {
        if (seq === this.socketSeq && this.state !== 'closed') this.emit('recovery', { trigger, streams: { ...a, ...b } });
      },
      () => {},
    );
  }

  private async open(): Promise<void> {
    if (this.state === 'closed') return;
    this.setState(this.state === 'reconnecting' ? 'reconnecting' : 'connecting');
    let token: string;
    try {
      // Through a promise: a getToken that throws synchronously rejects like an async one, so on
      // the first connect the error is reported after connect() returned, to its listeners.
      token = await new Promise<string>((resolve) => resolve(this.opts.getToken()));
    } catch (err) {
      this.emit('error', new GatewayError(ClientErrorCode.TOKEN, `getToken failed: ${(err as Error).message}`));
      return this.retry(1006);
    }
    // close() may have run while the token was being fetched.
    if ((this.state as State) === 'closed') return;
    const Socket = this.opts.WebSocket ?? (globalThis as unknown as { WebSocket: SocketFactory }).WebSocket;
    const urls = typeof this.opts.url === 'string' ? [this.opts.url] : this.opts.url;
    const ws = new Socket(urls[this.dials++ % urls.length]!);
    this.ws = ws;
    this.socketSeq++;
    this.welcomedOnSocket = false;
    ws.onopen = () => {
      this.setState('authenticating');
      const since = this.positions.since(this.sessionStreams);
      ws.send(JSON.stringify({ action: 'auth', token, ...(this.opts.room ? { room: this.opts.room } : {}), ...(Object.keys(since).length ? { since } : {}) } satisfies AuthFrame));
      this.scheduleRefresh(token);
    };
    ws.onmessage = (ev) => this.receive(String(ev.data));
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      clearTimeout(this.refreshTimer);
      this.failAll(new GatewayError(ClientErrorCode.DISCONNECTED, `connection closed (${ev.code})`));
      this.emit('close', { code: ev.code, reason: ev.reason, name: closeCodeName(ev.code) });
      this.retry(ev.code);
    };
  }

  private retry(code: number): void {
    if (this.state === 'closed') return;
    const delay = this.policy.next(code);
    if (delay === undefined) {
      this.emit('error', new GatewayError(ClientErrorCode.TERMINAL_CLOSE, `closed with terminal code ${code} (${closeCodeName(code) ?? 'uncatalogued'})`, undefined, code));
      return this.close();
    }
    this.setState('reconnecting');
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }

  private receive(text: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const event = String(msg.event);
    const id = msg._id as number | string | undefined;
    if (event === ServerEvent.WELCOME) this.welcomed(msg.data as WelcomeData);
    // The session moved to another monolith (its re-join `welcome` came just before): the one trigger.
    if (event === ServerEvent.RESYNC) this.resubscribe('resync', () => this.recover());
    if (event === ApiEvent.SPECTATE_REVOKED) this.revoked(msg.data as { guild_id?: unknown; spectating?: unknown } | undefined);
    const p = id === undefined ? undefined : this.pending.get(id);
    if (p) {
      if (event === ServerEvent.ERROR) {
        this.settle(id!, p);
        if (p.chunk) this.refuse(id!);
        return p.reject(errorOf(msg));
      }
      if (p.chunk && !p.chunk(msg.data)) return; // more chunks to come
      this.settle(id!, p);
      return p.resolve(msg.data);
    }
    if (id !== undefined && this.refusedStreams.has(id)) {
      if ((msg.data as { finished?: unknown } | undefined)?.finished === true) this.refusedStreams.delete(id);
      return;
    }
    const lost = event === ServerEvent.STREAM_GAP ? this.positions.gap(msg.data) : undefined;
    if (lost) this.emit('recovery', { trigger: 'gap', streams: { [lost]: false } });
    const at = positionOf(msg);
    if (at) {
      const arrival = this.positions.accept(at.stream, at.offset, at.epoch);
      if (arrival === 'duplicate') {
        this.duplicatesDropped++;
        return;
      }
      if (arrival === 'epoch_changed') this.emit('recovery', { trigger: 'epoch', streams: { [at.stream]: false } });
    }
    // An `error` that answers no pending request (a refused token refresh has no `_id`).
    if (event === ServerEvent.ERROR) return this.emit('error', errorOf(msg), msg);
    // Only the SDK emits these: a push by such a name would reach handlers typed for the SDK's data.
    if (LOCAL_EVENTS.has(event)) return;
    this.emit(event, msg.data, msg);
  }

  private welcomed(data: WelcomeData): void {
    const previous = this.welcome;
    const newSocket = !this.welcomedOnSocket;
    this.welcomedOnSocket = true;
    this.welcome = data;
    const before = this.sessionStreams;
    this.sessionStreams = namesIn(data.streams) ?? [];
    this.policy.reset();
    this.setState('open');
    const queued = this.queue;
    this.queue = [];
    for (const send of queued) send();
    if (previous === undefined) {
      this.positions.settle([], undefined, data.positions);
      return;
    }
    if (newSocket) {
      // A new connection: the auth frame's `since` was answered here; the spectation follows.
      const session = this.positions.settle(before, data.recovered, data.positions);
      return this.resubscribe('reconnect', async () => session);
    }
    // The same identity again on this socket: a re-join after a failover or drain, whose
    // `resync` comes next and is the one trigger (re-spectating here too would do it twice).
    if (sameSession(previous, data)) return;
    // An elevation: a new session (the old one's streams are gone), the spectation re-issued.
    this.positions.forget(before);
    this.positions.settle([], undefined, data.positions);
    this.resubscribe('elevation', async () => ({}));
  }

  private revoked(data: { guild_id?: unknown; spectating?: unknown } | undefined): void {
    const current = this.spectating;
    if (!current || data?.guild_id !== current.guild_id || data.spectating !== false) return;
    this.positions.forget(current.streams);
    this.spectating = undefined;
  }

  private scheduleRefresh(token: string): void {
    clearTimeout(this.refreshTimer);
    const exp = expiryMs(token);
    if (exp === undefined) return;
    const at = Math.max(1000, exp - Date.now() - (this.opts.refreshBeforeMs ?? 30_000));
    this.refreshTimer = setTimeout(async () => {
      try {
        const fresh = await this.opts.getToken();
        this.ws?.send(JSON.stringify({ action: 'auth', token: fresh } satisfies AuthFrame));
        this.scheduleRefresh(fresh);
      } catch (err) {
        this.emit('error', new GatewayError(ClientErrorCode.TOKEN, `token refresh failed: ${(err as Error).message}`));
      }
    }, at);
  }

  private settle(id: number | string, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
  }

  private refuse(id: number | string): void {
    // Bounded should a server send no final chunk: the oldest is forgotten first.
    if (this.refusedStreams.size >= MAX_REFUSED_STREAMS) this.refusedStreams.delete(this.refusedStreams.values().next().value!);
    this.refusedStreams.add(id);
  }

  private failAll(err: GatewayError): void {
    this.refusedStreams.clear();
    for (const [id, p] of this.pending) {
      this.settle(id, p);
      p.reject(err);
    }
    this.queue = [];
  }

  private setState(state: State): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private emit<E extends EventName>(event: E, data: EventData<E>, msg: Record<string, unknown> = {}): void {
    for (const h of this.handlers.get(event) ?? []) h(data, msg);
  }
}
