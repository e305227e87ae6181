import type { Log } from '@gateway/server-kit';

/** Distinct kinds remembered; past it every new kind counts as one (a bounded map). */
export const MAX_FAILURE_KINDS = 200;
const OTHER = 'other';

interface Kind {
  /** Failures since the last report, not logged one by one. */
  repeats: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Logs handler failures without letting a client flood the log: the first failure of a kind is
 * logged at once, with its stack; repeats are counted and reported as one line per kind per
 * window (`handler failures repeated`, with the count). A kind is the event and the error's name
 * and message, which is what tells two bugs apart; their variable details stay in the first line.
 */
export class FailureLog {
  private readonly kinds = new Map<string, Kind>();

  constructor(
    private readonly log: Log,
    private readonly windowMs = 60_000,
  ) {}

  record(event: string, thrown: unknown, fields: Record<string, unknown>): void {
    const err = thrown instanceof Error ? thrown : new Error(String(thrown));
    let kind = `${event.slice(0, 64)} ${err.name}: ${String(err.message).slice(0, 120)}`;
    if (!this.kinds.has(kind) && this.kinds.size >= MAX_FAILURE_KINDS) kind = OTHER;
    const seen = this.kinds.get(kind);
    if (!seen) {
      this.kinds.set(kind, { repeats: 0, timer: undefined });
      this.log.error('handler failed', { event, kind, ...fields, err: err.message, stack: err.stack });
      return;
    }
    seen.repeats++;
    if (seen.timer) return;
    seen.timer = setTimeout(() => {
      seen.timer = undefined;
      this.log.error('handler failures repeated', { kind, count: seen.repeats, windowMs: this.windowMs });
      seen.repeats = 0;
    }, this.windowMs);
    // A pending report never keeps the process alive.
    seen.timer.unref?.();
  }

  /** Cancels pending reports (shutdown). */
  close(): void {
    for (const k of this.kinds.values()) if (k.timer) clearTimeout(k.timer);
  }
}
