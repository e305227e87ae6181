import type { Recovered, Since, StreamPosition } from '@gateway/protocol';
import type { StreamGap } from './events.js';

/**
 * The outcome of a resubscription, emitted as `recovery`. `streams` has every stream the
 * trigger concerned: `true` when every publication missed meanwhile was delivered (once, in
 * offset order, before live ones), `false` when that cannot be promised (history trimmed,
 * expired or lost): reload that stream's state. Triggers: `reconnect` (a new connection),
 * `resync` (the session moved to another monolith), `elevation` (a new identity re-spectated),
 * `epoch` (a push revealed that its stream's history was lost; only that stream is listed), `gap`
 * (a `stream_gap` push: the gateway cannot deliver some of the stream's publications).
 */
export interface Recovery {
  trigger: 'reconnect' | 'resync' | 'elevation' | 'epoch' | 'gap';
  streams: Recovered;
}

/** The `spectate` reply. */
export interface SpectateReply {
  guild_id: string;
  include_logs: boolean;
  channels: string[];
  streams?: string[];
  positions?: Since;
  recovered?: Recovered;
}

/** What a positioned push means for the stream's tracked position. */
export type Arrival = 'new' | 'duplicate' | 'epoch_changed';

/**
 * The last position seen per stream (docs/sdk.md, DESIGN §10). Offsets seen by one
 * client may skip (entries it may not see), so only order is checked, never contiguity.
 */
export class StreamPositions {
  private readonly last = new Map<string, StreamPosition>();

  /**
   * Records a push at `offset` of `epoch`. `duplicate`: at or below the last offset of the same
   * epoch (the caller drops it; the position is unchanged). `epoch_changed`: the stream's history
   * was lost since the last push, so what came in between is unknown; the new position is kept.
   */
  accept(stream: string, offset: number, epoch: string): Arrival {
    const last = this.last.get(stream);
    if (last !== undefined && last.epoch === epoch && offset <= last.offset) return 'duplicate';
    this.last.set(stream, { offset, epoch });
    return last === undefined || last.epoch === epoch ? 'new' : 'epoch_changed';
  }

  get(stream: string): StreamPosition | undefined {
    const p = this.last.get(stream);
    return p && { ...p };
  }

  /**
   * Sets the position a reply reported (`welcome`, `spectate`, `recover`: `positions`): the
   * stream resumes there for this connection, every later push of it is past it.
   */
  set(stream: string, position: StreamPosition): void {
    this.last.set(stream, { offset: position.offset, epoch: position.epoch });
  }

  /** The `since` for these streams: only those a position is known for. */
  since(streams: Iterable<string>): Since {
    const out: Since = {};
    for (const s of streams) {
      const p = this.last.get(s);
      if (p) out[s] = { ...p };
    }
    return out;
  }

  /** Forgets streams that were not recovered or are no longer subscribed. */
  forget(streams: Iterable<string>): void {
    for (const s of streams) this.last.delete(s);
  }

  /**
   * Applies a reply that recovered streams (`welcome`, `spectate`, `recover`). Per stream: true
   * when the server says every missed publication follows; false (reload its state) otherwise,
   * also for an `expected` stream the reply does not mention (no position was known to send).
   * The reply's `positions` become the streams' positions; a stream that was not recovered and
   * has none is forgotten, so its next push starts it without another alarm.
   */
  settle(expected: Iterable<string>, recovered: unknown, positions: unknown): Recovered {
    const said = recovered !== null && typeof recovered === 'object' ? (recovered as Record<string, unknown>) : {};
    const out: Recovered = {};
    for (const s of new Set([...expected, ...Object.keys(said)])) out[s] = said[s] === true;
    const at = positionsIn(positions);
    for (const [s, ok] of Object.entries(out)) if (!ok && !at[s]) this.last.delete(s);
    for (const [s, p] of Object.entries(at)) this.set(s, p);
    return out;
  }

  /**
   * A `stream_gap` push's data: the stream whose publications `from`..`to` this client will not
   * get (it moves past them), or undefined when it holds them already or the data is malformed.
   */
  gap(data: unknown): string | undefined {
    const g = data as Partial<StreamGap> | undefined;
    if (!g || typeof g.stream !== 'string' || typeof g.epoch !== 'string' || !Number.isInteger(g.to)) return undefined;
    const held = this.last.get(g.stream);
    if (held && held.epoch === g.epoch && held.offset >= g.to!) return undefined;
    // Past the gap; a position of another epoch stays (the gap's may be the older one).
    if (!held || held.epoch === g.epoch) this.set(g.stream, { offset: g.to!, epoch: g.epoch });
    return g.stream;
  }

  all(): Since {
    return this.since(this.last.keys());
  }
}

/** The stream position fields of a push, when it has all three. */
export function positionOf(msg: Record<string, unknown>): { stream: string; offset: number; epoch: string } | undefined {
  const { stream, offset, epoch } = msg;
  if (typeof stream !== 'string' || typeof epoch !== 'string' || !Number.isInteger(offset)) return undefined;
  return { stream, offset: offset as number, epoch };
}

/** The stream names of a `welcome`'s or `spectate` reply's `streams`. */
export function namesIn(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : undefined;
}

/** The well-formed entries of a reply's `positions` (stream → `{offset, epoch}`). */
export function positionsIn(value: unknown): Since {
  const out: Since = {};
  if (value === null || typeof value !== 'object') return out;
  for (const [stream, p] of Object.entries(value as Record<string, unknown>)) {
    const pos = p as Partial<StreamPosition> | null;
    if (pos && Number.isInteger(pos.offset) && typeof pos.epoch === 'string') out[stream] = { offset: pos.offset!, epoch: pos.epoch };
  }
  return out;
}
