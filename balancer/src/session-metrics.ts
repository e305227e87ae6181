import { TOKEN_FAILURE_CLOSE } from '@gateway/protocol';
import type { Metrics, Series } from '@gateway/server-kit';

/** Why an authentication was refused, as counted in `gateway_balancer_auth_failures_total{reason}`. */
export type AuthFailure = keyof typeof TOKEN_FAILURE_CLOSE | 'forbidden_room' | 'timeout' | 'verify_timeout' | 'not_auth';

/** The session counters: frames in, refused authentications by reason, closes by code. */
export class SessionMetrics {
  readonly framesIn: Series;
  private readonly failures = new Map<string, Series>();
  private readonly closes = new Map<number, Series>();

  constructor(private readonly metrics: Metrics) {
    this.framesIn = metrics.counter('gateway_balancer_client_frames_in_total', 'Frames received from clients.');
    const reasons: AuthFailure[] = [...(Object.keys(TOKEN_FAILURE_CLOSE) as Array<keyof typeof TOKEN_FAILURE_CLOSE>), 'forbidden_room', 'timeout', 'verify_timeout', 'not_auth'];
    for (const reason of reasons) this.failures.set(reason, metrics.counter('gateway_balancer_auth_failures_total', 'Refused authentications by reason.', { reason }));
  }

  authFailed(reason: AuthFailure): void {
    this.failures.get(reason)!.value++;
  }

  closed(code: number): void {
    let s = this.closes.get(code);
    if (!s) {
      s = this.metrics.counter('gateway_balancer_client_closes_total', 'Client sockets closed, by close code.', { code: String(code) });
      this.closes.set(code, s);
    }
    s.value++;
  }
}
