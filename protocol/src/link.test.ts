import { describe, expect, it } from 'vitest';
import { encodeWithMessage, LINK_FRAME_SEPARATOR, linkFrames, messageEnvelopePrefix, splitMessage, validateB2M, validateM2BHead } from './link.js';

describe('link frame splicing', () => {
  it('round-trips a message without re-serializing it', () => {
    const message = '{"event":"pong","_id":1,"data":{"text":"a,\\"message\\":b"}}';
    const frame = encodeWithMessage({ type: 'unicast', room: 'r', id: 'c1' }, message);
    expect(JSON.parse(frame)).toEqual({ type: 'unicast', room: 'r', id: 'c1', message: JSON.parse(message) });
    const split = splitMessage(frame)!;
    expect(split.head).toEqual({ type: 'unicast', room: 'r', id: 'c1' });
    expect(split.message).toBe(message);
    expect(validateM2BHead.check(split.head)).toBe(true);
  });

  it('finds the real message key even when header strings contain it', () => {
    const room = 'x","message":{"evil":1},"y":"';
    const frame = encodeWithMessage({ type: 'broadcast', room }, '{"ok":true}');
    const split = splitMessage(frame)!;
    expect(split.head.room).toBe(room);
    expect(split.message).toBe('{"ok":true}');
  });

  it('returns frames without a message whole', () => {
    const split = splitMessage('{"type":"kick","id":"c","code":4102,"reason":"bye"}')!;
    expect(split.message).toBeUndefined();
    expect(validateM2BHead.check(split.head)).toBe(true);
  });

  it('refuses text that is not a JSON object', () => {
    expect(splitMessage('[1,2]')).toBeUndefined();
    expect(splitMessage('nope')).toBeUndefined();
    expect(splitMessage('{"type":"unicast","message":')).toBeUndefined();
  });

  it('builds a client envelope whose fields cannot be overridden by the client text', () => {
    const client = '{"event":"ping","id":"other","room":"victim","token":"forged","type":"join"}';
    const frame = messageEnvelopePrefix('b.1') + client + '}';
    const parsed = JSON.parse(frame);
    expect(parsed).toMatchObject({ type: 'message', id: 'b.1' });
    expect(Object.keys(parsed)).toEqual(['type', 'id', 'message']);
    expect(parsed.message).toEqual(JSON.parse(client));
    expect(validateB2M.check(parsed)).toBe(true);
  });

  it('rejects link frames with missing or mistyped fields', () => {
    expect(validateB2M.check({ type: 'join', room: 'r', id: 'c' })).toBe(false);
    expect(validateB2M.check({ type: 'message', id: 'c', message: [] })).toBe(false);
    expect(validateB2M.check({ type: 'message', message: {} })).toBe(false);
    expect(validateM2BHead.check({ type: 'kick', id: 'c', code: 1000, reason: '' })).toBe(false);
    expect(validateM2BHead.check({ type: 'teleport' })).toBe(false);
  });

  it('splits a link message into its frames at the separator, which JSON text cannot hold', () => {
    const frames = ['{"a":"x\\u001ey"}', '{"b":\n1}', '{}'];
    expect(linkFrames(frames.join(LINK_FRAME_SEPARATOR))).toEqual(frames);
    expect(linkFrames('{"one":1}')).toEqual(['{"one":1}']);
    // A raw U+001E is not valid JSON anywhere (strings must escape it; outside, only whitespace).
    expect(() => JSON.parse('{"a":"\u001e"}'.replace('\\u001e', LINK_FRAME_SEPARATOR))).toThrow();
    expect(() => JSON.parse(`{${LINK_FRAME_SEPARATOR}"a":1}`)).toThrow();
  });
});
