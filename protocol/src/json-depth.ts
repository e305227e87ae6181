/**
 * True when a parsed JSON value nests objects/arrays more than `max` levels deep (a top-level
 * object is depth 1; scalars add nothing). Runs per client frame on the balancer, after its
 * parse: it walks containers only, stops at the first branch past `max`, and recurses at most
 * `max` levels, so a 20,000-deep frame costs `max` steps and a flat object one pass over its
 * values without allocating.
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
