import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission } from '@gateway/protocol';
import { startStack, uniq, useHarness, userToken, type Stack } from '../harness/index.js';

/**
 * The architus dashboard's sign-in as a real browser does it: an HttpOnly `token` cookie the page
 * cannot read, sent by Chromium with the websocket upgrade to `/authenticated` because the page's
 * origin is the operator's ALLOWED_ORIGINS; and the front page without a cookie, a tokenless
 * guest talking to the mock bot. The page is a blank one served on 127.0.0.1 (cookies are per
 * host, not per port, so the balancer's port on 127.0.0.1 gets them).
 */
useHarness();

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const GUILD = '1234567890';

let stack: Stack;
let site: Server;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>archit.us</title>'));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  stack = await startStack({ monoliths: 1, balancers: 1, monolithEnv: { DEMO_FIXTURE: 'true' }, balancerEnv: { ALLOWED_ORIGINS: origin } });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
});

afterAll(async () => {
  await browser?.close().catch(() => {});
  await stack?.stop();
  await new Promise((resolve) => site?.close(resolve));
});

/**
 * In the page: opens the dashboard's socket, sends `frames` once `welcome` arrived, and resolves
 * with every frame received until one with `_event` `until` (and `seq`, if given) arrives.
 */
function dashboardSession(url: string, frames: object[], until: string, seq?: number) {
  return (async () => {
    const page = await context();
    return page.evaluate(
      ({ url, frames, until, seq }) =>
        new Promise<{ cookieVisible: string; received: Array<Record<string, unknown>> }>((resolve, reject) => {
          const received: Array<Record<string, unknown>> = [];
          const ws = new WebSocket(url);
          const timer = setTimeout(() => reject(new Error(`no ${until} in time: ${JSON.stringify(received)}`)), 10_000);
          ws.onmessage = (e) => {
            const frame = JSON.parse(e.data as string) as Record<string, unknown>;
            received.push(frame);
            if (frame._event === 'welcome') for (const f of frames) ws.send(JSON.stringify(f));
            if (frame._event === until && (seq === undefined || frame.seq === seq)) {
              clearTimeout(timer);
              ws.close();
              resolve({ cookieVisible: document.cookie, received });
            }
          };
          ws.onclose = (e) => reject(new Error(`closed ${e.code} ${e.reason}`));
        }),
      { url, frames, until, seq },
    );
  })();
}

let cookieToken: string | undefined;
async function context() {
  const ctx = await browser.newContext();
  if (cookieToken !== undefined) {
    await ctx.addCookies([{ name: 'token', value: cookieToken, domain: '127.0.0.1', path: '/', httpOnly: true, secure: false, sameSite: 'Lax' }]);
  }
  const page = await ctx.newPage();
  await page.goto(origin);
  return page;
}

describe('architus dashboard in Chromium', () => {
  it('signs in with the HttpOnly cookie the page cannot read, and loads a pool', async () => {
    const sub = uniq('user');
    cookieToken = await userToken({ sub, guilds: { [GUILD]: Permission.ADMINISTRATOR } });
    const { cookieVisible, received } = await dashboardSession(
      stack.balancers[0]!.url('/authenticated'),
      [{ _event: 'pool_request', type: 'member', guild_id: GUILD, _seq: 3, ids: ['100000000000000002'] }],
      'pool_response',
      3,
    );
    expect(cookieVisible).toBe('');
    expect(received[0]).toMatchObject({ _event: 'welcome', user: { id: sub, guest: false } });
    expect(received.at(-1)).toMatchObject({ _event: 'pool_response', seq: 3, finished: true, data: [{ id: '100000000000000002', nick: 'Ali' }] });
  });

  it('without a cookie the front page is a tokenless guest, and the mock bot answers it', async () => {
    cookieToken = undefined;
    const { received } = await dashboardSession(
      stack.balancers[0]!.url('/authenticated'),
      [{ _event: 'ping', action: 3001, guildId: 4242424, messageId: 0, content: '!help', silent: false, allowedCommands: ['set'] }],
      'mock_bot_event',
    );
    expect(received[0]).toMatchObject({ _event: 'welcome', user: { guest: true } });
    expect(received.at(-1)).toEqual({
      _event: 'mock_bot_event',
      guildId: 4242424,
      actions: [{ action: 3001, messageId: expect.any(Number), content: '```set: set <trigger>::<response>\nSets an auto response.```\n' }],
    });
  });
});
