import { fullJitter, isTerminal } from '@gateway/protocol';
import { connect, type Msg, type TestClient } from './client.js';

/** Close codes a client answers by reconnecting: the catalogue's own policy (README, "Close codes"). */
export function isReconnectCode(code: number): boolean {
  return !isTerminal(code);
}

export interface ReconnectOptions {
  /** First back-off cap; doubles per attempt (full jitter: a uniform delay below the cap). */
  baseMs?: number;
  capMs?: number;
  maxAttempts?: number;
  /** Index into `urls` of the first attempt; later attempts go round the list. */
  start?: number;
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
 * the policy under test, not a wait for a condition.
 */
export async function reconnectUntilWelcome(urls: readonly string[], token: string, room: string | undefined, opts: ReconnectOptions = {}): Promise<Reconnected> {
  const { baseMs = 50, capMs = 1000, maxAttempts = 40, start = 0 } = opts;
  const failures: number[] = [];
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, fullJitter(attempt, baseMs, capMs)));
    const url = urls[(start + attempt) % urls.length]!;
    let client: TestClient;
    try {
      client = await connect(url, { timeoutMs: 2000 });
    } catch {
      failures.push(0);
      continue;
    }
    try {
      const welcome = await client.auth(token, room, 5000);
      return { client, welcome, url, attempts: attempt + 1, failures };
    } catch (err) {
      if (!client.isClosed) throw err;
      const { code } = await client.closed();
      if (!isReconnectCode(code)) throw new Error(`terminal close ${code} from ${url}`);
      failures.push(code);
    }
  }
  throw new Error(`no welcome after ${maxAttempts} attempts; failures: ${failures.join(',')}`);
}
