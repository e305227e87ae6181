import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../testing/wait.js';
import type { Coordination } from './coordination.js';

export interface CoordinationExtras {
  /** True when instances made by one factory share a backend (several monoliths on one Redis). */
  shared: boolean;
}

const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

/** The one contract every Coordination implementation passes (coordination.ts states it). */
export function describeCoordination(name: string, factory: () => Promise<Coordination>, extras: CoordinationExtras): void {
  describe(`Coordination contract: ${name}`, () => {
    const made: Coordination[] = [];
    const make = async () => {
      const c = await factory();
      made.push(c);
      return c;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((c) => c.close()));
    });

    it(`hands out growing epochs across rooms${extras.shared ? ' and monoliths' : ''}, also concurrently`, async () => {
      const instances = extras.shared ? [await make(), await make()] : [await make()];
      const first = await instances[0]!.epochs.next('a');
      expect(first).toBeGreaterThanOrEqual(1);
      const second = await instances[instances.length - 1]!.epochs.next('b');
      expect(second).toBeGreaterThan(first);
      const taken = await Promise.all(Array.from({ length: 100 }, (_, i) => instances[i % instances.length]!.epochs.next(`room-${i % 7}`)));
      expect(new Set(taken).size).toBe(100);
      expect(Math.min(...taken)).toBeGreaterThan(second);
      expect(await instances[0]!.epochs.next('a')).toBeGreaterThan(Math.max(...taken));
    });

    it('consumes a key once within its TTL, then again once it expired', async () => {
      const c = await make();
      const other = extras.shared ? await make() : c;
      const key = `gw:test:once:${unique()}`;
      expect(await c.consumeOnce(key, 1)).toBe(true);
      expect(await other.consumeOnce(key, 1)).toBe(false);
      expect(await c.consumeOnce(`${key}:other`, 1)).toBe(true);
      // Poll until the TTL ran out (no fixed sleep): false until then, true exactly once after.
      const start = Date.now();
      expect(await waitFor(() => other.consumeOnce(key, 1), { timeoutMs: 5000, what: 'the key to expire' })).toBe(true);
      expect(Date.now() - start).toBeGreaterThan(500);
      expect(await c.consumeOnce(key, 1)).toBe(false);
      await expect(c.consumeOnce(key, 0)).rejects.toThrow(RangeError);
      await expect(c.consumeOnce(key, 1.5)).rejects.toThrow(RangeError);
    });

    it('lists announced members until their TTL passes or they withdraw', async () => {
      const c = await make();
      const reader = extras.shared ? await make() : c;
      const [a, b] = [`mono-a-${unique()} 127.0.0.1:1`, `mono-b-${unique()} 127.0.0.1:2`];
      await c.announce(a, 60_000);
      await c.announce(b, 300);
      expect(await reader.members()).toEqual(expect.arrayContaining([a, b]));
      await c.withdraw(a);
      expect(await reader.members()).not.toContain(a);
      await waitFor(async () => !(await reader.members()).includes(b), { timeoutMs: 5000, what: 'the short entry to expire' });
      // Re-announcing renews: an entry announced again stays.
      await c.announce(a, 300);
      await c.announce(a, 60_000);
      await new Promise((r) => setTimeout(r, 400)); // past the first TTL: the behaviour under test is the renewal
      expect(await reader.members()).toContain(a);
      await c.withdraw(a);
      await c.withdraw(a); // not listed: ignored
    });
  });
}
