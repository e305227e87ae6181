import { describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { chooseRoom } from './session-support.js';
import { SessionEvent, SessionState, TRANSITIONS, transition } from './session-states.js';

describe('chooseRoom', () => {
  it('defaults to the subject’s own private room', () => {
    expect(chooseRoom(undefined, '42', false)).toBe('user:42');
    expect(chooseRoom(undefined, 'abc', true)).toBe('guest:abc');
  });

  it('refuses someone else’s private room and invalid names', () => {
    expect(chooseRoom('user:43', '42', false)).toBeUndefined();
    expect(chooseRoom('guest:42', '42', false)).toBeUndefined();
    expect(chooseRoom('user:42', '42', false)).toBe('user:42');
    expect(chooseRoom('has/slash', '42', false)).toBeUndefined();
    expect(chooseRoom('', '42', false)).toBeUndefined();
  });

  it('passes public rooms on to the owning monolith', () => {
    expect(chooseRoom('lobby', '42', false)).toBe('lobby');
  });
});

describe('session state table', () => {
  it('is deterministic: one target per (state, event)', () => {
    const keys = TRANSITIONS.map((t) => `${t.from}|${t.on}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reaches OPEN only through a verified token and never leaves CLOSED', () => {
    expect(transition(SessionState.AWAITING_AUTH, SessionEvent.APP_FRAME)).toBeUndefined();
    expect(transition(SessionState.AWAITING_AUTH, SessionEvent.AUTH_FRAME)).toBe(SessionState.VERIFYING);
    expect(transition(SessionState.VERIFYING, SessionEvent.TOKEN_OK)).toBe(SessionState.OPEN);
    for (const e of Object.values(SessionEvent)) expect(transition(SessionState.CLOSED, e)).toBeUndefined();
  });

  it('names only catalogued close codes on its closing edges', () => {
    for (const t of TRANSITIONS) {
      if (!t.close) continue;
      for (const name of t.close.split(/[ ,|]+/).filter(Boolean)) {
        if (name.endsWith('*')) continue;
        expect(Object.keys(CloseCode), name).toContain(name);
      }
    }
  });
});
