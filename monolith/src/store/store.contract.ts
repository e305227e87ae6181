import { afterEach, describe, expect, it } from 'vitest';
import { MAX_USER_GUILDS, StoreInputError, type Entity, type EntityStore } from './store.js';

const ids = (entities: Entity[]) => entities.map((e) => e.id);

/** Walks a whole pool from `cursor`, returning every id seen, in order. */
async function walk(s: EntityStore, guild: string, cursor: string | undefined, limit: number, between?: (page: number) => Promise<void>) {
  const seen: string[] = [];
  let pages = 0;
  do {
    const page = await s.page('member', guild, cursor, limit);
    seen.push(...ids(page.data));
    cursor = page.cursor;
    await between?.(++pages);
  } while (cursor !== undefined);
  return seen;
}

/**
 * The one contract every EntityStore passes (store.ts states it). `make` returns a store on
 * the shared backend; tests use fresh random guild ids, so nothing needs flushing.
 */
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
    const g = () => String(1e15 + Math.floor(Math.random() * 1e15));

    it('gets entities in the order asked and names the missing, in order', async () => {
      const s = await store();
      const guild = g();
      await s.putMany('member', guild, [{ id: '1', name: 'a' }, { id: '2', name: 'b' }]);
      expect(await s.get('member', guild, ['2', '9', '1', '8'])).toEqual({ data: [{ id: '2', name: 'b' }, { id: '1', name: 'a' }], nonexistent: ['9', '8'] });
      expect(await s.get('member', guild, [])).toEqual({ data: [], nonexistent: [] });
      expect((await s.get('member', g(), ['1'])).nonexistent).toEqual(['1']);
      expect((await s.get('member', guild, Array.from({ length: 1000 }, (_, i) => String(i)))).data).toHaveLength(2);
      await expect(s.get('member', guild, Array.from({ length: 1001 }, (_, i) => String(i)))).rejects.toThrow(StoreInputError);
    });

    it('pages 2,500 entities in id order, resumable by cursor across writes, each survivor once', async () => {
      const s = await store();
      const guild = g();
      const all = Array.from({ length: 2500 }, (_, i) => String(100000 + i));
      await s.putMany('member', guild, all.map((id) => ({ id, name: `n${id}` })));
      expect(await walk(s, guild, undefined, 200)).toEqual(all);

      let resumeFrom: string | undefined;
      const seen = await walk(s, guild, undefined, 200, async (page) => {
        if (page !== 3) return;
        await s.delete('member', guild, '100000'); // already seen
        await s.delete('member', guild, '102499'); // not yet seen: skipped
        await s.put('member', guild, { id: '1000005', name: 'behind' }); // sorts among the seen
        await s.put('member', guild, { id: '1020005', name: 'ahead' }); // sorts after the cursor
        resumeFrom = (await s.page('member', guild, undefined, 600)).cursor;
      });
      const expected = [...all.slice(0, 2000), '1020005', ...all.slice(2000, -1)].sort();
      expect(seen).toEqual(expected);
      expect(await s.count('member', guild)).toBe(2500);

      // A cursor kept aside resumes later, after more writes, right after its last id.
      await s.delete('member', guild, '100600');
      await s.put('member', guild, { id: '1005995', name: 'late' });
      const rest = await walk(s, guild, resumeFrom, 200);
      expect(rest[0]).toBe('1005995');
      expect(rest).toEqual([...expected.filter((id) => id > '100599' && id !== '100600'), '1005995'].sort());
    });

    it('ends a walk on its last page, even when full; lowers large limits; rejects bad input', async () => {
      const s = await store();
      const guild = g();
      expect(await s.page('member', guild, undefined, 10)).toEqual({ data: [], cursor: undefined });
      await s.putMany('member', guild, Array.from({ length: 1200 }, (_, i) => ({ id: String(5000 + i) })));
      const first = await s.page('member', guild, undefined, 600);
      const last = await s.page('member', guild, first.cursor, 600);
      expect([first.data.length, last.data.length, last.cursor]).toEqual([600, 600, undefined]);
      const big = await s.page('member', guild, undefined, 5000);
      expect(big.data).toHaveLength(1000);
      expect(ids((await s.page('member', guild, big.cursor, 5000)).data)).toEqual(Array.from({ length: 200 }, (_, i) => String(6000 + i)));
      for (const bad of ['', 'not base64!', '%%', 'AB=', 'n/a'])
        await expect(s.page('member', guild, bad, 10), bad).rejects.toThrow(StoreInputError);
      for (const bad of [0, -1, 1.5]) await expect(s.page('member', guild, undefined, bad)).rejects.toThrow(StoreInputError);
    });

    it('searches name and nickname by case-insensitive prefix, once per entity', async () => {
      const s = await store();
      const guild = g();
      await s.putMany('member', guild, [
        { id: '1', name: 'Alice' },
        { id: '2', name: 'bob', nickname: 'ALIas' },
        { id: '3', name: 'alina', nickname: 'Alina' },
        { id: '4', name: 'carl', nickname: 'alINA' },
        { id: '5', name: 'Élodie' },
        { id: '6', name: 'alfonso', nickname: 'Alf' },
      ]);
      // By matched text, then id: alias (2), alice (1), alina (3: name and nickname, once; 4).
      expect(ids(await s.search('member', guild, 'ali', 10))).toEqual(['2', '1', '3', '4']);
      expect(ids(await s.search('member', guild, 'ALI', 2))).toEqual(['2', '1']);
      expect(ids(await s.search('member', guild, 'alias', 10))).toEqual(['2']);
      // Matched by nickname (alf) and by name (alfonso): listed once, at its smallest text.
      expect(ids(await s.search('member', guild, 'AL', 10))).toEqual(['6', '2', '1', '3', '4']);
      expect(ids(await s.search('member', guild, 'alf', 1))).toEqual(['6']);
      expect(ids(await s.search('member', guild, 'BO', 10))).toEqual(['2']);
      expect(ids(await s.search('member', guild, 'éL', 10))).toEqual(['5']);
      expect(await s.search('member', guild, 'alx', 10)).toEqual([]);
      expect(await s.search('member', guild, 'ali\u0000', 10)).toEqual([]);
      expect(ids(await s.search('member', guild, '', 3))).toEqual(['6', '2', '1']);
      await expect(s.search('member', guild, 'a', 0)).rejects.toThrow(StoreInputError);
    });

    it('searches Discord fields too: username and nick, with the older nickname still found', async () => {
      const s = await store();
      const guild = g();
      await s.putMany('member', guild, [
        { id: '1', name: 'alice', nick: 'Queen' },
        { id: '2', name: 'bob', nickname: 'Quill' },
        { id: '3', username: 'quentin' },
        { id: '4', name: 'quaid', nick: 'quaid' },
      ]);
      expect(ids(await s.search('member', guild, 'qu', 10))).toEqual(['4', '1', '3', '2']);
      expect(ids(await s.search('member', guild, 'queen', 10))).toEqual(['1']);
      await s.put('member', guild, { id: '1', name: 'alice', nick: 'Zara' });
      expect(ids(await s.search('member', guild, 'queen', 10))).toEqual([]);
      expect(ids(await s.search('member', guild, 'ZAR', 10))).toEqual(['1']);
    });

    it("keeps a user's Discord guild list: replaced whole, per user, bounded", async () => {
      const s = await store();
      const user = `u${g()}`;
      const guild = (id: string, owner = false) => ({ id, name: `g${id}`, icon: null, owner, permissions: 32, features: ['COMMUNITY'] });
      expect(await s.userGuilds(user)).toBeUndefined();
      await s.putUserGuilds(user, [guild('30'), guild('10', true)]);
      expect(await s.userGuilds(user)).toEqual([guild('30'), guild('10', true)]);
      expect(await s.userGuilds(`${user}x`)).toBeUndefined();
      await s.putUserGuilds(user, [guild('20')]);
      expect(await s.userGuilds(user)).toEqual([guild('20')]);
      await s.putUserGuilds(user, []);
      expect(await s.userGuilds(user)).toEqual([]);
      const tooMany = Array.from({ length: MAX_USER_GUILDS + 1 }, (_, i) => guild(String(i)));
      await expect(s.putUserGuilds(user, tooMany)).rejects.toThrow(StoreInputError);
      expect(await s.userGuilds(user)).toEqual([]);
      await s.putUserGuilds(user, tooMany.slice(1));
      expect(await s.userGuilds(user)).toHaveLength(MAX_USER_GUILDS);
    });

    it('keeps the search index right on rename and delete', async () => {
      const s = await store();
      const guild = g();
      await s.putMany('member', guild, [{ id: '1', name: 'Alice', nickname: 'Al' }, { id: '2', name: 'alias' }]);
      await s.put('member', guild, { id: '1', name: 'zed' });
      expect(ids(await s.search('member', guild, 'al', 10))).toEqual(['2']);
      expect(ids(await s.search('member', guild, 'Z', 10))).toEqual(['1']);
      await s.put('member', guild, { id: '2', name: 'alias', nickname: 'Zed' });
      expect(ids(await s.search('member', guild, 'zed', 10))).toEqual(['1', '2']);
      expect(await s.delete('member', guild, '1')).toBe(true);
      expect(await s.delete('member', guild, '1')).toBe(false);
      expect(ids(await s.search('member', guild, 'zed', 10))).toEqual(['2']);
      await s.put('member', guild, { id: '2' }); // no names left: not searchable, still stored
      expect(await s.search('member', guild, '', 10)).toEqual([]);
      expect(await s.count('member', guild)).toBe(1);
    });

    it('orders by code point (UTF-8 bytes), by id on equal text, and caps results at 100', async () => {
      const s = await store();
      const guild = g();
      // U+FF42 sorts before U+1F600 by code point, after it by UTF-16 code unit.
      await s.putMany('member', guild, [{ id: '1', name: '😀' }, { id: '2', name: 'ｂ' }, { id: '30', name: 'sam' }, { id: '4', name: 'Sam' }]);
      expect(ids(await s.search('member', guild, '', 10))).toEqual(['30', '4', '2', '1']);
      await s.putMany('member', guild, Array.from({ length: 150 }, (_, i) => ({ id: `x${i}`, name: `x${1000 + i}` })));
      expect(ids(await s.search('member', guild, 'x', 500))).toEqual(Array.from({ length: 100 }, (_, i) => `x${i}`));
    });

    it('scopes pools by guild and by type; global pools take no guild', async () => {
      const s = await store();
      const [a, b] = [g(), g()];
      await s.put('member', a, { id: '7', name: 'alice' });
      expect((await s.get('member', b, ['7'])).data).toEqual([]);
      expect((await s.page('member', b, undefined, 10)).data).toEqual([]);
      expect(await s.search('member', b, 'ali', 10)).toEqual([]);
      expect(await s.count('member', b)).toBe(0);
      expect(await s.delete('member', b, '7')).toBe(false);
      expect((await s.get('channel', a, ['7'])).data).toEqual([]);
      expect(await s.count('member', a)).toBe(1);
      const user = `u${g()}`;
      await s.put('user', undefined, { id: user, username: `party${user}` });
      expect(ids(await s.search('user', undefined, `PARTY${user}`, 5))).toEqual([user]);
      expect((await s.get('user', a, [user])).data).toEqual([]);
      // customEmoji is a guild pool: one guild's emoji is not another's.
      await s.put('customEmoji', a, { id: '8', name: 'party' });
      expect((await s.get('customEmoji', a, ['8'])).data).toEqual([{ id: '8', name: 'party' }]);
      expect((await s.get('customEmoji', b, ['8'])).nonexistent).toEqual(['8']);
      expect((await s.get('customEmoji', undefined, ['8'])).nonexistent).toEqual(['8']);
    });

    it('keeps snowflake ids as strings, stores JSON copies and replaces whole entities', async () => {
      const s = await store();
      const guild = g();
      const id = '123456789012345678901';
      const entity = { id, name: 'x', roles: ['9007199254740993'], nested: { a: 1 } };
      await s.put('role', guild, entity);
      entity.nested.a = 2; // the store kept its own copy
      const [got] = (await s.get('role', guild, [id])).data;
      expect(got).toEqual({ id, name: 'x', roles: ['9007199254740993'], nested: { a: 1 } });
      expect(typeof got!.id).toBe('string');
      (got!.nested as { a: number }).a = 3; // and hands out copies
      expect((await s.get('role', guild, [id])).data[0]!.nested).toEqual({ a: 1 });
      await s.put('role', guild, { id, color: 5 });
      expect((await s.get('role', guild, [id])).data).toEqual([{ id, color: 5 }]);
      for (const bad of [{ id: 42 }, { id: '' }, { id: 'a\u0000b' }, { id: 'x'.repeat(65) }, { name: 'no id' }])
        await expect(s.put('role', guild, bad as unknown as Entity), JSON.stringify(bad)).rejects.toThrow(StoreInputError);
      expect(await s.count('role', guild)).toBe(1);
    });
  });
}
