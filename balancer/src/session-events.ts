import { TOKEN_FAILURE_CLOSE } from '@gateway/protocol';
import { LogLimiter, type Log, type Metrics, type Series } from '@gateway/server-kit';

/** Why an authentication was refused, as counted in `gateway_balancer_auth_failures_total{reason}`. */
export type AuthFailure = keyof typeof TOKEN_FAILURE_CLOSE | 'forbidden_room' | 'timeout' | 'verify_timeout' | 'not_auth';

/** Refusal lines per reason at info: one a second (with how many were folded in), so a flood cannot flood the log. */
const REFUSAL_LOG_WINDOW_MS = 1000;

/**
 * A session's life as counters and log lines, in one place: frames in, refused authentications
 * by reason (counted, and one info line per reason per second with the session id), closes by
 * code, and at debug every connect, join (or move) and close with its code. Nothing here runs
 * per data frame except the frames-in counter, a property write.
 */
export class SessionEvents {
  readonly framesIn: Series;
  private readonly failures = new Map<string, Series>();
  private readonly closes = new Map<number, Series>();
  private readonly refusals = new LogLimiter(REFUSAL_LOG_WINDOW_MS);

  constructor(
    private readonly metrics: Metrics,
    private readonly log: Log,
  ) {
    this.framesIn = metrics.counter('gateway_balancer_client_frames_in_total', 'Frames received from clients.');
    const reasons: AuthFailure[] = [...(Object.keys(TOKEN_FAILURE_CLOSE) as Array<keyof typeof TOKEN_FAILURE_CLOSE>), 'forbidden_room', 'timeout', 'verify_timeout', 'not_auth'];
    for (const reason of reasons) this.failures.set(reason, metrics.counter('gateway_balancer_auth_failures_total', 'Refused authentications by reason.', { reason }));
  }

  opened(id: string): void {
    this.log.debug('session connected', { conn: id });
  }

  authFailed(reason: AuthFailure, id: string): void {
    this.failures.get(reason)!.value++;
    const folded = this.refusals.allow(reason);
    if (folded !== undefined) this.log.info('authentication refused', { conn: id, reason, alsoRefusedSinceLastLine: folded });
  }

  /** A join (or, `rejoin`, a move to another monolith) was sent; returns true for the caller. */
  joined(id: string, room: string, monolith: string, rejoin: boolean): true {
    this.log.debug(rejoin ? 'session moved' : 'session joined', { conn: id, room, monolith });
    return true;
  }

  closed(code: number, id: string): void {
    let s = this.closes.get(code);
    if (!s) {
      s = this.metrics.counter('gateway_balancer_client_closes_total', 'Client sockets closed, by close code.', { code: String(code) });
      this.closes.set(code, s);
    }
    s.value++;
    this.log.debug('session closed', { conn: id, code });
  }
}
