import { describe, expect, it } from 'vitest';
import { positioned } from '@gateway/protocol';
// @ts-expect-error plain .mjs load generator without type declarations
import { readPosition, replyPositions, sinceOf, step } from './positions.mjs';

describe('readPosition', () => {
  it('reads the position the monolith splices into a push, whatever the message holds', () => {
    const message = JSON.stringify({ event: 'log_other', data: { id: '7', note: ',"stream":"fake","offset":9,"epoch":"x"', nested: { offset: 3 } } });
    const push = positioned(message, 'guild:9001:logs', 42, '6b0f35fd7e2a3');
    expect(readPosition(push)).toEqual({ stream: 'guild:9001:logs', offset: 42, epoch: '6b0f35fd7e2a3' });
  });

  it('is undefined for frames without a position', () => {
    expect(readPosition('{"event":"pong","_id":1}')).toBeUndefined();
    expect(readPosition('{"event":"welcome","data":{"positions":{"room:a":{"offset":1,"epoch":"e"}}}}')).toBeUndefined();
    expect(readPosition('{"event":"m","data":"x","stream":"room:a","offset":"1","epoch":"e"}')).toBeUndefined();
    expect(readPosition('')).toBeUndefined();
  });
});

describe('step', () => {
  const held = { offset: 10, epoch: 'e1' };
  it('classifies the next push against the held position', () => {
    expect(step(undefined, { offset: 5, epoch: 'e1' })).toEqual({ kind: 'first', missing: 0 });
    expect(step(held, { offset: 11, epoch: 'e1' })).toEqual({ kind: 'next', missing: 0 });
    expect(step(held, { offset: 10, epoch: 'e1' })).toEqual({ kind: 'dup', missing: 0 });
    expect(step(held, { offset: 3, epoch: 'e1' })).toEqual({ kind: 'dup', missing: 0 });
    expect(step(held, { offset: 14, epoch: 'e1' })).toEqual({ kind: 'gap', missing: 3 });
    // A new epoch restarts the offsets: never a duplicate or a gap.
    expect(step(held, { offset: 1, epoch: 'e2' })).toEqual({ kind: 'epoch', missing: 0 });
  });
});

describe('sinceOf and replyPositions', () => {
  it('round-trips a welcome: the position it gives is the since sent back', () => {
    const welcome = JSON.stringify({ event: 'welcome', data: { streams: ['room:a'], positions: { 'room:a': { offset: 4, epoch: 'e' }, bad: { offset: 'x' } }, recovered: { 'room:a': false, 'room:b': true } } });
    const { positions, recovered } = replyPositions(welcome);
    expect(positions).toEqual({ 'room:a': { offset: 4, epoch: 'e' } });
    expect(recovered).toEqual({ 'room:a': false, 'room:b': true });
    expect(sinceOf({ stream: 'room:a', ...positions['room:a'] })).toEqual({ 'room:a': { offset: 4, epoch: 'e' } });
    expect(sinceOf(undefined)).toBeUndefined();
    expect(replyPositions('{"event":"spectate","data":{}}')).toEqual({ positions: {}, recovered: {} });
  });
});
