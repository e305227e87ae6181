import { describe, expect, it } from 'vitest';
import { chooseRoom } from './room-policy.js';

describe('chooseRoom with a subject that cannot form a room', () => {
  it.each(['eve/x', '../admin', 'eve\n', 'eve\u0000', 'x'.repeat(124)])('refuses %j, its own room and a shared one alike', (subject) => {
    expect(chooseRoom(undefined, subject, false)).toBeUndefined();
    expect(chooseRoom(undefined, subject, true)).toBeUndefined();
    expect(chooseRoom(`user:${subject}`, subject, false)).toBeUndefined();
    expect(chooseRoom('lobby', subject, false)).toBeUndefined();
  });

  it('still admits a valid subject to its own room and a shared one', () => {
    expect(chooseRoom(undefined, 'eve', false)).toBe('user:eve');
    expect(chooseRoom('lobby', 'eve', true)).toBe('lobby');
  });
});
