/**
 * Security audit (issue 9), finding 7, `interpret`: the mock bot must only read mock guilds (ids
 * below 10^7) or guilds in the token. A guest interpreting against a real guild's id got its
 * auto responses by trigger (`2345678901`, `hello` → "Hello there!").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, guestToken, startStack, useHarness, userToken, type Stack, type TestClient } from '../harness/index.js';

useHarness();

// The demo fixture (monolith/src/store/fixture.ts): a real guild and the mock bot's guild.
const REAL_GUILD = '2345678901';
const MOCK_GUILD = '1000000';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1, monolithEnv: { DEMO_FIXTURE: 'true' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function session(token: string): Promise<TestClient> {
  const c = await connect(stack.balancers[0]!.url());
  await c.auth(token);
  return c;
}

describe('interpret on a real guild', () => {
  it('gives a guest no data: forbidden, as pool_request on that guild is', async () => {
    const c = await session(await guestToken());
    const reply = await c.request('interpret', 1, { guild_id: REAL_GUILD, message_id: '100', content: 'hello' });
    expect(reply).toMatchObject({ event: 'error', _id: 1, code: 'forbidden' });
    expect(JSON.stringify(reply)).not.toContain('Hello there!');
    // A built-in command on the real guild is refused the same way: nothing depends on the trigger.
    expect(await c.request('interpret', 2, { guild_id: REAL_GUILD, message_id: '102', content: '!echo hi' })).toMatchObject({ code: 'forbidden' });
    expect(await c.request('pool_request', 3, { type: 'autoResponse', guild_id: REAL_GUILD, ids: ['1'] })).toMatchObject({ code: 'forbidden' });
    c.close();
  });

  it('gives a user whose token lacks the guild no data either', async () => {
    const c = await session(await userToken({ guilds: { '1234567890': 0x207 } }));
    expect(await c.request('interpret', 1, { guild_id: REAL_GUILD, message_id: '100', content: 'hello' })).toMatchObject({ event: 'error', code: 'forbidden' });
    c.close();
  });

  it('answers a member of the guild, and a guest on the mock guild from its own state, never the store', async () => {
    const member = await session(await userToken({ guilds: { [REAL_GUILD]: 0 } }));
    expect(await member.request('interpret', 1, { guild_id: REAL_GUILD, message_id: '100', content: 'hello' })).toMatchObject({ event: 'interpret', data: { content: 'Hello there!' } });
    member.close();
    const guest = await session(await guestToken());
    // The fixture's entries under the mock id are never shown: a mock guild is not a real guild.
    expect(await guest.request('interpret', 1, { guild_id: MOCK_GUILD, message_id: '100', content: 'hello' })).toMatchObject({ event: 'interpret', data: null });
    const set = { guild_id: MOCK_GUILD, message_id: '102', content: '!set hello::hi guest', allowed_commands: ['set'] };
    expect(await guest.request('interpret', 2, set)).toMatchObject({ data: { content: '✅ `hello::hi guest` _successfully set_' } });
    expect(await guest.request('interpret', 3, { guild_id: MOCK_GUILD, message_id: '104', content: 'hello' })).toMatchObject({ data: { message_id: '209', content: 'hi guest' } });
    guest.close();
  });
});
