import Fastify from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import { beyondSafe, quoteBigIntegers, registerJsonBody } from './json-body.js';

describe('quoteBigIntegers', () => {
  it('quotes integers beyond 2^53 outside strings, and nothing else', () => {
    const text = '{"id":1749506853102735360,"small":1234567890,"safe":9007199254740991,"unsafe":9007199254740992,"neg":-9007199254740993,"arr":[18446744073709551615,1]}';
    expect(JSON.parse(quoteBigIntegers(text))).toEqual({
      id: '1749506853102735360',
      small: 1234567890,
      safe: 9007199254740991,
      unsafe: '9007199254740992',
      neg: '-9007199254740993',
      arr: ['18446744073709551615', 1],
    });
  });

  it('leaves strings (escaped quotes too), fractions and exponents alone', () => {
    const cases = [
      '{"s":"12345678901234567890","t":"a\\"12345678901234567890\\"b"}',
      '{"f":1.12345678901234567890,"g":12345678901234567890.5,"e":12345678901234567890e2,"E":1E+12345678901234567}',
      '"\\\\"',
      '[]',
      '12',
    ];
    for (const text of cases) expect(quoteBigIntegers(text), text).toBe(text);
    expect(JSON.parse(quoteBigIntegers('{"k\\\\":12345678901234567890}'))).toEqual({ 'k\\': '12345678901234567890' });
  });

  it('keeps malformed text malformed', () => {
    for (const text of ['{"a":12345678901234567890', '{"a:12345678901234567890}', '{"a":-}', '{"a":--12345678901234567890}', '12345678901234567890 12345678901234567890', '{"a":0012345678901234567890}', '\\', '"']) {
      expect(() => JSON.parse(quoteBigIntegers(text)), text).toThrow(SyntaxError);
    }
  });
});

describe('the unsafe-integer decision, before any auth', () => {
  it('decides by digit count: more than 16 quote, fewer never, exactly 16 compared as text with 2^53-1', () => {
    const table: Array<[string, boolean]> = [
      ['1', false],
      ['999999999999999', false], // 15 digits
      ['1000000000000000', false], // 16 digits, 10^15
      ['9007199254740990', false],
      ['9007199254740991', false], // 2^53 - 1
      ['9007199254740992', true],
      ['9100000000000000', true],
      ['9999999999999999', true],
      ['10000000000000000', true], // 17 digits
      ['9'.repeat(400), true],
    ];
    for (const [digits, quoted] of table) {
      expect(beyondSafe(`x${digits}y`, 1, 1 + digits.length), digits).toBe(quoted);
      for (const literal of [digits, `-${digits}`]) {
        expect(JSON.parse(quoteBigIntegers(`[${literal}]`)), literal).toEqual([quoted ? literal : Number(literal)]);
      }
    }
  });

  it('handles a 1 MB run of digits, and 1 MB of 16-digit literals, in one pass without BigInt', () => {
    // BigInt's cost grows with the digits (a 1 MB literal took ~164 ms): none may be made.
    vi.stubGlobal('BigInt', () => {
      throw new Error('BigInt called');
    });
    try {
      const run = '9'.repeat(1_000_000);
      expect(JSON.parse(quoteBigIntegers(`{"n":${run},"m":-${run}}`))).toEqual({ n: run, m: `-${run}` });
      const many = `[${'9007199254740992,9007199254740991,'.repeat(30_000)}1]`;
      const parsed = JSON.parse(quoteBigIntegers(many)) as unknown[];
      expect(parsed).toHaveLength(60_001);
      expect(parsed.slice(0, 2)).toEqual(['9007199254740992', 9007199254740991]);
      const long = `[${'12345678901234567890,'.repeat(50_000)}1]`;
      expect(JSON.parse(quoteBigIntegers(long))).toHaveLength(50_001);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('registerJsonBody', () => {
  it('parses application/json bodies with big integers as digits; refuses bad JSON and prototype poisoning with 400', async () => {
    const app = Fastify();
    registerJsonBody(app);
    app.post('/echo', async (req) => req.body);
    const post = (payload: string) => app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });
    expect((await post('{"id":1749506853102735360,"n":1}')).json()).toEqual({ id: '1749506853102735360', n: 1 });
    expect((await post('{"id":12345678901234567890')).statusCode).toBe(400);
    expect((await post('{"__proto__":{"admin":true}}')).statusCode).toBe(400);
    await app.close();
  });
});
