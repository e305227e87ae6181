import { describe, expect, it } from 'vitest';
import { isMockGuild } from '@gateway/protocol';
import { DEMO_GUILDS, MOCK_GUILD_ID, demoEntities } from './fixture.js';

describe('the demo mock-bot guild', () => {
  it('is in the mock id range, unlike every real demo guild, and the fixture stores nothing for it', () => {
    expect(isMockGuild(MOCK_GUILD_ID)).toBe(true);
    for (const g of DEMO_GUILDS) expect(isMockGuild(g.id), g.id).toBe(false);
    expect(demoEntities().filter(([, guildId]) => guildId === MOCK_GUILD_ID)).toEqual([]);
  });
});
