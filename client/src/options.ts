import type { ReconnectOptions } from './reconnect.js';
import type { SocketFactory } from './socket.js';

/** The client's options and states (client.ts), and what it reads of a token. */

export type State = 'connecting' | 'authenticating' | 'open' | 'reconnecting' | 'closed';

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

/** A token's `exp` in milliseconds, read without verifying it (when to refresh); undefined if unreadable. */
export function expiryMs(token: string): number | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
