import { describe, expect, it } from 'vitest';
import { rendezvous } from './rendezvous.js';
import { RoomOwners } from './room-owners.js';

describe('rendezvous', () => {
  it('is independent of candidate order', () => {
    for (let i = 0; i < 200; i++) {
      const room = `room-${i}`;
      expect(rendezvous(room, ['a', 'b', 'c'])).toBe(rendezvous(room, ['c', 'a', 'b']));
    }
  });

  it('spreads rooms roughly evenly and moves only the removed node’s rooms', () => {
    const nodes = ['m1', 'm2', 'm3'];
    const counts = new Map<string, number>();
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const room = `user:${i}`;
      const owner = rendezvous(room, nodes)!;
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
      const after = rendezvous(room, ['m1', 'm2'])!;
      if (owner !== 'm3' && after !== owner) moved++;
    }
    for (const n of nodes) expect(counts.get(n)).toBeGreaterThan(800);
    expect(moved).toBe(0);
  });

  it('returns undefined with no candidates', () => {
    expect(rendezvous('x', [])).toBeUndefined();
  });
});

describe('RoomOwners', () => {
  it('keeps the older epoch when two monoliths claim a room', () => {
    const owners = new RoomOwners();
    expect(owners.loaded('r', 'm1', 5)).toBeUndefined();
    expect(owners.loaded('r', 'm2', 7)).toBe('m2');
    expect(owners.owner('r')).toBe('m1');
    expect(owners.loaded('r', 'm2', 3)).toBe('m1');
    expect(owners.loaded('r', 'm2', 3)).toBeUndefined();
    expect(owners.owner('r')).toBe('m2');
    owners.unloaded('r', 'm1');
    expect(owners.owner('r')).toBe('m2');
    owners.dropMonolith('m2');
    expect(owners.owner('r')).toBeUndefined();
  });
});
