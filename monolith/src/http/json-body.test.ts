import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { quoteBigIntegers, registerJsonBody } from './json-body.js';

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

  it('keeps malformed text malformed, in linear time', () => {
    for (const text of ['{"a":12345678901234567890', '{"a:12345678901234567890}', '{"a":-}', '{"a":--12345678901234567890}', '12345678901234567890 12345678901234567890', '{"a":0012345678901234567890}', '\\', '"']) {
      expect(() => JSON.parse(quoteBigIntegers(text)), text).toThrow(SyntaxError);
    }
    const long = `[${'12345678901234567890,'.repeat(50_000)}1]`;
    const started = performance.now();
    expect(JSON.parse(quoteBigIntegers(long))).toHaveLength(50_001);
    expect(performance.now() - started).toBeLessThan(2000);
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
