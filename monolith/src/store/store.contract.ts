import { afterEach, describe, expect, it } from 'vitest';
import type { EntityStore } from './store.js';

/** The one contract every EntityStore passes (store.ts states it). */
export function describeStore(name: string, make: () => Promise<EntityStore>): void {
  describe(`EntityStore contract: ${name}`, () => {
    const made: EntityStore[] = [];
    const store = async () => {
      const s = await make();
      made.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((s) => s.close()));
    });
    const g = () => String(Math.floor(Math.random() * 1e12));

    it('gets entities in the order asked and names the missing', async () => {
      const s = await store();
      const guild = g();
      await s.putMany('member', guild, [{ id: '1', name: 'a' }, { id: '2', name: 'b' }]);
      expect(await s.get('member', guild, ['2', '9', '1'])).toEqual({ data: [{ id: '2', name: 'b' }, { id: '1', name: 'a' }], nonexistent: ['9'] });
      expect((await s.get('member', g(), ['1'])).nonexistent).toEqual(['1']);
      await expect(s.get('member', guild, Array.from({ length: 1001 }, (_, i) => String(i)))).rejects.toThrow();
    });

    it('pages in id order, resumable by cursor across writes, each surviving entity once', async () => {
      const s = await store();
      const guild = g();
      const ids = Array.from({ length: 2500 }, (_, i) => String(100000 + i));
      await s.putMany('member', guild, ids.map((id) => ({ id, name: `n${id}` })));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.page('member', guild, cursor, 200);
        seen.push(...page.data.map((e) => e.id));
        cursor = page.cursor;
        if (++pages === 3) {
          await s.delete('member', guild, '100000'); // already seen
          await s.delete('member', guild, '102499'); // not yet seen
          await s.put('member', guild, { id: '1000005', name: 'late' }); // sorts among the seen
        }
      } while (cursor !== undefined);
      expect(seen).toEqual([...ids.slice(0, -1)]);
      expect(await s.count('member', guild)).toBe(2499);
    });

    it('searches name and nickname by case-insensitive prefix, once per entity, from an index', async () => {
      const s = await store();
      const guild = g();
      await s.putMany('member', guild, [
        { id: '1', name: 'Alice' },
        { id: '2', name: 'bob', nickname: 'ALIas' },
        { id: '3', name: 'alina', nickname: 'Alina' },
        { id: '4', name: 'carl' },
      ]);
      // Ordered by the matched text: alias (2), alice (1), alina (3, matched twice, listed once).
      expect((await s.search('member', guild, 'ali', 10)).map((e) => e.id)).toEqual(['2', '1', '3']);
      expect((await s.search('member', guild, 'ALI', 2)).map((e) => e.id)).toEqual(['2', '1']);
      await s.put('member', guild, { id: '1', name: 'zed' });
      expect((await s.search('member', guild, 'ali', 10)).map((e) => e.id)).toEqual(['2', '3']);
      expect((await s.search('member', guild, 'z', 10)).map((e) => e.id)).toEqual(['1']);
      expect(await s.delete('member', guild, '3')).toBe(true);
      expect(await s.delete('member', guild, '3')).toBe(false);
      expect((await s.search('member', guild, 'ali', 10)).map((e) => e.id)).toEqual(['2']);
      expect(await s.search('member', g(), 'ali', 10)).toEqual([]);
    });

    it('keeps snowflake ids as strings and scopes pools by guild and type', async () => {
      const s = await store();
      const [a, b] = [g(), g()];
      await s.put('role', a, { id: '123456789012345678901', name: 'x' });
      expect((await s.get('role', a, ['123456789012345678901'])).data[0]!.id).toBe('123456789012345678901');
      expect((await s.get('role', b, ['123456789012345678901'])).data).toEqual([]);
      expect((await s.get('channel', a, ['123456789012345678901'])).data).toEqual([]);
    });

    it('consumes a key once within its TTL', async () => {
      const s = await store();
      const key = `k${g()}`;
      expect(await s.consumeOnce(key, 1)).toBe(true);
      expect(await s.consumeOnce(key, 1)).toBe(false);
      const deadline = Date.now() + 5000;
      let again = false;
      while (!again && Date.now() < deadline) {
        again = await s.consumeOnce(key, 1);
        if (!again) await new Promise((r) => setTimeout(r, 100));
      }
      expect(again).toBe(true);
    });
  });
}
