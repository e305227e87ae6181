import { describe, expect, it } from 'vitest';
import { isMockGuild } from '@gateway/protocol';
import { DEMO_GUILDS, MOCK_GUILD_ID, demoEntities } from './fixture.js';

describe('the demo mock-bot guild', () => {
  it('is in the mock id range, unlike every real demo guild, and has the demo auto responses', () => {
    expect(isMockGuild(MOCK_GUILD_ID)).toBe(true);
    for (const g of DEMO_GUILDS) expect(isMockGuild(g.id), g.id).toBe(false);
    const pools = demoEntities().filter(([, guildId]) => guildId === MOCK_GUILD_ID);
    expect(pools.map(([type]) => type)).toEqual(['autoResponse']);
    expect(pools[0]![2]).toContainEqual(expect.objectContaining({ trigger: 'ping', response: 'pong', guild_id: MOCK_GUILD_ID }));
  });
});
