import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, MONOLITH_MAIN, JWT_SECRET, LINK_SECRET, ROOT, spawnProc, startStack, useHarness, userToken, type Stack } from '../harness/index.js';

// The "Your own events" seam (docs/protocol.md): MONOLITH_EVENTS_MODULE names a module whose default export
// registers handlers next to the built-in ones; the example module of docs/protocol.md is the one loaded.

useHarness();
const EXAMPLE = join(ROOT, 'monolith/examples/shout-events.mjs');
let stack: Stack;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'own-events-'));
  stack = await startStack({ monoliths: 1, balancers: 1, monolithEnv: { MONOLITH_EVENTS_MODULE: EXAMPLE } });
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('own gateway events', () => {
  it("answers the example module's event with the caller's identity, and its own validation error", async () => {
    const c = await connect(stack.balancers[0]!.url());
    await c.auth(await userToken({ sub: 'shouter' }));
    expect(await c.request('shout', 1, { text: 'hi' })).toEqual({ event: 'shouted', _id: 1, data: { text: 'HI', by: 'shouter' } });
    expect(await c.request('shout', 2, { text: 7 })).toMatchObject({ event: 'error', _id: 2, code: 'bad_request' });
    // The built-in events are still there.
    expect(await c.request('ping', 3, { n: 1 })).toEqual({ event: 'pong', _id: 3, data: { n: 1 } });
    c.close();
  });

  it("is the sample of docs/protocol.md, line for line", () => {
    const readme = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');
    const code = readFileSync(EXAMPLE, 'utf8').split('\n').filter((l) => !l.startsWith('//')).join('\n').trim();
    expect(readme).toContain(code);
  });

  it.each([
    ['overrides a built-in event', 'export default (events) => events.on("ping", (ctx) => ctx.reply("pong", {}));', /event "ping" is built in/],
    ['has no default export', 'export const register = () => {};', /no default export function/],
    ['does not exist', undefined, /cannot be used/],
  ])('refuses to start (exit 2, naming the variable) with a module that %s', async (_what, source, message) => {
    const path = join(dir, `${Math.random().toString(36).slice(2)}.mjs`);
    if (source !== undefined) writeFileSync(path, source);
    const env = { JWT_SECRET, LINK_SECRET, MONOLITH_HTTP_PORT: '0', MONOLITH_LINK_PORT: '0', MONOLITH_EVENTS_MODULE: path };
    const proc = spawnProc('monolith (events)', process.execPath, [MONOLITH_MAIN], env, ROOT);
    const status = await proc.exited;
    expect(status.code).toBe(2);
    expect(proc.output('stderr')).toMatch(/MONOLITH_EVENTS_MODULE/);
    expect(proc.output('stderr')).toMatch(message);
  });
});
