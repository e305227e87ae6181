import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebServer, type WebServer } from '../../scripts/serve-web.mjs';
import { logEntry, postLog } from '../harness/gateway-http.js';
import { JWT_SECRET, ROOT, startStack, useHarness, type Stack } from '../harness/index.js';

/**
 * The dashboard (web/) in Debian's chromium, against a real stack: one monolith with the demo
 * fixture, two balancers (the page rotates through both on reconnect), and scripts/serve-web.mjs.
 * The reconnect scenario kills a balancer rather than restarting it on its port: uWS binds without
 * SO_REUSEADDR, so the killed process' port stays unbindable for ~60 s of TIME_WAIT (tried: a
 * restart on the same port still failed after 40 s of retries).
 */
useHarness();

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const GUILD = '1234567890';
const GUILD_NAME = 'Architus Demo';
/** A fixture member of every demo guild (monolith/src/store/fixture.ts KNOWN_MEMBERS). */
const ALICE_ID = '100000000000000001';

let stack: Stack;
let web: WebServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 2, monolithEnv: { DEMO_FIXTURE: 'true' } });
  web = await startWebServer({ port: 0, monolithHttp: stack.monoliths[0]!.http, jwtSecret: JWT_SECRET, wsUrl: stack.balancers[0]!.url() });
  // playwright refuses --user-data-dir on launch(): it always gives the browser a fresh profile
  // in a temp dir of its own (removed on close), and each page gets its own context.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close().catch(() => {});
  await web?.close();
  await stack?.stop();
});

/** A page signed in as `sub`, spectating the demo guild, with its lists loaded. */
async function openDashboard(sub = 'alice', on: { stack: Stack; web: WebServer } = { stack, web }): Promise<Page> {
  const { stack, web } = on;
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  const ws = stack.balancers.map((b) => b.url()).join(',');
  await page.goto(`${web.url}?ws=${encodeURIComponent(ws)}&api=${encodeURIComponent(stack.monoliths[0]!.http)}&sub=${sub}`);
  // The first screen says what to do; nothing is editable before signing in.
  expect(await page.isVisible('#hint')).toBe(true);
  expect(await page.textContent('#hint')).toMatch(/sign in/i);
  expect(await page.isVisible('#ar-form')).toBe(false);
  await page.click('#signin');
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'open', undefined, { timeout: 15_000 });
  await expect.poll(() => page.inputValue('#guild'), { timeout: 10_000 }).toBe(GUILD);
  await page.waitForSelector('#members[data-loaded="true"] li', { timeout: 15_000 });
  await page.waitForSelector('#auto-responses li', { timeout: 15_000 });
  // The guild is shown by its name (the `guild` pool), the hint is gone, the editor is there.
  await expect.poll(() => page.$eval('#guild', (s: HTMLSelectElement) => s.selectedOptions[0]?.textContent), { timeout: 10_000 }).toBe(GUILD_NAME);
  expect(await page.isVisible('#hint')).toBe(false);
  expect(await page.isVisible('#ar-form')).toBe(true);
  expect(errors).toEqual([]);
  return page;
}

const texts = (page: Page, selector: string) => page.$$eval(selector, (els) => els.map((e) => e.textContent ?? ''));
/** The ids of the log entries on screen, top (newest) first. */
const logIds = (page: Page) => page.$$eval('#logs li', (els) => els.map((e) => (e as HTMLElement).dataset.id ?? ''));
/** Waits until the newest log entry on screen is `id`. */
const newestLogIs = (page: Page, id: string) =>
  page.waitForFunction((i) => (document.querySelector('#logs li') as HTMLElement | null)?.dataset.id === i, id, { timeout: 10_000 });
/** Waits until every one of `ids` is on screen. */
const logShows = (page: Page, ids: string[]) =>
  page.waitForFunction((list) => list.every((i) => document.querySelector(`#logs li[data-id="${i}"]`)), ids, { timeout: 10_000 });
/** A log entry as the README's example posts it: its text in `data.text`, by `agent`. */
const textEntry = (id: string, text: string, agent: string | null = ALICE_ID, timestamp = Date.now()) => ({ ...logEntry(GUILD, id), agent_id: agent, timestamp, data: { text } });
/** What the page shows of one entry. */
const shownEntry = (page: Page, id: string) =>
  page.$eval(`#logs li[data-id="${id}"]`, (li) => ({
    text: li.querySelector('.log-text')?.textContent,
    author: li.querySelector('.log-author')?.textContent ?? null,
    time: li.querySelector('time')?.getAttribute('datetime') ?? null,
  }));

