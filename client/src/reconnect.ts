import { fullJitter, isTerminal } from '@gateway/protocol/codes';

export interface ReconnectOptions {
  /** First delay ceiling (ms); doubles per attempt. */
  baseMs?: number;
  /** Largest delay ceiling (ms). */
  capMs?: number;
}

/**
 * When to reconnect: only after reconnect-range close codes (DESIGN §2: terminal codes stop),
 * after a full-jitter delay that grows per failed attempt and resets once welcomed.
 */
export class ReconnectPolicy {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;

  constructor(opts: ReconnectOptions = {}, private readonly random: () => number = Math.random) {
    this.baseMs = opts.baseMs ?? 250;
    this.capMs = opts.capMs ?? 10_000;
  }

  /** The delay before the next attempt, or undefined when the close code is terminal. */
  next(closeCode: number): number | undefined {
    if (isTerminal(closeCode)) return undefined;
    return fullJitter(this.attempt++, this.baseMs, this.capMs, this.random);
  }

  /** A session was established: the next outage starts from the first delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
