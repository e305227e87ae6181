import type { CloseCodeName } from '@gateway/protocol';
import type { Log, Metrics, VerifyResult } from '@gateway/server-kit';
import type { Admission } from './admission.js';
import type { BalancerConfig } from './config.js';
import type { MonolithLink } from './monolith-link.js';
import type { Router } from './routing/router.js';
import type { SessionState } from './session-states.js';
import type { WebSocket } from './uws.js';

/** What a balancer keeps per client socket, and what `Sessions` (client-session.ts) needs. */

/**
 * The uWS socket's user data: one property, the session. uWS copies every property of the user
 * data onto its socket object, and V8 keeps an object that gains many properties that way as a
 * hash table (about 830 B per socket for the session's fields, against 200 B for the session as
 * an object of its own; docs/performance.md).
 */
export interface SocketData {
  readonly session: Session;
}

/**
 * One client socket's state, referenced from the uWS socket's user data. Kept small: it is the
 * per-connection memory cost of the balancer. Every field is set in `Sessions.create`, so all
 * sessions share one shape and keep their fields in the object.
 */
export interface Session {
  readonly id: string;
  state: SessionState;
  ws: WebSocket<SocketData> | undefined;
  /** Room from the URL path (`/api/room/:room`), if any. */
  readonly pathRoom: string | undefined;
  /** Auth deadline while unauthenticated; then the token's expiry (ms since epoch). */
  deadline: number;
  subject: string;
  guest: boolean;
  room: string;
  /** The verified token the session's joins (and refreshes) carry to its monolith; '' before auth. */
  token: string;
  link: MonolithLink | undefined;
  /** Token bucket for MESSAGE_RATE. */
  tokens: number;
  refilledAt: number;
  /** Bumped per auth frame, so only the newest verification applies. */
  authSeq: number;
  /** Frames sent while the first token is verified, forwarded once joined. */
  queue: string[] | undefined;
  /** Set on sockets accepted only to be closed with this code (origin, capacity). */
  refuse: CloseCodeName | undefined;
  /**
   * Client address key while the socket counts in `Admission`: as unauthenticated, or as a
   * tokenless guest (`anonymous`); then undefined.
   */
  source: string | undefined;
  /** Speaks the architus dialect (dialects/architus.ts): frames are mapped both ways. */
  readonly architus: boolean;
  /** A tokenless guest (architus dialect, no sign-in cookie): its own budgets, no expiry. */
  anonymous: boolean;
  /** The sign-in cookie's token, from the upgrade until the socket opens. */
  cookie: string | undefined;
}

export interface SessionDeps {
  config: BalancerConfig;
  router: Router;
  verify: (token: string) => Promise<VerifyResult>;
  /** Per-source and unauthenticated budgets; a session's `source` is released here. */
  admission: Admission;
  metrics: Metrics;
  log: Log;
  /** Throw on an event the state table does not allow (tests); production logs and closes. */
  strict?: boolean;
  /** The clock of auth deadlines, token expiry and MESSAGE_RATE buckets (ms since epoch); Date.now by default. */
  now?: () => number;
}
