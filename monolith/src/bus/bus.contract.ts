import { afterEach, describe, expect, it } from 'vitest';
import type { Bus } from './bus.js';
// The e2e harness' polling wait (deadline, no fixed sleep), shared by every test.
import { waitFor as poll } from '../../../e2e/harness/wait.js';

const waitFor = (check: () => true | undefined, timeoutMs = 5000) => poll(check, { timeoutMs, intervalMs: 10 });

export interface BusFactory {
  /** A fresh bus; several made by one factory must reach each other (same broker). */
  make(): Promise<Bus>;
  /** Broker-side count of subscribers of a topic, when the broker can tell. */
  brokerSubscribers?(topic: string): Promise<number>;
  /** Drops every broker connection, for the resubscribe contract. */
  dropConnections?(): Promise<void>;
  /** True when buses from one factory share a broker across processes. */
  shared: boolean;
}

/** The one contract every Bus implementation passes (STYLE rule 5; bus.ts states it). */
export function describeBus(name: string, factory: BusFactory): void {
  describe(`Bus contract: ${name}`, () => {
    const made: Bus[] = [];
    const make = async () => {
      const bus = await factory.make();
      made.push(bus);
      return bus;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((b) => b.close()));
    });

    it('delivers to a subscriber, in publish order', async () => {
      const bus = await make();
      const got: string[] = [];
      await bus.subscribe('t1', (p) => got.push(p));
      for (let i = 0; i < 50; i++) await bus.publish('t1', String(i));
      await waitFor(() => (got.length === 50 ? true : undefined));
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    });

    it('delivers to every handler of a topic and only to that topic', async () => {
      const bus = await make();
      const a: string[] = [];
      const b: string[] = [];
      const other: string[] = [];
      await bus.subscribe('t2', (p) => a.push(p));
      await bus.subscribe('t2', (p) => b.push(p));
      await bus.subscribe('t2-other', (p) => other.push(p));
      await bus.publish('t2', 'x');
      await waitFor(() => (a.length && b.length ? true : undefined));
      expect(a).toEqual(['x']);
      expect(b).toEqual(['x']);
      expect(other).toEqual([]);
    });

    it('stops delivering after unsubscribe and reference-counts the broker subscription', async () => {
      const bus = await make();
      const got: string[] = [];
      const h1 = (p: string) => got.push(`1:${p}`);
      const h2 = (p: string) => got.push(`2:${p}`);
      await bus.subscribe('t3', h1);
      await bus.subscribe('t3', h2);
      expect(bus.topics()).toContain('t3');
      if (factory.brokerSubscribers) expect(await factory.brokerSubscribers('t3')).toBe(1);
      await bus.unsubscribe('t3', h1);
      expect(bus.topics()).toContain('t3');
      if (factory.brokerSubscribers) expect(await factory.brokerSubscribers('t3')).toBe(1);
      await bus.unsubscribe('t3', h2);
      expect(bus.topics()).not.toContain('t3');
      if (factory.brokerSubscribers) expect(await factory.brokerSubscribers('t3')).toBe(0);
      // A marker on another topic proves the publish below had time to arrive.
      const marker: string[] = [];
      await bus.subscribe('t3-marker', (p) => marker.push(p));
      await bus.publish('t3', 'late');
      await bus.publish('t3-marker', 'm');
      await waitFor(() => (marker.length ? true : undefined));
      expect(got).toEqual([]);
      await bus.unsubscribe('t3', h1); // unknown handler: ignored
    });

    it('stores nothing for later subscribers (at most once)', async () => {
      const bus = await make();
      await bus.publish('t4', 'before');
      const got: string[] = [];
      await bus.subscribe('t4', (p) => got.push(p));
      await bus.publish('t4', 'after');
      await waitFor(() => (got.length ? true : undefined));
      expect(got).toEqual(['after']);
    });

    if (factory.shared) {
      it('reaches subscribers on another bus instance (another monolith)', async () => {
        const a = await make();
        const b = await make();
        const got: string[] = [];
        await b.subscribe('t5', (p) => got.push(p));
        await a.publish('t5', 'hello');
        await waitFor(() => (got.length ? true : undefined));
        expect(got).toEqual(['hello']);
      });
    }

    if (factory.dropConnections) {
      it('subscribes every topic again, once, after the broker connection drops', async () => {
        const bus = await make();
        const got: string[] = [];
        await bus.subscribe('t6', (p) => got.push(p));
        await factory.dropConnections!();
        await waitFor(() => (bus.connected ? undefined : true)).catch(() => true);
        await waitFor(() => (bus.connected ? true : undefined));
        // Publish until one arrives: the resubscription completes shortly after reconnecting.
        const publisher = await make();
        await waitFor(() => {
          void publisher.publish('t6', 'again');
          return got.length ? true : undefined;
        });
        expect(got[0]).toBe('again');
        if (factory.brokerSubscribers) expect(await factory.brokerSubscribers('t6')).toBe(1);
      });
    }
  });
}
