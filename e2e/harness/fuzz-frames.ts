import { prng } from '../../monolith/src/store/fixture.js';

/**
 * The seeded script generator of e2e/tests/fuzz-frames.test.ts: its limits (the stack runs with
 * them), a PRNG, and for each fuzz connection a short script of frames after its auth.
 */

export const SEED = seedFromEnv();
/** Fuzz connections, and how many play at once. */
export const CONNECTIONS = 48;
export const WIDTH = 8;

export const MAX_PAYLOAD_BYTES = 1024;
export const MAX_JSON_DEPTH = 8;
/** One token a second: over a run of a few seconds the refill is a handful of tokens. */
export const MESSAGE_RATE = 1;
export const MESSAGE_BURST = 200;
/** A flood is far past the burst, so the refill during a connection's life cannot reach its end. */
export const FLOOD = MESSAGE_BURST + 60;
/** The watcher's round trips during the fuzz: the burst less its auth and the final checks. */
export const WATCHER_BUDGET = MESSAGE_BURST - 10;
export const WAIT_MS = 5000;

export function seedFromEnv(): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return 0x5eed_f00d;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Seeded generator

export type Rng = () => number;

/** mulberry32 (the demo fixture's): the same sequence on every platform for one seed. */
export const mulberry32: (seed: number) => Rng = prng;

/** Each connection has its own stream: its script does not depend on what the others drew. */
export function connectionRng(seed: number, index: number): Rng {
  return mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

export const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
export const chance = (rng: Rng, p: number): boolean => rng() < p;

/** Characters for strings: JSON-special ones, brackets, controls, 2- and 3-byte UTF-8, separators. */
export const BMP_CHARS = ['a', 'Z', '0', ' ', '"', '\\', '/', '{', '}', '[', ']', ':', ',', '\n', '\t', '\u0001', 'é', 'ß', '✓', '中', '\u2028', '\ufffd', '\u00a0'];
/** 4-byte UTF-8 (surrogate pairs): only where length is not checked against a schema. */
export const ASTRAL_CHARS = ['😀', '𝄞', '🂡'];

export function randomString(rng: Rng, maxLength: number, astral = true): string {
  const n = int(rng, 0, maxLength);
  let out = '';
  for (let i = 0; i < n; i++) out += astral && chance(rng, 0.1) ? pick(rng, ASTRAL_CHARS) : pick(rng, BMP_CHARS);
  return out;
}

export const KEYS = ['a', 'b', 'id', 'room', 'type', 'x-y', '', 'é', '__proto__', 'constructor', 'toString', 'event', '_id'];

export function scalar(rng: Rng): unknown {
  switch (int(rng, 0, 6)) {
    case 0:
      return int(rng, -1e6, 1e6);
    case 1:
      return int(rng, -1000, 1000) / 8;
    case 2:
      return randomString(rng, 12);
    case 3:
      return chance(rng, 0.5);
    case 4:
      return null;
    case 5:
      return Number.MAX_SAFE_INTEGER;
    default:
      return '';
  }
}

/** A random JSON value at most `depth` containers deep. */
export function randomValue(rng: Rng, depth: number): unknown {
  if (depth === 0 || chance(rng, 0.4)) return scalar(rng);
  const n = int(rng, 0, 4);
  if (chance(rng, 0.5)) return Array.from({ length: n }, () => randomValue(rng, depth - 1));
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) Object.defineProperty(obj, pick(rng, KEYS), { value: randomValue(rng, depth - 1), enumerable: true, writable: true, configurable: true });
  return obj;
}

/** A value exactly `depth` containers deep (0: a scalar), shallow siblings along the way. */
export function nestedValue(rng: Rng, depth: number): unknown {
  if (depth === 0) return scalar(rng);
  const inner = nestedValue(rng, depth - 1);
  const siblings = Array.from({ length: int(rng, 0, 2) }, () => (depth > 1 && chance(rng, 0.3) ? (chance(rng, 0.5) ? [] : {}) : scalar(rng)));
  const items = [...siblings];
  items.splice(int(rng, 0, items.length), 0, inner);
  if (chance(rng, 0.5)) return items;
  const obj: Record<string, unknown> = {};
  items.forEach((v, i) => (obj[`k${i}`] = v));
  return obj;
}

