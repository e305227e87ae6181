import { describe, expect, it } from 'vitest';
import { splitMessage } from '@gateway/protocol';
import { createLog } from '@gateway/protocol/node';
import { memoryEpochs } from '../coordination/memory-coordination.js';
import { Rooms, type LinkPeer, type StreamRefs } from './rooms.js';
import { waitFor } from '../../../testing/wait.js';

class RecordingLink implements LinkPeer {
  readonly frames: string[] = [];
  constructor(readonly id: string) {}
  send(frame: string): void {
    this.frames.push(frame);
  }
  ofType(type: string) {
    return this.frames.map((f) => splitMessage(f)!).filter((f) => f.head.type === type);
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
  const rooms = new Rooms({ epochs: memoryEpochs(), streams, graceMs, log: createLog('test', 'error') });
  const a = new RecordingLink('a');
  const b = new RecordingLink('b');
  rooms.addLink(a);
  rooms.addLink(b);
  return { streams, rooms, a, b };
}

const claims = { sub: 'u' };
const until = (cond: () => boolean) => waitFor(cond, { timeoutMs: 2000, intervalMs: 5 });

describe('Rooms', () => {
  it('announces loaded with a growing epoch, to every link, and unloaded when empty', async () => {
    const { rooms, a, b } = setup();
    rooms.join(a, 'c1', 'r1', 't', claims, 'u', false);
    await until(() => a.ofType('loaded').length === 1);
    expect(b.ofType('loaded')[0]!.head).toEqual({ type: 'loaded', room: 'r1', epoch: 1 });
    rooms.leave('c1');
    await until(() => a.ofType('unloaded').length === 1);
    expect(rooms.roomCount).toBe(0);
    rooms.join(a, 'c2', 'r1', 't', claims, 'u', false);
    await until(() => a.ofType('loaded').length === 2);
    expect(a.ofType('loaded')[1]!.head.epoch).toBe(2);
  });

  it('keeps an empty room through the grace period when someone rejoins', async () => {
    const { rooms, a } = setup(10_000);
    rooms.join(a, 'c1', 'r', 't', claims, 'u', false);
    rooms.leave('c1');
    rooms.join(a, 'c2', 'r', 't', claims, 'u', false);
    await until(() => a.ofType('loaded').length === 1);
    expect(a.ofType('unloaded')).toHaveLength(0);
    expect(rooms.members('r')).toBe(1);
  });

  it('drops every connection of a lost link (no ghosts) and keeps the others', () => {
    const { rooms, a, b } = setup();
    rooms.join(a, 'a1', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b1', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b2', 'other', 't', claims, 'u', false);
    expect(rooms.dropLink(b)).toBe(2);
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
    const { rooms, streams, a, b } = setup(10_000);
    rooms.join(a, 'a1', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b1', 'other', 't', claims, 'u', false);
    rooms.close();
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
