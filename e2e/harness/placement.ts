import { ownRoom } from '@gateway/protocol';
import { rendezvous } from '../../balancer/src/routing/rendezvous.js';
import { uniq } from './stack.js';

/** A monolith, by id or by its handle. */
type Monolith = string | { readonly id: string };
const idOf = (m: Monolith): string => (typeof m === 'string' ? m : m.id);

/**
 * Where a balancer places a room that no monolith has announced: rendezvous hashing over the
 * ids of the monoliths it has ready links to (balancer Router.pick). Exact when `linked` is that
 * set; an announced owner (a room already loaded somewhere) wins over it.
 */
export function placement(room: string, linked: readonly Monolith[]): string | undefined {
  return rendezvous(room, linked.map(idOf));
}

/** Fresh names from `make` until one is placed on `on`; `roomOf` maps a name to its room. */
function firstOn(on: Monolith, linked: readonly Monolith[], make: () => string, roomOf: (name: string) => string): string {
  const target = idOf(on);
  if (!linked.some((m) => idOf(m) === target)) throw new Error(`${target} is not among the linked monoliths`);
  // Each try lands on `target` with probability 1/linked.length: 200 tries never all miss.
  for (let i = 0; i < 200; i++) {
    const name = make();
    if (placement(roomOf(name), linked) === target) return name;
  }
  throw new Error(`no name placed on ${target}`);
}

/** A fresh room name (`uniq(prefix)`) that a balancer linked to `linked` places on `on`. */
export function roomOn(on: Monolith, linked: readonly Monolith[], prefix = 'placed'): string {
  return firstOn(on, linked, () => uniq(prefix), (room) => room);
}

/** A fresh user subject whose own room (`user:<subject>`, the default of its auth) is placed on `on`. */
export function subjectOn(on: Monolith, linked: readonly Monolith[], prefix = 'placed'): string {
  return firstOn(on, linked, () => uniq(prefix), (subject) => ownRoom(subject, false)!);
}
