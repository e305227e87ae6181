/** The part of a `ws` WebSocket the link writer uses (both link ends use the `ws` package). */
export interface LinkSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
}

export interface LinkWriterOptions {
  /** Unsent bytes above which the peer counts as stalled: the link is reset, memory stays bounded. */
  maxBufferBytes: number;
  /** Ping interval; a peer that did not answer one interval's ping is gone (half-open TCP). */
  heartbeatMs: number;
  /** The link must go: stalled, or silent for a heartbeat. Called once. */
  onFailure(reason: string): void;
  /** A heartbeat's round trip (ping to pong), in seconds. */
  onRoundTrip?(seconds: number): void;
}

const OPEN = 1;

/**
 * The one writer for both ends of a balancer ↔ monolith link (STYLE rule 13): frames sent in one
 * event-loop turn leave in one write (the TCP socket is corked until the turn ends, instead of a
 * syscall per frame); the send buffer is bounded (a slow but alive peer is reset, never allowed
 * to grow this process's memory); frames are counted; and a heartbeat drops a silent peer.
 */
export class LinkWriter {
  framesOut = 0;
  private corked = false;
  private alive = true;
  private failed = false;
  private gate: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly uncork = () => {
    this.corked = false;
    this.tcp()?.uncork();
  };

  constructor(
    private readonly ws: LinkSocket,
    private readonly opts: LinkWriterOptions,
  ) {
    let pingAt = 0;
    ws.on('pong', () => {
      this.alive = true;
      if (pingAt) opts.onRoundTrip?.(Number(process.hrtime.bigint() - BigInt(pingAt)) / 1e9);
      pingAt = 0;
    });
    this.timer = setInterval(() => {
      if (!this.alive) return this.fail('heartbeat missed');
      this.alive = false;
      if (ws.readyState === OPEN) {
        pingAt = Number(process.hrtime.bigint());
        ws.ping();
      }
    }, opts.heartbeatMs);
    this.timer.unref();
  }

  /** Sends one frame; false when the link is not open or was just reset for a full buffer. */
  send(frame: string): boolean {
    const ws = this.ws;
    if (this.failed || ws.readyState !== OPEN) return false;
    if (ws.bufferedAmount > this.opts.maxBufferBytes) {
      this.fail(`link buffer over ${this.opts.maxBufferBytes} bytes: peer stalled`);
      return false;
    }
    if (!this.corked) {
      const tcp = this.tcp();
      if (tcp) {
        tcp.cork();
        this.corked = true;
        setImmediate(this.uncork);
      }
    }
    ws.send(frame);
    this.framesOut++;
    return true;
  }

  /**
   * Resolves once the unsent bytes are at most `lowWaterBytes` (or the link is gone), polling
   * every `pollMs`. One caller at a time, in call order: each next one is checked only after the
   * previous one was let through and had its turn to send.
   */
  drained(lowWaterBytes: number, pollMs = 5): Promise<void> {
    const turn = this.gate.then(
      () =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (this.failed || this.ws.readyState !== OPEN || this.ws.bufferedAmount <= lowWaterBytes) resolve();
            else setTimeout(check, pollMs).unref();
          };
          check();
        }),
    );
    // The next caller starts checking after this one's continuation (which sends) has run.
    this.gate = turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    return turn;
  }

  /** Stops the heartbeat (the link is closing). */
  stop(): void {
    clearInterval(this.timer);
  }

  private fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.stop();
    this.opts.onFailure(reason);
    this.ws.terminate();
  }

  /** The TCP socket under a `ws` WebSocket: not part of its typed API, reached here only. */
  private tcp(): { cork(): void; uncork(): void } | undefined {
    return (this.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  }
}