/** Raw bracket nesting, like the audit's frames: `depth` arrays or objects around `1`. */
export function bracketText(rng: Rng, depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    const array = chance(rng, 0.5);
    open += array ? '[' : '{"n":';
    close = (array ? ']' : '}') + close;
  }
  return open + '1' + close;
}

/** ASCII and multi-byte characters (none JSON-special) making exactly `bytes` UTF-8 bytes. */
export function padOfBytes(rng: Rng, bytes: number, multibyte: boolean): string {
  let out = '';
  let left = bytes;
  const wide = ['é', '中', '😀'];
  while (multibyte && left >= 4) {
    const c = pick(rng, wide);
    out += c;
    left -= Buffer.byteLength(c);
  }
  return out + 'p'.repeat(left);
}

// ---------------------------------------------------------------------------------------------
// Scripts

export type Item =
  | { t: 'text'; text: string; label: string }
  | { t: 'binary'; bytes: Buffer; label: string }
  | { t: 'wsping'; payload: Buffer | undefined; label: string }
  | { t: 'wspong'; payload: Buffer; label: string }
  | { t: 'wsflood'; count: number; label: string }
  | { t: 'textflood'; count: number; label: string };

export interface Script {
  index: number;
  items: Item[];
  /** Indices after which the runner waits for the replies so far (the last item always ends one). */
  breaks: Set<number>;
}

export interface Ctx {
  rng: Rng;
  /** Next request id: every id on a connection is distinct. */
  n: number;
  token: string;
}

/** A correlation id, valid (integer, or string of at most 64 characters) unless asked otherwise. */
export function requestId(ctx: Ctx, valid = true): unknown {
  const n = ctx.n++;
  const rng = ctx.rng;
  if (valid) {
    switch (int(rng, 0, 4)) {
      case 0:
        return -n;
      case 1: {
        // Up to exactly 64 characters, BMP only (the schema counts UTF-16 units).
        const head = `s${n}-`;
        return chance(rng, 0.3) ? (head + 'x'.repeat(64)).slice(0, 64) : head + randomString(rng, 64 - head.length, false);
      }
      default:
        return n;
    }
  }
  return pick(rng, [n + 0.5, `L${n}-${'y'.repeat(70)}`, null, true, { n }, [n], -n - 0.25]);
}

/** A `data` for a frame that must stay under MAX_PAYLOAD_BYTES with room to spare. */
export function smallData(ctx: Ctx): unknown {
  for (let tries = 0; tries < 10; tries++) {
    const v = randomValue(ctx.rng, int(ctx.rng, 0, MAX_JSON_DEPTH - 1));
    if (Buffer.byteLength(JSON.stringify(v)) < MAX_PAYLOAD_BYTES / 2) return v;
  }
  return 'small';
}

export function text(value: object, label: string): Item {
  return { t: 'text', text: JSON.stringify(value), label };
}

export type Gen = (ctx: Ctx) => Item;

