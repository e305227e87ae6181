import { describe, expect, it } from 'vitest';
import { CloseCode, CloseReason, RECONNECT_RANGE, TERMINAL_RANGE, closeCodeName, isTerminal } from './close-codes.js';
import { ErrorCode, ErrorHuman } from './errors.js';

describe('close code catalogue', () => {
  const entries = Object.entries(CloseCode);

  it('has unique codes, each inside the documented ranges or a terminal RFC 6455 code', () => {
    const values = entries.map(([, v]) => v);
    expect(new Set(values).size).toBe(values.length);
    for (const [name, code] of entries) {
      const inRange = (code >= RECONNECT_RANGE.min && code <= RECONNECT_RANGE.max) || (code >= TERMINAL_RANGE.min && code <= TERMINAL_RANGE.max);
      // A standard code below 4000 only where RFC 6455 names the case (INVALID_UTF8 is 1007).
      expect(inRange || (code < 4000 && isTerminal(code)), name).toBe(true);
    }
  });

  it('makes the codes added for the security audit terminal', () => {
    expect(isTerminal(CloseCode.TOO_DEEP)).toBe(true);
    expect(isTerminal(CloseCode.INVALID_UTF8)).toBe(true);
    expect(CloseCode.INVALID_UTF8).toBe(1007);
  });

  it('has a reason of at most 123 bytes for every code (RFC 6455 close frame limit)', () => {
    for (const [name] of entries) {
      const reason = CloseReason[name as keyof typeof CloseReason];
      expect(reason, name).toBeTruthy();
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    }
  });

  it('classifies reconnect and terminal codes', () => {
    expect(isTerminal(CloseCode.DRAINING)).toBe(false);
    expect(isTerminal(CloseCode.TOKEN_EXPIRED)).toBe(false);
    expect(isTerminal(CloseCode.SLOW_CONSUMER)).toBe(false);
    expect(isTerminal(CloseCode.AUTH_TIMEOUT)).toBe(true);
    expect(isTerminal(CloseCode.TOKEN_INVALID)).toBe(true);
    expect(isTerminal(CloseCode.FORBIDDEN_ROOM)).toBe(true);
    expect(isTerminal(1000)).toBe(true);
    expect(isTerminal(1009)).toBe(true);
    expect(isTerminal(1006)).toBe(false);
    expect(isTerminal(1001)).toBe(false);
    expect(isTerminal(1012)).toBe(false);
  });

  it('maps codes back to names', () => {
    expect(closeCodeName(4100)).toBe('AUTH_TIMEOUT');
    expect(closeCodeName(1234)).toBeUndefined();
  });
});

describe('error code catalogue', () => {
  it('has unique snake_case codes with human text', () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
    for (const code of values) {
      expect(code).toMatch(/^[a-z_]+$/);
      expect(ErrorHuman[code].length).toBeGreaterThan(5);
    }
  });
});