describe('dashboard', () => {
  it('serves the page, the SDK and the protocol module with JavaScript MIME types, and refuses traversal', async () => {
    const js = await fetch(`${web.url}client/index.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${web.url}protocol/codes.js`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(web.url)).headers.get('content-type')).toMatch(/^text\/html/);
    for (const path of ['web/..%2f..%2fpackage.json', 'client/%2e%2e/%2e%2e/package.json', 'protocol/..%5c..%5cpackage.json', 'etc/passwd']) {
      expect((await fetch(`${web.url}${path}`)).status, path).toBe(404);
    }
  });

  it("runs the browser SDK sample of docs/sdk.md as written on the dashboard's origin: open, members found, a posted log entry logged", async () => {
    const readme = readFileSync(join(ROOT, 'docs/sdk.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Client SDK'), readme.indexOf('\n## ', readme.indexOf('\n## Client SDK') + 1));
    const sample = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).find((code) => code.includes('document.title'));
    expect(sample, 'the browser sample').toBeDefined();
    // The only changes: the balancer's address, and the package name resolved as web/ does it.
    const js = ts
      .transpileModule(sample!, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } })
      .outputText.replace("from '@gateway/client'", "from '/client/index.js'")
      .replace('ws://127.0.0.1:8080/ws', stack.balancers[0]!.url());
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const errors: string[] = [];
    const logged: unknown[][] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    page.on('console', (msg) => void Promise.all(msg.args().map((a) => a.jsonValue())).then((args) => logged.push(args), () => {}));
    await page.goto(web.url);
    await page.addScriptTag({ type: 'module', content: js });
    await page.waitForFunction(() => document.title === 'open', undefined, { timeout: 15_000 });
    // `console.log(await gw.searchMembers('1234567890', 'ali'))`: alice among the members found.
    await expect.poll(() => logged.some((args) => Array.isArray(args[0]) && args[0].some((m: { id?: string }) => m.id === ALICE_ID)), { timeout: 10_000 }).toBe(true);
    const id = String(Date.now());
    expect(await postLog(stack.monoliths[0]!, textEntry(id, 'for the README sample'))).toBe(202);
    await expect.poll(() => logged.some((args) => args[0] === 'log' && (args[2] as { text?: string } | undefined)?.text === 'for the README sample'), { timeout: 10_000 }).toBe(true);
    expect(errors).toEqual([]);
  });

  it('shows channels, roles, the first members and finds alice by search', async () => {
    const page = await openDashboard('alice');
    expect((await texts(page, '#channels li')).length).toBeGreaterThan(0);
    expect((await texts(page, '#roles li')).length).toBeGreaterThan(0);
    const members = await texts(page, '#members li');
    expect(members.length).toBeGreaterThan(0);
    expect(members.length).toBeLessThanOrEqual(50);
    await page.fill('#member-search', 'alice');
    await page.waitForFunction(() => [...document.querySelectorAll('#member-results li')].some((li) => /alice/i.test(li.textContent ?? '')), undefined, { timeout: 10_000 });
    // the mock bot answers a demo trigger as the signed-in user
    await page.fill('#bot-input', 'hello everyone');
    await page.click('#bot-send');
    await page.waitForFunction(() => document.getElementById('bot-output')?.textContent === 'Hello there!', undefined, { timeout: 10_000 });
    const id = String(Date.now());
    expect(await postLog(stack.monoliths[0]!, textEntry(id, 'posted over HTTP'))).toBe(202);
    await newestLogIs(page, id);
    await page.waitForFunction((i) => document.querySelector(`#logs li[data-id="${i}"] .log-author`)?.textContent === 'alice', id, { timeout: 10_000 });
    // The README's screenshot is refreshed only on request (UPDATE_FIGURES=1): a test run must
    // not rewrite a committed file.
    const dir = process.env.UPDATE_FIGURES === '1' ? join(ROOT, 'figures') : mkdtempSync(join(tmpdir(), 'dashboard-'));
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'dashboard.png'), fullPage: true });
  });

  it('an auto response saved on one page appears on another (log_pool)', async () => {
    const a = await openDashboard('alice');
    const b = await openDashboard('bob');
    const trigger = `wave${Date.now()}`;
    await a.fill('#ar-trigger', trigger);
    await a.fill('#ar-response', 'waving back');
    await a.click('#ar-save');
    for (const page of [a, b]) {
      await page.waitForFunction((t) => [...document.querySelectorAll('#auto-responses li')].some((li) => li.textContent === `${t} → waving back`), trigger, { timeout: 10_000 });
    }
    expect(await b.textContent('#error')).toBe('');
    // and the bot uses it
    await b.fill('#bot-input', `I ${trigger} at you`);
    await b.click('#bot-send');
    await b.waitForFunction(() => document.getElementById('bot-output')?.textContent === 'waving back', undefined, { timeout: 10_000 });
  });

  it('the live log shows an entry posted to the monolith: its text, time and author (by name when a member)', async () => {
    const page = await openDashboard('alice');
    const at = Date.UTC(2026, 10, 14, 9, 30, 0);
    const [byAlice, byStranger, byNobody] = [1, 2, 3].map((i) => `${Date.now()}${i}`) as [string, string, string];
    expect(await postLog(stack.monoliths[0]!, textEntry(byAlice, 'posted over HTTP', ALICE_ID, at))).toBe(202);
    expect(await postLog(stack.monoliths[0]!, textEntry(byStranger, 'from a bot', '42', at))).toBe(202);
    expect(await postLog(stack.monoliths[0]!, textEntry(byNobody, 'system note', null, at))).toBe(202);
    await logShows(page, [byAlice, byStranger, byNobody]);
    await page.waitForFunction((i) => document.querySelector(`#logs li[data-id="${i}"] .log-author`)?.textContent === 'alice', byAlice, { timeout: 10_000 });
    const time = new Date(at).toISOString();
    expect(await shownEntry(page, byAlice)).toEqual({ text: 'posted over HTTP', author: 'alice', time });
    // Not a member: the id stays; no agent: no author.
    expect(await shownEntry(page, byStranger)).toEqual({ text: 'from a bot', author: '42', time });
    expect(await shownEntry(page, byNobody)).toEqual({ text: 'system note', author: null, time });
    // An entry without text shows its data.
    const plain = String(Date.now());
    expect(await postLog(stack.monoliths[0]!, logEntry(GUILD, plain))).toBe(202);
    await newestLogIs(page, plain);
    expect((await shownEntry(page, plain)).text).toBe(JSON.stringify({ note: plain }));
  });

  it('opens the live log with the latest entries from history, newest first, each once', async () => {
    const posted = [1, 2, 3].map((i) => `${Date.now()}${i}`);
    for (const id of posted) expect(await postLog(stack.monoliths[0]!, logEntry(GUILD, id))).toBeLessThan(300);
    const page = await openDashboard('alice');
    await page.waitForFunction(() => document.getElementById('logs')?.dataset.loads === '1', undefined, { timeout: 10_000 });
    const shown = await logIds(page);
    expect(shown.slice(0, 3)).toEqual([...posted].reverse());
    expect(new Set(shown).size).toBe(shown.length);
    // a live entry goes on top, the history is not shown twice
    const id = String(Date.now());
    expect(await postLog(stack.monoliths[0]!, logEntry(GUILD, id))).toBeLessThan(300);
    await newestLogIs(page, id);
    expect((await logIds(page)).slice(0, 4)).toEqual([id, ...[...posted].reverse()]);
  });

  it('a guest can use the mock bot, is told what a guest can do, and gets no auto-response editor', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    // no ?ws=: the page asks the server's /config.json
    await page.goto(web.url);
    expect(await page.textContent('#hint')).toMatch(/sign in/i);
    await page.click('#guest');
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'open', undefined, { timeout: 15_000 });
    expect(await page.textContent('#who')).toContain('guest');
    await page.waitForFunction(() => /guests have no guild/i.test(document.getElementById('hint')?.textContent ?? ''), undefined, { timeout: 10_000 });
    expect(await page.isVisible('#hint')).toBe(true);
    expect(await page.isVisible('#ar-form')).toBe(false);
    expect(await page.isVisible('#ar-save')).toBe(false);
    // The mock guild is never a real guild: its stored auto responses are not shown, commands are.
    await page.fill('#bot-input', '!echo ping');
    await page.click('#bot-send');
    await page.waitForFunction(() => document.getElementById('bot-output')?.textContent === 'ping', undefined, { timeout: 10_000 });
  });

  it('shows reconnecting, then open again after its balancer is killed, without a reload; the log shows what was posted meanwhile once, nothing is re-fetched', async () => {
    const page = await openDashboard('alice');
    await page.waitForFunction(() => document.getElementById('logs')?.dataset.loads === '1', undefined, { timeout: 10_000 });
    const loads = () => page.evaluate(() => ({ members: document.getElementById('members')?.dataset.loads, logs: document.getElementById('logs')?.dataset.loads }));
    const before = await loads();
    // The page fetches a token before every reconnect: holding it makes the entries below
    // certainly posted while the page was away, not by timing.
    let held = false;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/demo-token', async (route) => {
      held = true;
      await gate;
      await route.continue();
    });
    await page.evaluate(() => {
      const w = window as unknown as { seen: string[]; notes: string[]; marker: number };
      w.seen = [];
      w.notes = [];
      new MutationObserver(() => w.seen.push(document.getElementById('state')!.textContent ?? '')).observe(document.getElementById('state')!, {
        childList: true,
        characterData: true,
        subtree: true,
      });
      const note = document.getElementById('reconnect')!;
      new MutationObserver(() => note.hidden || w.notes.push(note.textContent ?? '')).observe(note, { childList: true, characterData: true, subtree: true, attributes: true });
      w.marker = 42;
    });
    expect(await page.isVisible('#reconnect')).toBe(false);
    const first = stack.balancers[0]!;
    await first.kill();
    await page.waitForFunction(() => (window as unknown as { seen: string[] }).seen.includes('reconnecting'), undefined, { timeout: 10_000 });
    await expect.poll(() => held, { timeout: 10_000 }).toBe(true);
    // While away: why (the balancer's socket dropped) and when the next attempt comes, counted down.
    expect(await page.isVisible('#reconnect')).toBe(true);
    expect(await page.textContent('#reconnect')).toMatch(/^Connection lost: the connection dropped \(1006\) · (next attempt within \d+ s|retrying now…)$/);
    expect(await page.evaluate(() => (window as unknown as { notes: string[] }).notes)).toContainEqual(expect.stringMatching(/next attempt within \d+ s$/));
    const missed = [1, 2, 3].map((i) => `${Date.now()}${i}`);
    for (const id of missed) expect(await postLog(stack.monoliths[0]!, logEntry(GUILD, id))).toBeLessThan(300);
    release();
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'open', undefined, { timeout: 20_000 });
    expect(await page.isVisible('#reconnect')).toBe(false);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    await logShows(page, missed);
    const shown = await logIds(page);
    expect(shown.slice(0, 3)).toEqual([...missed].reverse());
    expect(new Set(shown).size).toBe(shown.length);
    // Recovered: neither the pools nor the log were loaded again.
    expect(await loads()).toEqual(before);
    // still spectating after the reconnect: a new log entry arrives
    const id = String(Date.now());
    expect(await postLog(stack.monoliths[0]!, logEntry(GUILD, id))).toBe(202);
    await newestLogIs(page, id);
  });
});

