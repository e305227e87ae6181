import { describe, expect, it } from 'vitest';
import { encodeUnicast, encodeWithMessage, splitUnicast, LINK_FRAME_SEPARATOR, linkFrames, messageEnvelope, splitMessage, validateB2M, validateM2BHead } from './link.js';

describe('link frame splicing', () => {
  it('reads a unicast by position exactly as splitMessage and the schema do, or leaves it to them', () => {
    const message = '{"event":"pong","_id":1,"data":{"x":"\\"id\\":\\"y"}}';
    const long = 'r'.repeat(256);
    const frames = [
      encodeUnicast('user:alice', 'b-1.7', message),
      encodeUnicast(long, 'b-1.7', message),
      encodeUnicast('r' + long, 'b-1.7', message), // room over 256: the schema refuses it
      encodeUnicast('', 'b-1.7', message), // empty room: refused
      encodeUnicast('guild:"q', 'b.1', message), // escaped: the slow path
      '{"type":"unicast","room":"a\u0001","id":"b","message":{}}', // raw control character: not JSON
      '{"type":"unicast","room":"a","id":"b","message":}',
      '{"type":"unicast","room":"a","id":"b","message":{}', // both paths accept it, message text `{` (not re-parsed)
      '{"type":"unicast","room":"a","id":"b","extra":1,"message":{}}',
      '{"type":"unicast","room":"a","id":"b"}',
    ];
    for (const frame of frames) {
      const slow = splitMessage(frame);
      const accepted = slow !== undefined && slow.message !== undefined && validateM2BHead.check(slow.head);
      const fast = splitUnicast(frame);
      if (fast) {
        expect(accepted, frame).toBe(true);
        expect(fast, frame).toEqual(slow);
      }
    }
    expect(splitUnicast(frames[0]!)).toEqual({ head: { type: 'unicast', room: 'user:alice', id: 'b-1.7' }, message });
    expect(splitUnicast(frames[1]!)?.head.room).toBe(long);
    for (const i of [2, 3, 4, 5, 6, 8, 9]) expect(splitUnicast(frames[i]!), frames[i]).toBeUndefined();
  });

  it('writes a unicast exactly as encodeWithMessage does, with strings that need escaping too', () => {
    const message = '{"event":"pong","_id":"a\\"b","data":{}}';
    for (const [room, id] of [['user:alice', 'b-1.7'], ['guild:"q\\\u2028', 'b.\u0001x']] as const) {
      const frame = encodeUnicast(room, id, message);
      expect(frame).toBe(encodeWithMessage({ type: 'unicast', room, id }, message));
      expect(validateM2BHead.check(splitMessage(frame)!.head)).toBe(true);
      expect(JSON.parse(frame)).toEqual({ type: 'unicast', room, id, message: JSON.parse(message) });
    }
  });

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
    const frame = messageEnvelope('b.1', client);
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
