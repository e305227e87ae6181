/**
 * Redis commands a phase of the benchmark cost, from `INFO commandstats` read before and after
 * (`cmdstat_<name>:calls=<n>,usec=...` per command, counted since the server started).
 */

/**
 * Calls (or, with `field: 'usec'`, microseconds spent) per command from the text of
 * `INFO commandstats`.
 * @param {string} info
 * @param {'calls' | 'usec'} field
 * @returns {Record<string, number>}
 */
export function parseCommandStats(info, field = 'calls') {
  const out = {};
  const value = new RegExp(`[:,]${field}=(\\d+)`);
  for (const line of info.split(/\r?\n/)) {
    const name = /^cmdstat_([^:]+):/.exec(line);
    const m = name && value.exec(line);
    if (m) out[name[1]] = Number(m[1]);
  }
  return out;
}

/**
 * Calls per command between two readings, without the `info` calls that took the readings and
 * without commands that were not called; `total` sums the rest.
 * @returns {{ total: number, byCommand: Record<string, number> }}
 */
export function commandDelta(before, after) {
  const byCommand = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after)) {
    if (name === 'info') continue;
    const n = calls - (before[name] ?? 0);
    if (n > 0) {
      byCommand[name] = n;
      total += n;
    }
  }
  return { total, byCommand };
}
