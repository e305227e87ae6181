import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { adminToken, connect, startStack, uniq, useHarness, userToken, type Stack, type TestClient } from '../harness/index.js';

/**
 * Security audit, finding 2: a replayed single-use websocket token received the victim's private
 * pushes (309 of 551 in 6 s) until the monolith kicked it, because the balancer subscribed the
 * socket to the user's room at auth. Now the balancer subscribes only on the owner's `welcome`
 * (`admit`), which a replay never gets.
 */

useHarness();

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1 });
});
afterAll(async () => {
  await stack?.stop();
});

async function post(path: string, body: unknown, token: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${stack.monoliths[0]!.http}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('a replayed single-use websocket token', () => {
  it('gets none of the victim’s pushes while they stream, and every replay closes with 4102', async () => {
    const sub = uniq('victim');
    const minted = await post('/api/tokens/ws', {}, await userToken({ sub }));
    expect(minted.status).toBe(200);
    const wsToken = minted.json.token as string;

    const victim = await connect(stack.balancers[0]!.url());
    expect((await victim.auth(wsToken)).data).toMatchObject({ room: `user:${sub}` });

    const admin = await adminToken();
    let pushing = true;
    let pushed = 0;
    const pusher = (async () => {
      while (pushing) {
        const { status } = await post(`/api/users/${sub}/messages`, { event: 'private', data: { n: pushed } }, admin);
        expect(status).toBe(202);
        pushed++;
      }
    })();

    // The stream is flowing before the first replay.
    await victim.nextEvent('private');
    const replays: TestClient[] = [];
    const LOOPS = 8;
    const PER_LOOP = 8;
    await Promise.all(
      Array.from({ length: LOOPS }, async () => {
        for (let i = 0; i < PER_LOOP; i++) {
          const replay = await connect(stack.balancers[0]!.url());
          replays.push(replay);
          replay.send({ action: 'auth', token: wsToken });
          expect((await replay.closed()).code).toBe(CloseCode.TOKEN_INVALID);
        }
      }),
    );
    pushing = false;
    await pusher;
    // The bus keeps one topic in order: once `done` arrives, every earlier push has too.
    expect((await post(`/api/users/${sub}/messages`, { event: 'done' }, admin)).status).toBe(202);
    await victim.nextEvent('done');

    const leaked = replays.flatMap((r) => r.received.filter((m) => m.event === 'private' || m.event === 'welcome'));
    expect(replays).toHaveLength(LOOPS * PER_LOOP);
    expect(pushed).toBeGreaterThan(1);
    expect(leaked).toEqual([]);
    expect(victim.received.filter((m) => m.event === 'private')).toHaveLength(pushed);
    expect(await victim.request('ping', 1)).toMatchObject({ event: 'pong' });
    victim.close();
  });
});
