/**
 * True when JSON `text`, parsed as `value`, nests objects/arrays more than `max` levels deep (a
 * top-level object is depth 1; scalars add nothing). Runs per client frame on the balancer, after
 * its parse, in two steps:
 *
 * 1. Nesting past `max` needs more than `max` containers, so more than `max` `{`/`[` characters
 *    in the text (one per container; those inside strings only over-count). Counting them stops
 *    at `max + 1`, with native `indexOf` scans: a usual frame, with a handful, ends here.
 * 2. Otherwise `deeperThan` walks the value.
 */
export function frameDeeperThan(text: string, value: unknown, max: number): boolean {
  let seen = 0;
  for (const bracket of ['{', '[']) {
    for (let at = text.indexOf(bracket); at !== -1; at = text.indexOf(bracket, at + 1)) {
      if (++seen > max) return deeperThan(value, max);
    }
  }
  return false;
}

/**
 * True when a parsed JSON value nests objects/arrays more than `max` levels deep (a top-level
 * object is depth 1). It walks containers only, stops at the first branch past `max` and
 * recurses at most `max` levels, so a 20,000-deep value costs `max` steps; a wide one costs one
 * pass over its values, without allocating.
 */
export function deeperThan(value: unknown, max: number): boolean {
  return typeof value === 'object' && value !== null && nestsPast(value, max - 1);
}

/** `container` is at the current level; `left` is how many more levels below it are allowed. */
function nestsPast(container: object, left: number): boolean {
  if (Array.isArray(container)) {
    for (let i = 0; i < container.length; i++) {
      const v: unknown = container[i];
      if (typeof v === 'object' && v !== null && (left === 0 || nestsPast(v, left - 1))) return true;
    }
    return false;
  }
  const record = container as Record<string, unknown>;
  // for-in over a JSON.parse result: own enumerable keys only (no prototype chain), no key array.
  for (const key in record) {
    const v = record[key];
    if (typeof v === 'object' && v !== null && (left === 0 || nestsPast(v, left - 1))) return true;
  }
  return false;
}
