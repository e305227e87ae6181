import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { connect, guestToken, startStack, useHarness, userToken, type BalancerHandle, type Stack } from '../harness/index.js';

/**
 * Security audit, finding 3: a 40 KB frame nested 20,000 deep cost ~5.5 ms of monolith time (a
 * JSON.stringify stack overflow, logged with a full stack); two guests inside MESSAGE_RATE
 * stalled a monolith. Now the balancer refuses it after its own parse (MAX_JSON_DEPTH, 4112),
 * so it never reaches a monolith.
 */

useHarness();

let stack: Stack;
let balancer: BalancerHandle;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1 });
  balancer = stack.balancers[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

/** `{"event":"ping","_id":n,"data":[[[...]]]}`, `depth` arrays deep: about 2 bytes per level. */
const deepFrame = (depth: number, id: number) => `{"event":"ping","_id":${id},"data":${'['.repeat(depth)}${']'.repeat(depth)}}`;

describe('a frame nested 20,000 deep', () => {
  it('is refused at the balancer with 4112 while a watcher’s pings keep being answered', async () => {
    const watcher = await connect(balancer.url());
    await watcher.auth(await userToken({ sub: 'watcher' }));
    const frame = deepFrame(20_000, 1);
    expect(Buffer.byteLength(frame)).toBeGreaterThan(40_000);

    const ATTACKERS = 10;
    const attackers = await Promise.all(
      Array.from({ length: ATTACKERS }, async (_, i) => {
        const c = await connect(balancer.url());
        // Free guests, as in the audit, and users.
        await c.auth(i % 2 === 0 ? await guestToken() : await userToken({ sub: `deep${i}` }));
        return c;
      }),
    );
    let answered = 0;
    for (const attacker of attackers) {
      attacker.send(frame);
      expect(await watcher.request('ping', `w${answered}`)).toMatchObject({ event: 'pong' });
      answered++;
    }
    for (const attacker of attackers) {
      expect((await attacker.closed()).code).toBe(CloseCode.TOO_DEEP);
      // Refused before forwarding: no pong and no `internal` error came back.
      expect(attacker.pending()).toEqual([]);
    }
    expect(answered).toBe(ATTACKERS);
    expect(await watcher.request('ping', 'after')).toMatchObject({ event: 'pong', _id: 'after' });

    // Before auth, too: the first frame is parsed (and measured) like any other.
    const anonymous = await connect(balancer.url());
    anonymous.send(`{"action":"auth","token":"x","room":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);
    expect((await anonymous.closed()).code).toBe(CloseCode.TOO_DEEP);

    // The monolith never saw one: no stack overflow caught and logged.
    expect(stack.monoliths[0]!.proc.output()).not.toMatch(/Maximum call stack|RangeError/);
    watcher.close();
  });
});
