/**
 * Stream positions as a load-generator client sees them (README, Delivery guarantees): every
 * push from a stream ends with `,"stream":"<s>","offset":<n>,"epoch":"<e>"}` (the monolith
 * splices them before the closing brace, protocol/src/streams.ts `positioned`), so they are read
 * by position from the end of the frame, never by parsing the JSON; a client that held a
 * position sends it back as `since` and checks what follows for duplicates and gaps.
 */

const STREAM = ',"stream":"';
const OFFSET = '","offset":';
const EPOCH = ',"epoch":"';

/**
 * The position a positioned push carries, or undefined for a frame without one. Stream names
 * and epochs are plain (no quote or backslash: stream names are ids, epochs hex).
 * @param {string} text
 * @returns {{ stream: string, offset: number, epoch: string } | undefined}
 */
export function readPosition(text) {
  if (text.charCodeAt(text.length - 1) !== 125 /* } */ || text.charCodeAt(text.length - 2) !== 34 /* " */) return undefined;
  const e = text.lastIndexOf(EPOCH);
  if (e < 0) return undefined;
  const o = text.lastIndexOf(OFFSET, e);
  if (o < 0) return undefined;
  const s = text.lastIndexOf(STREAM, o);
  if (s < 0) return undefined;
  const offset = Number(text.slice(o + OFFSET.length, e));
  if (!Number.isSafeInteger(offset)) return undefined;
  return { stream: text.slice(s + STREAM.length, o), offset, epoch: text.slice(e + EPOCH.length, -2) };
}

/**
 * What a push at `pos` means for a client holding `held` (same stream): `next` (offset + 1),
 * `dup` (at or below the held offset), `gap` (`missing` offsets skipped), `epoch` (a new epoch:
 * the history was lost, which the client must treat as "reload", not as a gap), or `first`
 * (nothing held yet).
 * @param {{ offset: number, epoch: string } | undefined} held
 * @param {{ offset: number, epoch: string }} pos
 * @returns {{ kind: 'first' | 'next' | 'dup' | 'gap' | 'epoch', missing: number }}
 */
export function step(held, pos) {
  if (held === undefined) return { kind: 'first', missing: 0 };
  if (pos.epoch !== held.epoch) return { kind: 'epoch', missing: 0 };
  if (pos.offset <= held.offset) return { kind: 'dup', missing: 0 };
  if (pos.offset === held.offset + 1) return { kind: 'next', missing: 0 };
  return { kind: 'gap', missing: pos.offset - held.offset - 1 };
}

/** `since` for one held position: `{"<stream>": {offset, epoch}}`, or undefined when none is held. */
export function sinceOf(held) {
  return held ? { [held.stream]: { offset: held.offset, epoch: held.epoch } } : undefined;
}

/**
 * `positions` and `recovered` from a reply (`welcome`, `spectate`, `recover`): these frames are
 * rare (one per connection or request), so they are parsed.
 * @returns {{ positions: Record<string, { offset: number, epoch: string }>, recovered: Record<string, boolean> }}
 */
export function replyPositions(text) {
  const data = JSON.parse(text)?.data ?? {};
  const positions = {};
  for (const [stream, p] of Object.entries(data.positions ?? {})) {
    if (Number.isSafeInteger(p?.offset) && typeof p?.epoch === 'string') positions[stream] = { offset: p.offset, epoch: p.epoch };
  }
  const recovered = {};
  for (const [stream, ok] of Object.entries(data.recovered ?? {})) recovered[stream] = ok === true;
  return { positions, recovered };
}