/** Frames that leave the connection open. */
export const KEPT: Record<string, Gen> = {
  ping: (ctx) => (chance(ctx.rng, 0.3) ? text({ event: 'ping', _id: requestId(ctx) }, 'ping') : text({ event: 'ping', _id: requestId(ctx), data: smallData(ctx) }, 'ping+data')),
  pingNoId: (ctx) => text(chance(ctx.rng, 0.5) ? { event: 'ping' } : { event: 'ping', data: smallData(ctx) }, 'ping without _id'),
  pingExtras: (ctx) => {
    // Envelope-looking fields are message content (framing.test.ts, envelope injection).
    const frame: Record<string, unknown> = { event: 'ping', _id: requestId(ctx) };
    for (const key of ['id', 'room', 'type', 'token', 'conn', 'stream', '__proto__', 'constructor']) {
      if (chance(ctx.rng, 0.4)) Object.defineProperty(frame, key, { value: scalar(ctx.rng), enumerable: true });
    }
    return text(frame, 'ping+extra fields');
  },
  unknown: (ctx) => {
    const name = chance(ctx.rng, 0.2) ? `fz_${'e'.repeat(61)}` : `fz_${randomString(ctx.rng, 20, false).replace(/[\u0000-\u001f]/g, '')}`;
    return text({ event: name, _id: requestId(ctx), ...(chance(ctx.rng, 0.5) ? { data: smallData(ctx) } : {}) }, `unknown event (${name.length} chars)`);
  },
  wrongShape: (ctx) => {
    const variants: Array<() => [object, string]> = [
      () => [{ _id: requestId(ctx), data: smallData(ctx) }, 'no event'],
      () => [{ event: pick(ctx.rng, [7, null, true, ['ping'], { e: 'ping' }]), _id: requestId(ctx) }, 'event not a string'],
      () => [{ event: '', _id: requestId(ctx) }, 'empty event'],
      () => [{ event: `fz_${'e'.repeat(62)}`, _id: requestId(ctx) }, '65-character event'],
      () => [{ event: 'ping', _id: requestId(ctx, false) }, 'bad _id'],
      () => [{ event: pick(ctx.rng, ['ping', 'fz_x']), _id: requestId(ctx, false), data: smallData(ctx) }, 'bad _id+data'],
    ];
    const [frame, label] = pick(ctx.rng, variants)();
    return text(frame, `wrong shape: ${label}`);
  },
  authWrongShape: (ctx) => {
    // After auth, an auth frame the schema refuses is answered bad_request by the balancer.
    const id = chance(ctx.rng, 0.8) ? requestId(ctx) : requestId(ctx, false);
    const frame = pick(ctx.rng, [
      { action: 'auth', _id: id },
      { action: 'auth', token: 5, _id: id },
      { action: 'auth', token: '', _id: id },
      { action: 'auth', token: 'x', room: 7, _id: id },
      { action: 'auth', token: 'x', room: nestedValue(ctx.rng, MAX_JSON_DEPTH - 1), _id: id },
      { action: 'auth', token: 'x', _id: typeof id === 'number' ? id + 0.5 : `L${'z'.repeat(70)}` },
    ]);
    return text(frame, 'auth frame of the wrong shape');
  },
  reauthBad: (ctx) => text({ action: 'auth', token: pick(ctx.rng, ['not-a-jwt', 'a.b.c', 'x'.repeat(40)]), _id: requestId(ctx) }, 're-auth with a bad token'),
  reauthSame: (ctx) => text({ action: 'auth', token: ctx.token, _id: requestId(ctx) }, 're-auth with the same token'),
  atDepthLimit: (ctx) => {
    // The frame is depth 1: data MAX_JSON_DEPTH - 1 deep makes exactly the limit.
    const deep = nestedValue(ctx.rng, MAX_JSON_DEPTH - 1);
    if (chance(ctx.rng, 0.3)) return text({ event: 'ping', _id: requestId(ctx), extra: deep }, `depth ${MAX_JSON_DEPTH} in another field`);
    if (chance(ctx.rng, 0.3)) return { t: 'text', text: `{"event":"ping","_id":${JSON.stringify(requestId(ctx))},"data":${bracketText(ctx.rng, MAX_JSON_DEPTH - 1)}}`, label: `depth ${MAX_JSON_DEPTH} (brackets)` };
    return text({ event: 'ping', _id: requestId(ctx), data: deep }, `depth ${MAX_JSON_DEPTH}`);
  },
  bracketsInStrings: (ctx) => {
    const k = int(ctx.rng, MAX_JSON_DEPTH, 100);
    return text({ event: 'ping', _id: requestId(ctx), data: { s: '['.repeat(k) + '{'.repeat(k), list: [[], {}, [[]]] } }, 'brackets inside strings');
  },
  atSizeLimit: (ctx) => {
    const head = `{"event":"ping","_id":${JSON.stringify(requestId(ctx))},"data":"`;
    const tail = '"}';
    const multibyte = chance(ctx.rng, 0.5);
    const frame = head + padOfBytes(ctx.rng, MAX_PAYLOAD_BYTES - Buffer.byteLength(head + tail), multibyte) + tail;
    return { t: 'text', text: frame, label: `exactly ${MAX_PAYLOAD_BYTES} bytes${multibyte ? ' (multi-byte)' : ''}` };
  },
  duplicateKeys: (ctx) => {
    // JSON.parse keeps the last of a repeated key, on the balancer and the monolith alike.
    const id = JSON.stringify(requestId(ctx));
    const frame = pick(ctx.rng, [
      `{"event":"fz_first","_id":${id},"event":"ping"}`,
      `{"event":"ping","_id":${id},"event":"fz_last"}`,
      `{ "event" : "p\\u0069ng" ,\n\t"_id" : ${id} , "data" : "\\ud83d\\ude00\\u2028" }`,
      `{"_id":${id},"data":{"a":1,"a":[1,2]},"event":"ping"}`,
    ]);
    return { t: 'text', text: frame, label: 'repeated keys / escapes / whitespace' };
  },
  wsPing: (ctx) => {
    const payload = pick(ctx.rng, [undefined, Buffer.alloc(0), Buffer.from(randomString(ctx.rng, 30)).subarray(0, 125), Buffer.alloc(125, int(ctx.rng, 0, 255))]);
    return { t: 'wsping', payload, label: `websocket ping (${payload?.length ?? 'no'} payload)` };
  },
  wsPong: (ctx) => {
    const payload = pick(ctx.rng, [Buffer.alloc(0), Buffer.from('unsolicited'), Buffer.alloc(125, 7)]);
    return { t: 'wspong', payload, label: `unsolicited websocket pong (${payload.length} bytes)` };
  },
};

