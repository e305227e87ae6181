import { closeCodeName } from '@gateway/protocol/codes';
import { GatewayError } from './errors.js';
import { ReconnectPolicy, type ReconnectOptions } from './reconnect.js';

export type State = 'connecting' | 'authenticating' | 'open' | 'reconnecting' | 'closed';

/** The subset of the WebSocket API the client uses: the browser's, or the `ws` package's. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type SocketFactory = new (url: string) => SocketLike;

export interface ClientOptions {
  /** A balancer URL, or several: each reconnect attempt moves to the next one. */
  url: string | readonly string[];
  /** Called before every (re)connect and before the token expires; may mint a fresh token. */
  getToken: () => string | Promise<string>;
  room?: string;
  /** Defaults to the global WebSocket (browsers, Node 22+); pass `ws`'s class in Node 20. */
  WebSocket?: SocketFactory;
  requestTimeoutMs?: number;
  reconnect?: ReconnectOptions;
  /** Refresh the token this long before its `exp`. */
  refreshBeforeMs?: number;
  /** Requests kept while reconnecting; more are refused with `queue_full`. */
  maxQueued?: number;
}

type Handler = (data: unknown, message: Record<string, unknown>) => void;
interface Pending {
  resolve(data: unknown): void;
  reject(err: GatewayError): void;
  timer: ReturnType<typeof setTimeout>;
  /** Extra replies with the same `_id` (streamed pool chunks) go here instead. */
  chunk?: (data: unknown) => boolean;
}

function expiryMs(token: string): number | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A gateway connection: `auth` first, requests matched by `_id`, pushes by event name, token
 * refresh before expiry, full-jitter reconnects on reconnect-range close codes, and the
 * current `spectate` re-issued after every reconnect and `resync`.
 */
export class GatewayClient {
  state: State = 'connecting';
  /** The last `welcome`'s data. */
  welcome: Record<string, unknown> | undefined;
  private ws: SocketLike | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly pending = new Map<number | string, Pending>();
  private queue: Array<() => void> = [];
  private nextId = 1;
  private readonly policy: ReconnectPolicy;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private spectating: { guild_id: string; include_logs: boolean } | undefined;
  private dials = 0;

  constructor(private readonly opts: ClientOptions) {
    this.policy = new ReconnectPolicy(opts.reconnect);
    void this.open();
  }

  /** Subscribes to a push, a reply-less server event, or `state` / `welcome` / `error`; returns an unsubscribe. */
  on(event: string, handler: Handler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Sends a request and resolves with its reply's `data`; queued while (re)connecting. */
  request<T = unknown>(event: string, data?: unknown, opts: { timeout?: number; chunk?: (data: unknown) => boolean } = {}): Promise<T> {
    if (this.state === 'closed') return Promise.reject(new GatewayError('closed', 'the client is closed'));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new GatewayError('timeout', `${event} got no reply in time`));
      }, opts.timeout ?? this.opts.requestTimeoutMs ?? 10_000);
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer, ...(opts.chunk ? { chunk: opts.chunk } : {}) });
      const send = () => this.ws?.send(JSON.stringify({ event, _id: id, data }));
      if (this.state === 'open') return send();
      if (this.queue.length >= (this.opts.maxQueued ?? 100)) {
        clearTimeout(timer);
        this.pending.delete(id);
        return reject(new GatewayError('queue_full', 'too many requests waiting for the connection'));
      }
      this.queue.push(send);
    });
  }

  /** Spectates one guild (replacing the previous) and remembers it for reconnects. */
  async spectate(guildId: string, includeLogs = false): Promise<unknown> {
    this.spectating = { guild_id: guildId, include_logs: includeLogs };
    return this.request('spectate', this.spectating);
  }

  close(): void {
    this.setState('closed');
    clearTimeout(this.refreshTimer);
    clearTimeout(this.retryTimer);
    this.failAll(new GatewayError('closed', 'the client was closed'));
    this.ws?.close(1000, 'client closed');
  }

  private async open(): Promise<void> {
    if (this.state === 'closed') return;
    this.setState(this.state === 'reconnecting' ? 'reconnecting' : 'connecting');
    let token: string;
    try {
      token = await this.opts.getToken();
    } catch (err) {
      this.emit('error', new GatewayError('token', `getToken failed: ${(err as Error).message}`));
      return this.retry(1006);
    }
    // close() may have run while the token was being fetched.
    if ((this.state as State) === 'closed') return;
    const Socket = this.opts.WebSocket ?? (globalThis as unknown as { WebSocket: SocketFactory }).WebSocket;
    const urls = typeof this.opts.url === 'string' ? [this.opts.url] : this.opts.url;
    const ws = new Socket(urls[this.dials++ % urls.length]!);
    this.ws = ws;
    ws.onopen = () => {
      this.setState('authenticating');
      ws.send(JSON.stringify({ action: 'auth', token, ...(this.opts.room ? { room: this.opts.room } : {}) }));
      this.scheduleRefresh(token);
    };
    ws.onmessage = (ev) => this.receive(String(ev.data));
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      clearTimeout(this.refreshTimer);
      this.failAll(new GatewayError('disconnected', `connection closed (${ev.code})`));
      this.emit('close', { code: ev.code, reason: ev.reason, name: closeCodeName(ev.code) });
      this.retry(ev.code);
    };
  }

  private retry(code: number): void {
    if (this.state === 'closed') return;
    const delay = this.policy.next(code);
    if (delay === undefined) {
      this.emit('error', new GatewayError(closeCodeName(code) ?? String(code), `closed with terminal code ${code}`));
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
    if (event === 'welcome') this.welcomed(msg.data as Record<string, unknown>);
    if (event === 'resync' && this.spectating) void this.request('spectate', this.spectating).catch(() => {});
    const p = id === undefined ? undefined : this.pending.get(id);
    if (p) {
      if (event === 'error') {
        this.settle(id!, p);
        return p.reject(new GatewayError(String(msg.code), String(msg.message), msg.human as string | undefined));
      }
      if (p.chunk && !p.chunk(msg.data)) return; // more chunks to come
      this.settle(id!, p);
      return p.resolve(msg.data);
    }
    this.emit(event, msg.data, msg);
  }

  private welcomed(data: Record<string, unknown>): void {
    const first = this.welcome === undefined;
    this.welcome = data;
    this.policy.reset();
    this.setState('open');
    const queued = this.queue;
    this.queue = [];
    for (const send of queued) send();
    // A new session (reconnect or a move to another monolith) has no subscriptions yet.
    if (!first && this.spectating) void this.request('spectate', this.spectating).catch(() => {});
  }

  private scheduleRefresh(token: string): void {
    clearTimeout(this.refreshTimer);
    const exp = expiryMs(token);
    if (exp === undefined) return;
    const at = Math.max(1000, exp - Date.now() - (this.opts.refreshBeforeMs ?? 30_000));
    this.refreshTimer = setTimeout(async () => {
      try {
        const fresh = await this.opts.getToken();
        this.ws?.send(JSON.stringify({ action: 'auth', token: fresh }));
        this.scheduleRefresh(fresh);
      } catch (err) {
        this.emit('error', new GatewayError('token', `token refresh failed: ${(err as Error).message}`));
      }
    }, at);
  }

  private settle(id: number | string, p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
  }

  private failAll(err: GatewayError): void {
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

  private emit(event: string, data: unknown, msg: Record<string, unknown> = {}): void {
    for (const h of this.handlers.get(event) ?? []) h(data, msg);
  }
}