describe('dashboard across a monolith failover (Redis, 2 monoliths)', () => {
  let fo: Stack;
  let foWeb: WebServer;
  beforeAll(async () => {
    fo = await startStack({ monoliths: 2, balancers: 1, redis: true, monolithEnv: { DEMO_FIXTURE: 'true' } });
    foWeb = await startWebServer({ port: 0, monolithHttp: fo.monoliths[0]!.http, jwtSecret: JWT_SECRET, wsUrl: fo.balancers[0]!.url() });
  });
  afterAll(async () => {
    await foWeb?.close();
    await fo?.stop();
  });

  it('stays open when the monolith of its room is killed; the log shows what was posted meanwhile once, nothing is re-fetched', async () => {
    const page = await openDashboard('alice', { stack: fo, web: foWeb });
    await page.waitForFunction(() => document.getElementById('logs')?.dataset.loads === '1', undefined, { timeout: 10_000 });
    const loads = () => page.evaluate(() => ({ members: document.getElementById('members')?.dataset.loads, logs: document.getElementById('logs')?.dataset.loads }));
    const before = await loads();
    const who = (await page.textContent('#who')) ?? '';
    const victim = fo.monoliths.find((m) => who.endsWith(m.id))!;
    const survivor = fo.monoliths.find((m) => m !== victim)!;
    expect(victim, who).toBeDefined();
    await page.evaluate(() => {
      (window as unknown as { seen: string[] }).seen = [];
      new MutationObserver(() => (window as unknown as { seen: string[] }).seen.push(document.getElementById('state')!.textContent ?? '')).observe(
        document.getElementById('state')!,
        { childList: true, characterData: true, subtree: true },
      );
    });
    await victim.kill();
    const missed = [1, 2, 3].map((i) => `${Date.now()}${i}`);
    for (const id of missed) expect(await postLog(survivor, logEntry(GUILD, id))).toBeLessThan(300);
    await page.waitForFunction((id) => document.getElementById('who')?.textContent?.endsWith(id), survivor.id, { timeout: 20_000 });
    await logShows(page, missed);
    const id = String(Date.now());
    expect(await postLog(survivor, logEntry(GUILD, id))).toBeLessThan(300);
    await newestLogIs(page, id);
    const shown = await logIds(page);
    expect(shown.slice(0, 4)).toEqual([id, ...[...missed].reverse()]);
    expect(new Set(shown).size).toBe(shown.length);
    expect(await loads()).toEqual(before);
    expect(await page.evaluate(() => (window as unknown as { seen: string[] }).seen), 'never left open').toEqual([]);
  });
});
