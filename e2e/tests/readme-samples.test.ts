import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_SECRET, ROOT, startRedis, startStack, useHarness, type Stack } from '../harness/index.js';

// The README's Quick start samples, run as written against a live stack (one monolith with the
// demo fixture, one balancer): the shell lines through bash, the console snippets in a context
// whose `WebSocket` is ws's (a browser's has the same API). Only the addresses are moved to this
// stack's ports and the placeholders filled in. Every fenced sample of the section is either run
// here or listed in NOT_RUN with the reason, so a new sample cannot go untested unnoticed.

useHarness();
const run = promisify(execFile);

interface Sample {
  lang: string;
  code: string;
}

/** The fenced blocks of the README between two headings. */
function samples(from: string, to: string): Sample[] {
  const text = readFileSync(`${ROOT}README.md`, 'utf8');
  const section = text.slice(text.indexOf(from), text.indexOf(to, text.indexOf(from)));
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

const quickStart = samples('## Quick start', '## Protocol');
const find = (needle: string) => {
  const found = quickStart.filter((s) => s.code.includes(needle));
  expect(found, `one Quick start sample containing ${needle}`).toHaveLength(1);
  return found[0]!;
};
const NOT_RUN: Record<string, string> = {
  'npm start   #': 'the stack itself: e2e/tests/npm-start.test.ts runs it',
  'JWT_SECRET=… LINK_SECRET=… node monolith/dist/main.js': 'starting each service by hand is what every e2e stack does',
};

let stack: Stack;
let ports: { balancer: number; http: number };
/** A sample's code with this stack's addresses and `env` placeholders filled in. */
const local = (code: string) => code.replaceAll('127.0.0.1:8080', `127.0.0.1:${ports.balancer}`).replaceAll('127.0.0.1:3000', `127.0.0.1:${ports.http}`);
const sh = async (code: string, env: Record<string, string> = {}) =>
  (await run('bash', ['-euo', 'pipefail', '-c', local(code)], { cwd: ROOT, env: { PATH: process.env.PATH!, JWT_SECRET, ...env }, timeout: 30_000 })).stdout;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1, monolithEnv: { DEMO_FIXTURE: 'true' } });
  ports = { balancer: stack.balancers[0]!.port, http: stack.monoliths[0]!.httpPort };
});
afterAll(async () => {
  await stack?.stop();
});

describe('README Quick start samples, run as written', () => {
  it('lists every sample it does not run, with the reason', () => {
    for (const s of quickStart) {
      const tested = ['dev-token.mjs alice', "new WebSocket('ws://127.0.0.1:8080/ws')", "event: 'spectate'", '/api/guilds/1234567890/logs', 'load-fixture.mjs', '/broadcast'].some((n) => s.code.includes(n));
      const skipped = Object.keys(NOT_RUN).some((n) => s.code.includes(n));
      expect(tested || skipped, `untested README sample:\n${s.code}`).toBe(true);
    }
  });

  it('mints a token, opens the console session, spectates, searches, interprets, and receives a posted log entry and a broadcast', async () => {
    const token = (await sh(find('dev-token.mjs alice').code)).trim();
    expect(token.split('.')).toHaveLength(3);

    const logged: string[] = [];
    const context = { WebSocket, console: { log: (line: unknown) => logged.push(String(line)) }, JSON };
    const frames = () => logged.map((l) => JSON.parse(l) as { event?: string; _id?: number; data?: Record<string, unknown> });
    const waitFrame = async (pick: (f: ReturnType<typeof frames>[number]) => boolean, what: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const f = frames().find(pick);
        if (f) return f;
        if (Date.now() > deadline) throw new Error(`no ${what} within 10 s; got ${logged.join('\n')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    // The console snippet: its `// then:` line runs once the welcome is in.
    const [open, then] = local(find("new WebSocket('ws://127.0.0.1:8080/ws')").code.replace('<token from above>', token)).split('// then:');
    runInNewContext(`var ws; ${open!.replace('const ws =', 'ws =')}`, context);
    expect((await waitFrame((f) => f.event === 'welcome', 'welcome')).data).toMatchObject({ room: 'user:alice' });
    runInNewContext(then!, context);
    expect(await waitFrame((f) => f.event === 'pong', 'pong')).toMatchObject({ _id: 1 });

    runInNewContext(find("event: 'spectate'").code, context);
    for (const id of [2, 3, 4]) {
      const reply = await waitFrame((f) => f._id === id, `reply ${id}`);
      expect(reply.event, JSON.stringify(reply)).not.toBe('error');
    }
    expect(JSON.stringify(await waitFrame((f) => f._id === 3, 'search reply'))).toMatch(/ali/i);

    await sh(find('/api/guilds/1234567890/logs').code);
    expect((await waitFrame((f) => f.event === 'log_other', 'log_other')).data).toMatchObject({ action_number: 1, data: { text: 'posted over HTTP' } });

    await sh(find('/broadcast').code);
    expect((await waitFrame((f) => f.event === 'hello', 'the broadcast')).data).toEqual({ text: 'hi' });
    runInNewContext('ws.close()', context);
  });

  it('loads the fixture into a Redis with the load-fixture line', async () => {
    const redis = await startRedis({ external: false });
    try {
      const line = find('load-fixture.mjs').code;
      const out = await sh(line.replace('redis://127.0.0.1:6379', redis.url));
      expect(out).toMatch(/^loaded \{"guild":3,"member":3400/);
    } finally {
      await redis.stop();
    }
  });
});
