import { describe, expect, it } from 'vitest';
import { deeperThan, frameDeeperThan } from './json-depth.js';
import { parseObject } from './validate.js';

/** `{"a":{"a":...1...}}` or `[[...1...]]`, `depth` containers deep, as JSON text. */
function nested(depth: number, kind: 'object' | 'array' | 'mixed'): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const array = kind === 'array' || (kind === 'mixed' && i % 2 === 1);
    open += array ? '[' : '{"a":';
    close = (array ? ']' : '}') + close;
  }
  return open + '1' + close;
}

describe('deeperThan', () => {
  it('counts a top-level container as depth 1 and scalars as nothing', () => {
    expect(deeperThan({}, 1)).toBe(false);
    expect(deeperThan({ a: 1, b: 'x', c: null, d: true }, 1)).toBe(false);
    expect(deeperThan({ a: {} }, 1)).toBe(true);
    expect(deeperThan({ a: {} }, 2)).toBe(false);
    expect(deeperThan([[]], 1)).toBe(true);
    expect(deeperThan('text', 1)).toBe(false);
    expect(deeperThan(null, 1)).toBe(false);
  });

  it.each(['object', 'array', 'mixed'] as const)('is exact at the limit for %s nesting', (kind) => {
    for (const max of [1, 2, 5, 32]) {
      expect(deeperThan(JSON.parse(nested(max, kind)), max), `${kind} ${max} deep, max ${max}`).toBe(false);
      expect(deeperThan(JSON.parse(nested(max + 1, kind)), max), `${kind} ${max + 1} deep, max ${max}`).toBe(true);
    }
  });

  it('finds a deep branch after many shallow siblings, in objects and arrays', () => {
    const wide = Array.from({ length: 1000 }, (_, i) => ({ i }));
    expect(deeperThan({ wide, last: JSON.parse(nested(40, 'mixed')) }, 32)).toBe(true);
    expect(deeperThan([...wide, JSON.parse(nested(40, 'array'))], 32)).toBe(true);
    expect(deeperThan({ wide }, 32)).toBe(false);
  });

  it('refuses a 20,000-deep frame without overflowing the stack (what JSON.stringify would do)', () => {
    for (const kind of ['object', 'array', 'mixed'] as const) {
      const text = `{"event":"ping","data":${nested(20_000, kind)}}`;
      const frame = parseObject(text);
      expect(frame).toBeDefined();
      expect(deeperThan(frame, 32)).toBe(true);
    }
  });

  it('agrees with a reference depth on random frames (fuzz)', () => {
    // A seeded generator, so a failure reproduces.
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const gen = (left: number): unknown => {
      const r = rand(10);
      if (left === 0 || r < 4) return r % 2 ? rand(100) : 's';
      const n = rand(4);
      if (r < 7) return Array.from({ length: n }, () => gen(left - 1));
      return Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, gen(left - 1)]));
    };
    const depth = (v: unknown): number =>
      typeof v !== 'object' || v === null ? 0 : 1 + Math.max(0, ...Object.values(v as object).map(depth));
    for (let i = 0; i < 2000; i++) {
      const value = JSON.parse(JSON.stringify({ data: gen(12) })) as unknown;
      const max = 1 + rand(12);
      expect(deeperThan(value, max)).toBe(depth(value) > max);
    }
  });
});

describe('frameDeeperThan', () => {
  const both = (text: string, max: number) => frameDeeperThan(text, JSON.parse(text), max);

  it('answers like deeperThan, from the text when it has too few brackets to nest past the limit', () => {
    expect(both('{"a":1,"b":"x"}', 1)).toBe(false);
    expect(both('{"a":{}}', 1)).toBe(true);
    expect(both('{"a":{}}', 2)).toBe(false);
    expect(both(nested(33, 'mixed'), 32)).toBe(true);
    expect(both(nested(32, 'mixed'), 32)).toBe(false);
  });

  it('walks when brackets inside strings or siblings pass the count, and is not fooled by them', () => {
    expect(both(JSON.stringify({ s: '{'.repeat(100) + '['.repeat(100) }), 2)).toBe(false);
    expect(both(JSON.stringify({ list: Array.from({ length: 100 }, () => ({})) }), 3)).toBe(false);
    expect(both(JSON.stringify({ list: [...Array.from({ length: 100 }, () => ({})), [[[]]]] }), 3)).toBe(true);
  });
});