/** Frames that close the connection (small ones: they may also follow another fatal frame). */
export const FATAL: Record<string, Gen> = {
  malformed: (ctx) => {
    const valid = JSON.stringify({ event: 'ping', _id: requestId(ctx), data: smallData(ctx) });
    const frame = pick(ctx.rng, [
      '{"event":"ping",',
      '[1,2]',
      '"x"',
      'null',
      '42',
      'true',
      '',
      ' ',
      '\uFEFF{"event":"ping"}',
      "{'event':'ping'}",
      '{"event":"ping","_id":1,}',
      '{"event":"ping","data":NaN}',
      '{"event":"ping"} // comment',
      '{"event":"ping","data":"\u0001"}',
      '{"event":"ping","data":"\\x41"}',
      '{"event":"ping","data":01}',
      '{"event":"ping","_id":3} {"event":"ping","_id":4}',
      '{"event":"ping","_id":3}}',
      '{"event":"ping","_id":3,"data":"',
      `[${bracketText(ctx.rng, MAX_JSON_DEPTH + 4)}]`,
      valid.slice(0, int(ctx.rng, 1, valid.length - 1)),
    ]);
    return { t: 'text', text: frame, label: `malformed ${JSON.stringify(frame.slice(0, 40))}` };
  },
  binary: (ctx) => {
    const bytes = pick(ctx.rng, [
      Buffer.from(JSON.stringify({ event: 'ping', _id: requestId(ctx) })),
      Buffer.alloc(0),
      Buffer.from(Array.from({ length: int(ctx.rng, 1, 300) }, () => int(ctx.rng, 0, 255))),
      Buffer.alloc(MAX_PAYLOAD_BYTES + int(ctx.rng, 1, 500), 0x7b),
    ]);
    return { t: 'binary', bytes, label: `binary (${bytes.length} bytes)` };
  },
  tooDeep: (ctx) => {
    const depth = MAX_JSON_DEPTH + pick(ctx.rng, [1, 1, 2, int(ctx.rng, 3, 40)]);
    const id = JSON.stringify(requestId(ctx));
    const variants: Array<() => string> = [
      () => JSON.stringify({ event: 'ping', _id: JSON.parse(id) as unknown, data: nestedValue(ctx.rng, depth - 1) }),
      () => `{"event":"ping","_id":${id},"data":${bracketText(ctx.rng, depth - 1)}}`,
      () => `{"event":"fz_deep","_id":${bracketText(ctx.rng, depth - 1)}}`,
      () => `{"action":"auth","token":"t","room":${bracketText(ctx.rng, depth - 1)}}`,
      () => JSON.stringify({ event: 'ping', _id: JSON.parse(id) as unknown, a: [1, { b: nestedValue(ctx.rng, depth - 3) }] }),
    ];
    const frame = pick(ctx.rng, variants)();
    return { t: 'text', text: frame, label: `nested ${depth} deep` };
  },
  tooDeepButMalformed: (ctx) => ({ t: 'text', text: `{"event":"ping","_id":${ctx.n++},"data":${'['.repeat(MAX_JSON_DEPTH + int(ctx.rng, 1, 30))}`, label: 'deep and unterminated' }),
  tooDeepAndOversized: (ctx) => {
    const frame = JSON.stringify({ event: 'ping', _id: requestId(ctx), pad: 'p'.repeat(MAX_PAYLOAD_BYTES), data: nestedValue(ctx.rng, MAX_JSON_DEPTH + 2) });
    return { t: 'text', text: frame, label: `deep and ${Buffer.byteLength(frame)} bytes` };
  },
  oversized: (ctx) => {
    const multibyte = chance(ctx.rng, 0.4);
    const head = `{"event":"ping","_id":${JSON.stringify(requestId(ctx))},"data":"`;
    const tail = '"}';
    const bytes = pick(ctx.rng, [MAX_PAYLOAD_BYTES + 1, int(ctx.rng, MAX_PAYLOAD_BYTES + 2, 4 * MAX_PAYLOAD_BYTES)]);
    const frame = head + padOfBytes(ctx.rng, bytes - Buffer.byteLength(head + tail), multibyte) + tail;
    const malformed = chance(ctx.rng, 0.2);
    const sent = malformed ? frame.slice(0, -1) + '\u00e9\u00e9' : frame;
    return { t: 'text', text: sent, label: `${Buffer.byteLength(sent)} bytes (${sent.length} characters)${malformed ? ', malformed' : ''}` };
  },
};

