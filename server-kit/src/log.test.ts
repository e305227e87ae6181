import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLog, LogLimiter } from './log.js';

/** A log writing into an array of parsed lines. */
function capture(level: 'debug' | 'info' = 'debug') {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLog('unit', level, { format: 'json', destination }), lines };
}

describe('createLog (pino)', () => {
  it('writes one JSON line per event with t, level by name, service, msg and the fields; filters by level', () => {
    const { log, lines } = capture('info');
    log.debug('hidden');
    log.info('link ready', { address: '127.0.0.1:1' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'unit', msg: 'link ready', address: '127.0.0.1:1' });
    expect(Number.isNaN(Date.parse(lines[0]!.t as string))).toBe(false);
  });

  it('redacts tokens, secrets, credentials and payloads, also one object down, and binds child fields', () => {
    const { log, lines } = capture();
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig';
    log.child!({ conn: 'c1' }).warn('refused', { token, detail: `bad ${token}`, frame: '{"secret":1}', req: { headers: { authorization: `Bearer ${token}` } }, auth: { password: 'pw', secret: 's' }, reason: 'bad_signature' });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(token.slice(0, 20));
    expect(text).not.toContain('"pw"');
    expect(lines[0]).toMatchObject({ conn: 'c1', reason: 'bad_signature', token: '[redacted]', detail: '[redacted]', frame: '[redacted]', auth: { password: '[redacted]', secret: '[redacted]' } });
  });
});

describe('LogLimiter', () => {
  it('lets one line per key per window through and counts the rest; clear() lets the next one through', () => {
    let now = 0;
    const limiter = new LogLimiter(1000, () => now);
    expect(limiter.allow('a')).toBe(0);
    expect(limiter.allow('a')).toBeUndefined();
    expect(limiter.allow('b')).toBe(0);
    now = 999;
    expect(limiter.allow('a')).toBeUndefined();
    now = 1000;
    expect(limiter.allow('a')).toBe(2);
    limiter.clear('a');
    expect(limiter.allow('a')).toBe(0);
  });
});
