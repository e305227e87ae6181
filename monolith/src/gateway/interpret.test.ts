import { describe, expect, it } from 'vitest';
import { interpret, type AutoResponse } from './interpret.js';

const responses: AutoResponse[] = [
  { trigger: 'hello', response: 'Hello there!', reaction: '👋' },
  { trigger: 'good bot', response: 'Thanks!' },
];
const base = { guild_id: '1', message_id: '100', content: '' };

describe('interpret (mock bot)', () => {
  it('answers an auto response on a whole-word, case-insensitive trigger with an odd bot id', () => {
    expect(interpret({ ...base, content: 'Well HELLO, friend' }, responses, false)).toEqual({
      guild_id: '1',
      message_id: '201',
      content: 'Hello there!',
      added_reactions: ['👋'],
      edit: false,
    });
    expect(interpret({ ...base, content: 'othello' }, responses, false)).toBeUndefined();
  });

  it('runs built-in commands only when allowed', () => {
    expect(interpret({ ...base, content: '!echo hi' }, responses, false)?.content).toBe('hi');
    expect(interpret({ ...base, content: '!echo hi', allowed_commands: ['roll'] }, responses, false)).toBeUndefined();
    expect(interpret({ ...base, content: '!help', allowed_commands: ['help', 'roll'] }, responses, false)?.content).toBe('Commands: !help, !roll');
  });

  it('rolls deterministically from the message id', () => {
    const a = interpret({ ...base, content: '!roll 3d6' }, [], false)!.content;
    expect(a).toBe(interpret({ ...base, content: '!roll 3d6' }, [], false)!.content);
    expect(a).toMatch(/^🎲 [1-6] \+ [1-6] \+ [1-6] = \d+$/);
  });

  it('keeps snowflakes exact beyond 2^53 and marks edits', () => {
    const reply = interpret({ ...base, message_id: '1234567890123456789', content: 'good bot' }, responses, true)!;
    expect(reply.message_id).toBe('2469135780246913579');
    expect(reply.edit).toBe(true);
  });
});
