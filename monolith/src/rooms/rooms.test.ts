import { describe, expect, it } from 'vitest';
import type { LinkPeer } from './links.js';
import { Rooms, type RoomClaims, type StreamRefs } from './rooms.js';
import { waitFor } from '../../../testing/wait.js';

const link = (id: string): LinkPeer => ({ id, send() {} });

/** What Rooms tells ownership, in order. */
class RecordingClaims implements RoomClaims {
  readonly calls: string[] = [];
  loaded(room: string): void {
    this.calls.push(`loaded ${room}`);
  }
  unloaded(room: string, reason: string): void {
    this.calls.push(`unloaded ${room} ${reason}`);
  }
}

/** Reference counts per stream, as the hub keeps them. */
class CountingStreams implements StreamRefs {
  readonly refs = new Map<string, number>();
  acquire(stream: string): void {
    this.refs.set(stream, (this.refs.get(stream) ?? 0) + 1);
  }
  release(stream: string): void {
    const n = (this.refs.get(stream) ?? 0) - 1;
    if (n > 0) this.refs.set(stream, n);
    else this.refs.delete(stream);
  }
}

function setup(graceMs = 0) {
  const streams = new CountingStreams();
  const claims = new RecordingClaims();
  const rooms = new Rooms({ ownership: claims, streams, graceMs });
  return { streams, claims, rooms, a: link('a'), b: link('b') };
}

const claims = { sub: 'u' };
const until = (cond: () => boolean) => waitFor(cond, { timeoutMs: 2000, intervalMs: 5 });

describe('Rooms', () => {
  it('loads a room with its first member and unloads it once empty, telling ownership each time', async () => {
    const { rooms, claims: owner, a, b } = setup();
    rooms.join(a, 'c1', 'r1', 't', claims, 'u', false);
    rooms.join(b, 'c2', 'r1', 't', claims, 'u', false);
    expect(owner.calls).toEqual(['loaded r1']);
    rooms.leave('c1');
    rooms.leave('c2');
    await until(() => owner.calls.length === 2);
    expect(owner.calls[1]).toBe('unloaded r1 empty');
    expect(rooms.roomCount).toBe(0);
    rooms.join(a, 'c3', 'r1', 't', claims, 'u', false);
    expect(owner.calls).toEqual(['loaded r1', 'unloaded r1 empty', 'loaded r1']);
  });

  it('keeps an empty room through the grace period when someone rejoins', () => {
    const { rooms, claims: owner, a } = setup(10_000);
    rooms.join(a, 'c1', 'r', 't', claims, 'u', false);
    rooms.leave('c1');
    rooms.join(a, 'c2', 'r', 't', claims, 'u', false);
    expect(owner.calls).toEqual(['loaded r']);
    expect(rooms.members('r')).toBe(1);
  });

  it('drops every connection of a lost link (no ghosts) and keeps the others', () => {
    const { rooms, a, b } = setup();
    rooms.join(a, 'a1', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b1', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b2', 'other', 't', claims, 'u', false);
    expect(rooms.leaveLink(b)).toBe(2);
    expect(rooms.connectionCount).toBe(1);
    expect(rooms.get('b1')).toBeUndefined();
    expect(rooms.members('lobby')).toBe(1);
  });

  it('holds the room\'s stream while loaded (a user\'s own room is its user stream), once per room', async () => {
    const { rooms, streams, a } = setup();
    rooms.join(a, 'a1', 'lobby', 't', claims, 'u', false);
    rooms.join(a, 'a2', 'lobby', 't', claims, 'u', false);
    rooms.join(a, 'a3', 'user:u', 't', claims, 'u', false);
    expect(Object.fromEntries(streams.refs)).toEqual({ 'room:lobby': 1, 'user:u': 1 });
    for (const id of ['a1', 'a2', 'a3']) rooms.leave(id);
    await until(() => streams.refs.size === 0);
  });

  it('unloads every room on close, members or not, and releases their streams', () => {
    const { rooms, streams, claims: owner, a, b } = setup(10_000);
    rooms.join(a, 'a1', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b1', 'other', 't', claims, 'u', false);
    rooms.close();
    expect(owner.calls.slice(2).sort()).toEqual(['unloaded lobby shutdown', 'unloaded other shutdown']);
    expect(rooms.roomCount).toBe(0);
    expect(rooms.connectionCount).toBe(0);
    expect(streams.refs.size).toBe(0);
  });

  it('treats a repeated join of one id as a move, not a duplicate', () => {
    const { rooms, a } = setup();
    rooms.join(a, 'c', 'r1', 't', claims, 'u', false);
    rooms.join(a, 'c', 'r2', 't', claims, 'u', false);
    expect(rooms.connectionCount).toBe(1);
    expect(rooms.members('r1')).toBe(0);
    expect(rooms.members('r2')).toBe(1);
  });
});