/** Fatal endings that must be the last item (many frames). */
export const FLOODS: Record<string, Gen> = {
  wsFlood: () => ({ t: 'wsflood', count: FLOOD, label: `${FLOOD} websocket pings` }),
  textFlood: () => ({ t: 'textflood', count: FLOOD, label: `${FLOOD} text pings` }),
};

export const KEPT_KINDS = Object.keys(KEPT);
export const ENDINGS = [...Object.keys(FATAL), ...Object.keys(FLOODS), 'open'];
/** Random endings lean on nesting, the newest check (and the one closest to a monolith's stack). */
export const WEIGHTED_ENDINGS = [...ENDINGS, 'tooDeep', 'tooDeep', 'tooDeepButMalformed', 'malformed', 'oversized', 'open'];

/** A generated item whose text size passes `ok` (redrawn a few times, then the last draw as is). */
export function fitting(ctx: Ctx, gen: Gen, ok: (bytes: number) => boolean): Item {
  let item = gen(ctx);
  for (let tries = 0; tries < 20 && item.t === 'text' && !ok(Buffer.byteLength(item.text)); tries++) item = gen(ctx);
  return item;
}

export function generate(index: number, token: string): Script {
  const rng = connectionRng(SEED, index);
  const ctx: Ctx = { rng, n: 1, token };
  const items: Item[] = [];
  const breaks = new Set<number>();
  // The first connections cover every kind of frame and every ending; the rest draw at random.
  const forcedKept = index < KEPT_KINDS.length ? KEPT_KINDS[index] : undefined;
  const ending = index < ENDINGS.length ? ENDINGS[index]! : pick(rng, WEIGHTED_ENDINGS);
  const kept = int(rng, forcedKept ? 1 : 0, 12);
  let reauthInChunk = false;
  for (let k = 0; k < kept; k++) {
    let kind = k === 0 && forcedKept ? forcedKept : pick(rng, KEPT_KINDS);
    // Two re-auths in flight at once: the later supersedes the earlier, whose reply is dropped
    // (its sequence number, by design). One per chunk keeps every reply owed.
    if (kind.startsWith('reauth')) {
      if (reauthInChunk) kind = 'ping';
      reauthInChunk = true;
    }
    items.push(fitting(ctx, KEPT[kind]!, (b) => b <= MAX_PAYLOAD_BYTES));
    if (chance(rng, 0.3)) {
      breaks.add(items.length - 1);
      reauthInChunk = false;
    }
  }
  if (ending !== 'open') {
    if (items.length) breaks.add(items.length - 1);
    const flood = FLOODS[ending];
    if (flood) items.push(flood(ctx));
    else {
      // Oversized ones are meant to be; the others stay under the limit so their own check decides.
      const big = ending === 'oversized' || ending === 'tooDeepAndOversized' || ending === 'binary';
      items.push(fitting(ctx, FATAL[ending]!, (b) => big || b <= MAX_PAYLOAD_BYTES));
      // A few small frames after the fatal one, in the same write: the first fatal frame decides.
      const any = { ...KEPT, ...FATAL };
      for (let k = int(rng, 0, 3); k > 0; k--) items.push(any[pick(rng, Object.keys(any))]!(ctx));
    }
  }
  if (items.length) breaks.add(items.length - 1);
  return { index, items, breaks };
}

