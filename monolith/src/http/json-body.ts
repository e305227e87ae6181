import type { FastifyInstance } from 'fastify';

/** 2^53 - 1 as text: 16 digits. */
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

/**
 * Whether the digits text[start, end) of an integer literal (no sign, no leading zero) exceed
 * 2^53 - 1, decided by their count: more than 16 always do, fewer never, and exactly 16 compare
 * as text (digit strings of equal length order as their values). No BigInt: this runs on every
 * body before any route's auth, and BigInt's cost grows with the digits (~164 ms for 1 MB).
 */
export function beyondSafe(text: string, start: number, end: number): boolean {
  const digits = end - start;
  if (digits !== MAX_SAFE_DIGITS.length) return digits > MAX_SAFE_DIGITS.length;
  return text.slice(start, end) > MAX_SAFE_DIGITS;
}

/**
 * Quotes the integer literals of JSON text that a JS number cannot hold exactly (beyond 2^53-1,
 * e.g. the architus backend's 64-bit hoarfrost ids and snowflakes), so that JSON.parse yields
 * their digits as strings instead of rounded numbers. Literals inside strings, fractions and
 * exponents are left alone. One linear pass; text that is not JSON stays not JSON (JSON.parse
 * refuses it as before), since only digit runs outside strings change.
 */
export function quoteBigIntegers(text: string): string {
  let out = '';
  let copied = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const negative = c === 0x2d;
    if (!negative && (c < 0x30 || c > 0x39)) continue;
    let end = negative ? i + 1 : i;
    while (end < text.length && text.charCodeAt(end) >= 0x30 && text.charCodeAt(end) <= 0x39) end++;
    const digits = end - (negative ? i + 1 : i);
    const next = text[end];
    if (next === '.' || next === 'e' || next === 'E') {
      // A fraction or an exponent is a float: left to JSON.parse whole (its digits after the
      // point are not an integer of their own).
      while (end < text.length && /[0-9.eE+-]/.test(text[end]!)) end++;
    } else if (digits > 0 && text[end - digits] !== '0' && beyondSafe(text, end - digits, end)) {
      // (A leading zero is not JSON: left for JSON.parse to refuse, not made a valid string.)
      out += `${text.slice(copied, i)}"${text.slice(i, end)}"`;
      copied = end;
    }
    i = end - 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * The monolith's `application/json` body parser: fastify's own (prototype-poisoning checks,
 * errors as 400), after `quoteBigIntegers`. Every body comes from a backend whose ids are 64-bit
 * integers; a posted integer beyond 2^53 therefore arrives as its digits in a string, never
 * silently rounded (a log entry's `id`, an entity's snowflake field).
 */
export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => parse(req, quoteBigIntegers(body as string), done));
}
