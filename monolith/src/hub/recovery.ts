import { ServerEvent, type StreamPosition } from '@gateway/protocol';
import type { Publication } from './broker.js';

/** The outcome of reading a stream for one connection that asked to recover from a position. */
export interface RecoveryRead {
  stream: string;
  /** True when every publication after `since` follows (or `since` was not given: nothing missed). */
  recovered: boolean;
  /** The stream's position the replay starts from: the client's if recovered, else the current one. */
  position: StreamPosition;
}

/** Publications `from`..`to` of `epoch` that this monolith gave up on (see `stream_gap`). */
export interface Gap {
  gap: { epoch: string; from: number; to: number };
}

/** What a recovery in progress is handed while it runs: live publications, and gaps given up. */
export type Buffered = Publication | Gap;

/** The `stream_gap` push: the stream's publications `from`..`to` will not be delivered here. */
export function streamGap(stream: string, gap: Gap['gap']): string {
  return JSON.stringify({ event: ServerEvent.STREAM_GAP, data: { stream, ...gap } });
}

/** One connection's recovery of one stream, between the history read and its `subscribe`. */
export class Recovery {
  constructor(
    readonly read: RecoveryRead,
    private readonly missed: Publication[],
    private readonly buffer: Buffered[],
    private readonly done: () => void,
    private readonly encode: (pub: Publication) => string,
    private readonly encodeGap: (gap: Gap['gap']) => string,
    /** The hub's fan-out frontier now (Live.last). */
    private readonly frontier: () => StreamPosition | undefined,
  ) {}

  /**
   * Hands every missed publication, then every buffered live one after it, to `send` (those
   * `allowed` for the connection), in offset order and once each, with a `stream_gap` push where
   * the hub gave publications up that this connection did not get; stops buffering. The caller
   * subscribes the connection's channels right after, in the same turn.
   */
  finish(send: (pushJson: string) => void, allowed: (pub: Publication) => boolean = () => true): number {
    this.done();
    let last = this.read.position;
    const frontier = this.frontier();
    let sent = 0;
    for (const item of [...this.missed, ...this.buffer]) {
      if ('gap' in item) {
        const { gap } = item;
        if (gap.epoch === last.epoch && gap.to <= last.offset) continue; // this connection read them before
        last = { offset: gap.to, epoch: gap.epoch };
        send(this.encodeGap(gap));
        continue;
      }
      if (item.epoch === last.epoch && item.offset <= last.offset) continue;
      // Read from the broker ahead of its live arrival here: the fan-out brings it, after the subscribe.
      if (frontier && item.epoch === frontier.epoch && item.offset > frontier.offset) continue;
      last = { offset: item.offset, epoch: item.epoch };
      if (!allowed(item)) continue;
      send(this.encode(item));
      sent++;
    }
    return sent;
  }

  /** Stops buffering without sending (the connection left meanwhile). */
  abandon(): void {
    this.done();
  }
}
