import { describe, expect, it } from 'vitest';
import { splitMessage } from '@gateway/protocol';
import { createLog } from '@gateway/protocol/node';
import { MemoryBus } from '../bus/memory-bus.js';
import { memoryEpochs } from './epochs.js';
import { Rooms, roomTopic, type LinkPeer } from './rooms.js';
import { waitFor } from '../../../e2e/harness/wait.js';

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

function setup(graceMs = 0) {
  const bus = new MemoryBus();
  const rooms = new Rooms({ epochs: memoryEpochs(), bus, graceMs, log: createLog('test', 'error') });
  const a = new RecordingLink('a');
  const b = new RecordingLink('b');
  rooms.addLink(a);
  rooms.addLink(b);
  return { bus, rooms, a, b };
}

const claims = { sub: 'u' };
const until = (cond: () => boolean) => waitFor(cond, { timeoutMs: 2000, intervalMs: 5 });

describe('Rooms', () => {
  it('sends a broadcast once per link with members, not once per member', () => {
    const { rooms, a, b } = setup();
    for (let i = 0; i < 5; i++) rooms.join(a, `a${i}`, 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b0', 'lobby', 't', claims, 'u', false);
    rooms.join(b, 'b1', 'elsewhere', 't', claims, 'u', false);
    expect(rooms.broadcast('lobby', '{"event":"x"}')).toBe(2);
    expect(a.ofType('broadcast')).toHaveLength(1);
    expect(b.ofType('broadcast')).toHaveLength(1);
    expect(a.ofType('broadcast')[0]!.message).toBe('{"event":"x"}');
  });

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
    rooms.broadcast('lobby', '{}');
    expect(b.ofType('broadcast')).toHaveLength(0);
    expect(a.ofType('broadcast')).toHaveLength(1);
  });

  it('subscribes the room topic while loaded and relays bus messages as broadcasts', async () => {
    const { rooms, bus, a } = setup();
    rooms.join(a, 'a1', 'lobby', 't', claims, 'u', false);
    expect(bus.topics()).toEqual([roomTopic('lobby')]);
    await bus.publish(roomTopic('lobby'), '{"event":"news"}');
    await until(() => a.ofType('broadcast').length === 1);
    rooms.leave('a1');
    await until(() => bus.topics().length === 0);
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
