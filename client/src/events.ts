import type { CloseCodeName, LogEntry, PoolType, WelcomeData } from '@gateway/protocol';
import type { Entity } from './api.js';
import type { State } from './client.js';
import type { GatewayError } from './errors.js';
import type { Recovery } from './positions.js';

// The payloads of the pushes below that protocol/ has no type for yet are written here as the
// monolith sends them (log_pool: monolith/src/http/guild-routes.ts; spectate_revoked:
// monolith/src/gateway/spectate.ts; resync: monolith/src/gateway/welcome.ts; refreshed:
// balancer/src/client-session.ts).

/** `log_pool`: an entity of the spectated guild was written (`entity`) or deleted (`deleted: true`). */
export type LogPoolChange =
  | { type: PoolType; guild_id: string; entity: Entity; deleted?: undefined }
  | { type: PoolType; guild_id: string; id: string; deleted: true };

/** `spectate_revoked`: a refreshed token lost permissions and these channels were dropped. */
export interface SpectateRevoked {
  guild_id: string;
  channels: string[];
  /** False when no channel is left: the SDK stops re-spectating the guild. */
  spectating: boolean;
  reason: string;
}

/** `close`: the socket closed (the SDK reconnects unless the code is terminal). */
export interface CloseInfo {
  code: number;
  reason: string;
  /** The catalogue's name of the code (`CloseCode`), undefined for an uncatalogued one. */
  name: CloseCodeName | undefined;
}

/**
 * What `on(event, handler)` passes as `data` per event name: the SDK's own events (`state`,
 * `error`, `recovery`, `close`) and the pushes the protocol defines. Any other name (a
 * broadcast's or a user message's event) gets `unknown`. Pushes are typed, not validated: the
 * SDK passes on what the server sent.
 */
export interface GatewayEvents {
  /** Every state change. */
  state: State;
  /**
   * A failure outside a request: `getToken` failing, a terminal close (`terminal_close` with
   * `closeCode`), or an `error` frame that answers no pending request (a refused token refresh).
   */
  error: GatewayError;
  /** The outcome of a resubscription (docs/sdk.md, Recovery). */
  recovery: Recovery;
  close: CloseInfo;
  /** Joined (first connect, reconnect, re-join after a failover, elevation); also kept as `welcome`. */
  welcome: WelcomeData;
  /** The session moved to another monolith; the SDK resubscribes by itself (then `recovery`). */
  resync: { reason: string };
  /** A token refresh of the same subject was accepted. */
  refreshed: { exp: number | null };
  log_pool: LogPoolChange;
  log_other: LogEntry;
  spectate_revoked: SpectateRevoked;
  /** Publications `from`..`to` of `stream` will not be delivered (also reported as `recovery`, trigger `gap`). */
  stream_gap: StreamGap;
}

/** A `stream_gap` push's data. */
export interface StreamGap {
  stream: string;
  epoch: string;
  from: number;
  to: number;
}

/** The SDK's own events: a push by one of these names is not dispatched (its data would not fit). */
export const LOCAL_EVENTS: ReadonlySet<string> = new Set(['state', 'recovery', 'close'] satisfies Array<keyof GatewayEvents>);

/** An event name: one of `GatewayEvents` (offered by editors) or any other string. */
export type EventName = keyof GatewayEvents | (string & {});

/** The `data` a handler of `E` receives: its `GatewayEvents` type, `unknown` for other names. */
export type EventData<E extends string> = E extends keyof GatewayEvents ? GatewayEvents[E] : unknown;

/**
 * A handler: `data` as above, `message` the whole frame (with `stream`, `offset` and `epoch` for
 * a positioned push; `{}` for the SDK's own events).
 */
export type EventHandler<E extends string = string> = (data: EventData<E>, message: Record<string, unknown>) => void;
