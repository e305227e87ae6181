import { describe, expect, it } from 'vitest';
import { isPrivateRoom, isRoomName, ownRoom } from './ids.js';

describe('ownRoom', () => {
  it('names a user room and a guest room', () => {
    expect(ownRoom('42', false)).toBe('user:42');
    expect(ownRoom('3f2a-b', true)).toBe('guest:3f2a-b');
    expect(isPrivateRoom(ownRoom('42', false)!)).toBe(true);
  });

  it.each([
    ['a slash', 'alice/evil'],
    ['a path', '../../etc'],
    ['a newline', 'alice\nDEL gw:*'],
    ['a trailing newline', 'alice\n'],
    ['NUL', 'alice\u0000'],
    ['a space', 'alice bob'],
    ['non-ASCII', 'ålice'],
    ['too long for the room pattern', 'x'.repeat(124)],
  ])('is undefined for a subject with %s', (_what, subject) => {
    expect(ownRoom(subject, false)).toBeUndefined();
    expect(ownRoom(subject, true)).toBeUndefined();
  });

  it('accepts the longest subject the room pattern allows', () => {
    // `user:` plus 123 characters is the pattern's 128.
    expect(ownRoom('x'.repeat(123), false)).toBe(`user:${'x'.repeat(123)}`);
    expect(ownRoom('x'.repeat(123), true)).toBeUndefined();
  });
});

describe('isRoomName', () => {
  it('refuses a "/" so that a room never aliases a channel topic', () => {
    expect(isRoomName('lobby')).toBe(true);
    expect(isRoomName('m1/guild:1')).toBe(false);
    expect(isRoomName('')).toBe(false);
    expect(isRoomName(7)).toBe(false);
  });
});
