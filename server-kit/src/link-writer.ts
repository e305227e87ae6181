import { LINK_FRAME_SEPARATOR } from '@gateway/protocol';

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

/** A batch this long (in characters) leaves at once instead of waiting for the turn to end. */
export const LINK_BATCH_MAX_CHARS = 1 << 20;

/**
 * The one writer for both ends of a balancer ↔ monolith link (STYLE rule 13): frames sent in one
 * event-loop turn leave as one websocket message (link protocol 3: joined by
 * LINK_FRAME_SEPARATOR; one frame header, one write and one message event at the peer for the
 * lot, instead of one each per frame), or sooner past LINK_BATCH_MAX_CHARS; the send buffer is
 * bounded (a slow but alive peer is reset, never allowed to grow this process's memory); frames
 * are counted; and a heartbeat drops a silent peer.
 */
export class LinkWriter {
  framesOut = 0;
  private batch: string[] = [];
  private batchChars = 0;
  private scheduled = false;
  private alive = true;
  private failed = false;
  private gate: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly endOfTurn = () => {
    this.scheduled = false;
    this.flush();
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
    if (ws.bufferedAmount + this.batchChars > this.opts.maxBufferBytes) {
      this.fail(`link buffer over ${this.opts.maxBufferBytes} bytes: peer stalled`);
      return false;
    }
    this.batch.push(frame);
    this.batchChars += frame.length;
    this.framesOut++;
    if (this.batchChars >= LINK_BATCH_MAX_CHARS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endOfTurn);
    }
    return true;
  }

  /** Sends the frames batched so far as one message. */
  private flush(): void {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    this.batchChars = 0;
    if (this.failed || this.ws.readyState !== OPEN) return;
    this.ws.send(batch.length === 1 ? batch[0]! : batch.join(LINK_FRAME_SEPARATOR));
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
            if (this.failed || this.ws.readyState !== OPEN || this.ws.bufferedAmount + this.batchChars <= lowWaterBytes) resolve();
            else setTimeout(check, pollMs).unref();
          };
          check();
        }),
    );
    // The next caller starts checking after this one's continuation (which sends) has run.
    this.gate = turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    return turn;
  }

  /** Stops the heartbeat (the link is closing); frames not yet sent are dropped with it. */
  stop(): void {
    clearInterval(this.timer);
    this.batch = [];
    this.batchChars = 0;
  }

  private fail(reason: string): void {
    if (this.failed) return;
    this.failed = true;
    this.stop();
    this.opts.onFailure(reason);
    this.ws.terminate();
  }
}
