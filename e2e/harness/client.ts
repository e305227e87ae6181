import WebSocket from 'ws';

/** A message from the gateway, parsed. Fields are loose on purpose: tests assert on them. */
export interface Msg {
  event?: string;
  _id?: number | string;
  data?: any;
  code?: string;
  message?: string;
  human?: string;
  [key: string]: unknown;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

type Predicate = (msg: Msg) => boolean;

interface Waiter {
  predicate: Predicate;
  resolve(msg: Msg): void;
  reject(err: Error): void;
}

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * A websocket test client. Every message is buffered from the moment the socket opens: `next()`
 * takes the oldest unconsumed message that matches (waiting for one if needed), so a message that
 * arrives before the test asks for it is never missed, and non-matching ones stay for later.
 */
export class TestClient {
  /** Every message received, in order, consumed or not. */
  readonly received: Msg[] = [];
  private readonly unconsumed: Msg[] = [];
  private readonly waiters = new Set<Waiter>();
  private closeInfo: CloseInfo | undefined;
  private readonly closeWaiters = new Set<(info: CloseInfo) => void>();

  constructor(
    readonly url: string,
    readonly ws: WebSocket,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      let msg: Msg;
      try {
        msg = JSON.parse(text) as Msg;
      } catch {
        msg = { raw: text, binary: isBinary };
      }
      this.received.push(msg);
      for (const w of this.waiters) {
        if (w.predicate(msg)) {
          this.waiters.delete(w);
          w.resolve(msg);
          return;
        }
      }
      this.unconsumed.push(msg);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
      for (const resolve of this.closeWaiters) resolve(this.closeInfo);
      this.closeWaiters.clear();
      for (const w of this.waiters) w.reject(new Error(`socket closed (${code} ${this.closeInfo.reason}) while waiting for a message`));
      this.waiters.clear();
    });
    // Errors after open surface as a close; keep them from becoming unhandled.
    ws.on('error', () => {});
  }

  /** The next matching message (oldest buffered first), or a rejection on timeout or close. */
  next(predicate: Predicate = () => true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    const at = this.unconsumed.findIndex(predicate);
    if (at >= 0) return Promise.resolve(this.unconsumed.splice(at, 1)[0]!);
    if (this.closeInfo) {
      return Promise.reject(new Error(`socket already closed (${this.closeInfo.code} ${this.closeInfo.reason}); unconsumed: ${JSON.stringify(this.unconsumed)}`));
    }
    return new Promise<Msg>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve: (msg) => {
          clearTimeout(timer);
          resolve(msg);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching message within ${timeoutMs} ms on ${this.url}; unconsumed: ${JSON.stringify(this.unconsumed).slice(0, 2000)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The next message with this `event` (and `_id`, when given). */
  nextEvent(event: string, id?: number | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    return this.next((m) => m.event === event && (id === undefined || m._id === id), timeoutMs);
  }

  /** Messages received but not yet taken by `next()`. */
  pending(): Msg[] {
    return [...this.unconsumed];
  }

  /** Resolves with the close code and reason once the socket is closed. */
  closed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise<CloseInfo>((resolve, reject) => {
      const onClose = (info: CloseInfo): void => {
        clearTimeout(timer);
        resolve(info);
      };
      const timer = setTimeout(() => {
        this.closeWaiters.delete(onClose);
        reject(new Error(`socket ${this.url} still open after ${timeoutMs} ms; received: ${JSON.stringify(this.received).slice(0, 2000)}`));
      }, timeoutMs);
      this.closeWaiters.add(onClose);
    });
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined;
  }

  /** Sends an object as JSON, or a string as is (text frame). */
  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  sendBinary(data: Buffer): void {
    this.ws.send(data, { binary: true });
  }

  /** Sends the auth frame and resolves with the `welcome` message. */
  async auth(token: string, room?: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    this.send(room === undefined ? { action: 'auth', token } : { action: 'auth', token, room });
    return this.nextEvent('welcome', undefined, timeoutMs);
  }

  /** Sends `{event, _id, data}` and resolves with the reply echoing `_id` (any event). */
  request(event: string, id: number | string, data?: unknown, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    this.send(data === undefined ? { event, _id: id } : { event, _id: id, data });
    return this.next((m) => m._id === id, timeoutMs);
  }

  close(): void {
    if (!this.closeInfo) this.ws.close(1000);
  }
}

const open = new Set<TestClient>();

/** Opens a websocket; resolves once it is open (rejects if the upgrade is refused). */
export function connect(url: string, opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<TestClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: opts.headers, handshakeTimeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, perMessageDeflate: false });
    // Built before `open` so a message sent right after the upgrade is already buffered.
    const client = new TestClient(url, ws);
    const onError = (err: Error): void => reject(new Error(`connect ${url}: ${err.message}`));
    ws.once('error', onError);
    ws.once('open', () => {
      ws.off('error', onError);
      open.add(client);
      ws.once('close', () => open.delete(client));
      resolve(client);
    });
  });
}

/** Terminates every client still open (afterAll). */
export function closeAllClients(): void {
  for (const c of open) c.ws.terminate();
  open.clear();
}
