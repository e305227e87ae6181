/**
 * Latency histogram with HDR-like log-linear buckets: values (microseconds, integers) below 64 have
 * their own bucket; above, each power of two is cut into 32 linear sub-buckets, so any recorded
 * value is known to within 1/32 (3%). Recording is one Math.clz32 and an increment; merging is
 * element-wise addition, so worker processes send their counts and the parent adds them.
 */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32
const LINEAR = 2 * SUB; // values 0..63 are exact
const EXPONENTS = 32 - SUB_BITS; // up to 2^32 µs (71 minutes)
export const BUCKETS = LINEAR + (EXPONENTS - 1) * SUB;

function indexOf(v) {
  if (v < LINEAR) return v < 0 ? 0 : v;
  if (v >= 2 ** 32) return BUCKETS - 1;
  const exp = 31 - Math.clz32(v) - SUB_BITS; // ≥ 1 here
  return LINEAR + (exp - 1) * SUB + ((v >>> exp) - SUB);
}

/** The lowest value that lands in bucket i (values in a bucket are reported as its midpoint). */
function lowOf(i) {
  if (i < LINEAR) return i;
  const exp = Math.floor((i - LINEAR) / SUB) + 1;
  const sub = (i - LINEAR) % SUB;
  return (SUB + sub) * 2 ** exp;
}

function widthOf(i) {
  return i < LINEAR ? 1 : 2 ** (Math.floor((i - LINEAR) / SUB) + 1);
}

export class Histogram {
  constructor() {
    this.counts = new Float64Array(BUCKETS);
    this.total = 0;
    this.max = 0;
    this.sum = 0;
  }

  /** Records one value in microseconds (fractions are truncated). */
  record(us) {
    this.counts[indexOf(us > 0 ? Math.floor(us) : 0)]++;
    this.total++;
    this.sum += us;
    if (us > this.max) this.max = us;
  }

  /** Compact form for IPC: [bucket, count] pairs of non-empty buckets plus totals. */
  toJSON() {
    const pairs = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) pairs.push(i, this.counts[i]);
    return { pairs, total: this.total, max: this.max, sum: this.sum };
  }

  /** Adds a histogram or its toJSON() form into this one. */
  add(other) {
    const o = other instanceof Histogram ? other.toJSON() : other;
    for (let k = 0; k < o.pairs.length; k += 2) this.counts[o.pairs[k]] += o.pairs[k + 1];
    this.total += o.total;
    this.sum += o.sum;
    if (o.max > this.max) this.max = o.max;
    return this;
  }

  /** Value at quantile q (0..1) in microseconds, the midpoint of its bucket; NaN when empty. */
  quantile(q) {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(this.max, lowOf(i) + (widthOf(i) - 1) / 2);
    }
    return this.max;
  }

  mean() {
    return this.total === 0 ? NaN : this.sum / this.total;
  }

  static from(json) {
    return new Histogram().add(json);
  }
}
