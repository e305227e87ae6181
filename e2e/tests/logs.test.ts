import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  badSignatureToken,
  connect,
  secretLeaks,
  startStack,
  useHarness,
  userToken,
  type Proc,
  type Stack,
} from '../harness/index.js';

// What the services log, at debug (the most they ever say): a session's life on the balancer,
// every refusal with its reason, an access log with request ids on the monolith, and never a
// token or a secret. (Every e2e file also scans its services' whole output for those: useHarness.)

useHarness();

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1, monolithEnv: { MONOLITH_LOG_LEVEL: 'debug' }, balancerEnv: { BALANCER_LOG_LEVEL: 'debug' } });
});
afterAll(async () => {
  await stack?.stop();
});

/** The JSON log lines of a process (its stderr), parsed. */
function jsonLines(proc: Proc): Array<Record<string, unknown>> {
  return proc.lines.flatMap((l) => {
    if (!l.text.startsWith('{')) return [];
    try {
      return [JSON.parse(l.text) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

const until = async <T>(find: () => T | undefined, what: string): Promise<T> => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no ${what} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('service logs', () => {
  it("tell a session's life on the balancer: connected, joined, closed with its code; a refused token at info with its reason", async () => {
    const balancer = stack.balancers[0]!;
    const c = await connect(balancer.url());
    const welcome = await c.auth(await userToken({ sub: 'log-alice' }));
    const id = welcome.data.id as string;
    c.close();
    const lines = () => jsonLines(balancer.proc);
    const forConn = (msg: string) => lines().find((l) => l.msg === msg && l.conn === id);
    await until(() => forConn('session closed'), 'session closed line');
    expect(forConn('session connected')).toMatchObject({ level: 'debug', service: 'balancer' });
    expect(forConn('session joined')).toMatchObject({ level: 'debug', room: 'user:log-alice' });
    expect(forConn('session closed')).toMatchObject({ level: 'debug', code: expect.any(Number) });

    const bad = await connect(balancer.url());
    bad.send({ action: 'auth', token: await badSignatureToken({ sub: 'log-mallory' }) });
    await bad.closed(10_000);
    const refused = await until(() => lines().find((l) => l.msg === 'authentication refused'), 'a refusal line');
    expect(refused).toMatchObject({ level: 'info', reason: 'invalid', conn: expect.any(String) });
  });

  it('give every HTTP request an id (answered in x-request-id) and log refusals at info with status and reason', async () => {
    const monolith = stack.monoliths[0]!;
    const token = await userToken({ sub: 'log-bob' });
    // A user token on an admin endpoint: refused.
    const res = await fetch(`${monolith.http}/api/rooms/lobby/broadcast`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"event":"e","data":{}}' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^.+-[0-9a-z]+$/);
    const line = await until(() => jsonLines(monolith.proc).find((l) => l.msg === 'http request' && l.reqId === requestId), 'the access log line');
    expect(line).toMatchObject({ level: 'info', method: 'POST', route: '/api/rooms/:room/broadcast', status: res.status, reason: expect.any(String) });
    // An ok request is logged too, at debug.
    const ok = await fetch(`${monolith.http}/health`);
    const okId = ok.headers.get('x-request-id');
    expect(await until(() => jsonLines(monolith.proc).find((l) => l.msg === 'http request' && l.reqId === okId), 'the ok line')).toMatchObject({ level: 'debug', status: 200 });
    // The token it carried appears nowhere.
    expect(monolith.proc.output()).not.toContain(token.slice(0, 40));
  });

  it('hold no secret or token at debug, and the scan that checks every file catches one', () => {
    expect(secretLeaks(stack.procs())).toEqual([]);
    const fake = { name: 'monolith m1', lines: [{ stream: 'stderr', text: '{"msg":"x","t":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"}' }] } as unknown as Proc;
    expect(secretLeaks([fake])).toHaveLength(1);
  });
});
