import { fullJitter, isTerminal } from '@gateway/protocol';
import { connect, type Msg, type TestClient } from './client.js';

/** Close codes a client answers by reconnecting: the catalogue's own policy (README, "Close codes"). */
export function isReconnectCode(code: number): boolean {
  return !isTerminal(code);
}

/** The plain auth frame; `ReconnectOptions.authFrame` may extend it (e.g. with `since`). */
export interface AuthFrame {
  action: 'auth';
  token: string;
  room?: string;
}

export interface ReconnectOptions {
  /** First back-off cap; doubles per attempt (full jitter: a uniform delay below the cap). */
  baseMs?: number;
  capMs?: number;
  maxAttempts?: number;
  /** Index into `urls` of the first attempt; later attempts go round the list. */
  start?: number;
  /** False: the first attempt connects at once (a first connect, not a reconnect after a close). */
  backOffFirst?: boolean;
  /** How long each attempt waits for its `welcome`. */
  welcomeTimeoutMs?: number;
  /**
   * Builds each attempt's auth frame from the plain one, called once its socket is open, right
   * before the frame is sent: a caller adds what it knows only then (its latest `since`).
   */
  authFrame?: (frame: AuthFrame) => object;
  /** Called with each open socket before its auth frame is sent, so no reply can be missed. */
  onSocket?: (client: TestClient) => void;
  /** Once aborted, no further attempt starts: the loop rejects with `signal.reason`. */
  signal?: AbortSignal;
}

export interface Reconnected {
  client: TestClient;
  welcome: Msg;
  url: string;
  /** Attempts made, the successful one included. */
  attempts: number;
  /** Close codes of the failed attempts (0: the connection itself failed). */
  failures: number[];
}

/**
 * What a well-behaved client does after a reconnect close code: wait a full-jitter back-off,
 * connect to the next balancer, authenticate; repeat until a `welcome` arrives. The back-off is
 * the policy under test, not a wait for a condition. A terminal close before the welcome ends the
 * loop (a client must not retry it); so does a welcome that does not come on an open socket.
 */
export async function reconnectUntilWelcome(urls: readonly string[], token: string, room: string | undefined, opts: ReconnectOptions = {}): Promise<Reconnected> {
  const { baseMs = 50, capMs = 1000, maxAttempts = 40, start = 0, backOffFirst = true, welcomeTimeoutMs = 5000, authFrame, onSocket, signal } = opts;
  const failures: number[] = [];
  const errors: string[] = [];
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    signal?.throwIfAborted();
    if (backOffFirst || attempt > 0) await new Promise((resolve) => setTimeout(resolve, fullJitter(attempt, baseMs, capMs)));
    const url = urls[(start + attempt) % urls.length]!;
    let client: TestClient;
    try {
      client = await connect(url, { timeoutMs: 2000 });
    } catch (err) {
      failures.push(0);
      errors.push((err as Error).message);
      continue;
    }
    onSocket?.(client);
    const plain: AuthFrame = room === undefined ? { action: 'auth', token } : { action: 'auth', token, room };
    client.send(authFrame ? authFrame(plain) : plain);
    try {
      const welcome = await client.nextEvent('welcome', undefined, welcomeTimeoutMs);
      return { client, welcome, url, attempts: attempt + 1, failures };
    } catch (err) {
      if (!client.isClosed) throw err;
      const { code } = await client.closed();
      if (!isReconnectCode(code)) throw new Error(`terminal close ${code} from ${url}`);
      failures.push(code);
      errors.push(`closed ${code} before welcome`);
    }
  }
  throw new Error(`no welcome after ${maxAttempts} attempts; failures: ${failures.join(',')} (${errors.join('; ')})`);
}
