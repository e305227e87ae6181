import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, CloseReason, ErrorCode, ErrorHuman, closeCodeName, type ErrorCodeValue } from '@gateway/protocol';
import { connect, nowS, startStack, useHarness, userToken, waitFor, type BalancerHandle, type MonolithHandle, type Msg, type Stack, type TestClient } from '../harness/index.js';
import { inBatches, metricSeries, readyOf } from '../harness/gateway-http.js';
import { CONNECTIONS, FLOOD, generate, type Item, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, MESSAGE_BURST, MESSAGE_RATE, type Script, SEED, WAIT_MS, WATCHER_BUDGET, WIDTH } from '../harness/fuzz-frames.js';
import { oracle, type Outcome, type Reply } from '../harness/fuzz-oracle.js';

/**
 * A seeded, bounded fuzz of client frames against a real stack (one monolith, one balancer),
 * extending framing.test.ts, security-depth.test.ts and security-control-frames.test.ts with
 * generated scripts: nesting at and past MAX_JSON_DEPTH, sizes at and past MAX_PAYLOAD_BYTES
 * (bytes, not characters), binary and malformed frames, wrong shapes, unknown events, re-auths,
 * websocket pings and pongs, and ping floods past MESSAGE_RATE.
 *
 * Each fuzz connection authenticates, then plays a short script. An oracle computes from the
 * script's bytes alone what the balancer must do (its order of checks: binary 4107, size 4108,
 * rate 4109, JSON object 4107, depth 4112; then the balancer's auth handling or the monolith's
 * validation): the replies before the first fatal frame and the close code of that frame, or
 * that the connection stays open. Frames before the fatal one are sent in chunks, each chunk's
 * replies awaited (a fatal frame closes the socket while replies of earlier frames may still be
 * on the link, so they must have arrived first); the fatal frame goes out with the rest of the
 * script in one write, so the first fatal frame decides the code. A watcher's round trips run
 * beside the fuzz, one per step of fuzz progress, and every one must be answered.
 *
 * The scripts come from e2e/harness/fuzz-frames.ts, the oracle from e2e/harness/fuzz-oracle.ts.
 * Reproduce a failure with `FUZZ_SEED=<seed> npx vitest run --project e2e e2e/tests/fuzz-frames.test.ts`.
 */

useHarness();

// ---------------------------------------------------------------------------------------------
// Runner

/** A client's websocket pongs, awaited by count (no sleeps). */
class PongLog {
  readonly payloads: Buffer[] = [];
  private waiter: (() => void) | undefined;

  constructor(c: TestClient) {
    c.ws.on('pong', (data: Buffer) => {
      this.payloads.push(Buffer.from(data));
      this.waiter?.();
    });
  }

  async atLeast(n: number, c: TestClient, timeoutMs = WAIT_MS): Promise<void> {
    if (this.payloads.length >= n) return;
    if (c.isClosed) throw new Error(`closed with ${this.payloads.length} of ${n} websocket pongs`);
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        c.ws.off('close', onClose);
        this.waiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onClose = (code: number): void => done(new Error(`closed (${code}) with ${this.payloads.length} of ${n} websocket pongs`));
      const timer = setTimeout(() => done(new Error(`${this.payloads.length} websocket pongs within ${timeoutMs} ms, expected ${n}`)), timeoutMs);
      c.ws.once('close', onClose);
      this.waiter = () => {
        if (this.payloads.length >= n) done();
      };
    });
  }
}

/** A canonical text (keys sorted) for comparing JSON values. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function matches(expected: Record<string, unknown>, m: Record<string, unknown>): boolean {
  return m.event === expected.event && m.code === expected.code && Object.hasOwn(m, '_id') === Object.hasOwn(expected, '_id') && isDeepStrictEqual(m._id, expected._id);
}

/** Every field of a received reply, against the owed one. */
function replyProblem(expected: Record<string, unknown>, m: Record<string, unknown>): string | undefined {
  if (expected.event === 'error') {
    const code = expected.code as ErrorCodeValue;
    const keys = Object.keys(m).filter((k) => !['event', '_id', 'code', 'message', 'human'].includes(k));
    if (typeof m.message !== 'string' || m.human !== ErrorHuman[code] || keys.length) return `error reply ${JSON.stringify(m)} is not {event, _id?, code, message, human: ${JSON.stringify(ErrorHuman[code])}}`;
    return undefined;
  }
  return canonical(m) === canonical(expected) ? undefined : `got ${canonical(m).slice(0, 300)}, expected ${canonical(expected).slice(0, 300)}`;
}

/**
 * Pairs a chunk's replies with the owed ones: the monolith's in the order their frames were sent
 * (one link: a FIFO), the balancer's own (answers to auth frames) anywhere among them. Replies
 * that look alike (no `_id`) can make a greedy pairing wrong, so this searches; a chunk owes a
 * dozen at most.
 */
function pair(owed: Reply[], got: Msg[]): Array<[Reply, Msg]> | undefined {
  const fromMonolith = owed.filter((r) => r.origin === 'monolith');
  const fromBalancer = owed.filter((r) => r.origin === 'balancer');
  const used = fromBalancer.map(() => false);
  const out: Array<[Reply, Msg]> = [];
  const search = (g: number, j: number): boolean => {
    if (g === got.length) return j === fromMonolith.length && used.every(Boolean);
    const m = got[g]!;
    const next = fromMonolith[j];
    if (next && matches(next.message, m)) {
      out.push([next, m]);
      if (search(g + 1, j + 1)) return true;
      out.pop();
    }
    for (const [k, reply] of fromBalancer.entries()) {
      if (used[k] || !matches(reply.message, m)) continue;
      used[k] = true;
      out.push([reply, m]);
      if (search(g + 1, j)) return true;
      used[k] = false;
      out.pop();
    }
    return false;
  };
  return search(0, 0) ? out : undefined;
}

function describeScript(script: Script, outcome: Outcome): string {
  const lines = script.items.map((item, i) => {
    const mark = outcome.fatal?.item === i ? ' <- fatal' : outcome.fatal && i > outcome.fatal.item ? ' (after the fatal frame)' : '';
    const chars = item.t === 'text' ? [...item.text] : [];
    const body = item.t === 'text' ? ` ${JSON.stringify(chars.slice(0, 120).join(''))}${chars.length > 120 ? '…' : ''}` : item.t === 'binary' ? ` ${item.bytes.subarray(0, 24).toString('hex')}` : '';
    return `    ${i}${script.breaks.has(i) ? '|' : ' '} ${item.label}${body}${mark}`;
  });
  const expectation = outcome.fatal ? `close ${outcome.fatal.code} (${closeCodeName(outcome.fatal.code)}) at item ${outcome.fatal.item}` : 'stays open';
  return `  connection ${script.index}: ${outcome.replies.length} replies, ${outcome.pongs.length} websocket pongs, then ${expectation}\n${lines.join('\n')}`;
}

function sendItem(c: TestClient, item: Item): void {
  switch (item.t) {
    case 'text':
      return c.send(item.text);
    case 'binary':
      return c.sendBinary(item.bytes);
    case 'wsping':
      return c.ws.ping(item.payload);
    case 'wspong':
      return c.ws.pong(item.payload);
    case 'wsflood':
      for (let k = 0; k < item.count; k++) c.ws.ping();
      return;
    case 'textflood':
      for (let k = 0; k < item.count; k++) c.send({ event: 'ping', _id: `f${k}` });
      return;
  }
}

interface RunResult {
  problems: string[];
  outcome: Outcome;
  script: Script;
}

/** Plays one script on its own connection and lists every way the gateway differed from the oracle. */
async function play(script: Script, token: string, outcome: Outcome, progress: () => void): Promise<RunResult> {
  const problems: string[] = [];
  let c: TestClient;
  try {
    c = await connect(balancer.url());
  } catch (err) {
    progress();
    return { problems: [(err as Error).message], outcome, script };
  }
  const pongs = new PongLog(c);
  try {
    await c.auth(token);
    const pongsBefore = (item: number): number => script.items.slice(0, item).filter((x) => x.t === 'wsping').length;
    const fatal = outcome.fatal?.item ?? script.items.length;
    let from = 0;
    while (from < fatal) {
      let to = from;
      while (to < fatal - 1 && !script.breaks.has(to)) to++;
      for (let k = from; k <= to; k++) sendItem(c, script.items[k]!);
      progress();
      const owed = outcome.replies.filter((r) => r.item >= from && r.item <= to);
      const got: Msg[] = [];
      while (got.length < owed.length) {
        got.push(
          await c.next(() => true, WAIT_MS).catch((err: Error) => {
            throw new Error(`items ${from}..${to}: ${got.length} of ${owed.length} replies (${owed.map((r) => canonical(r.message).slice(0, 80)).join(', ')}): ${err.message}`);
          }),
        );
      }
      const pairs = pair(owed, got);
      if (!pairs) {
        problems.push(`items ${from}..${to}: replies ${JSON.stringify(got).slice(0, 1500)} do not pair with the owed ones (the monolith's in order): ${owed.map((r) => `${r.item}:${r.origin}:${canonical(r.message).slice(0, 80)}`).join(', ')}`);
        break;
      }
      for (const [reply, m] of pairs) {
        const problem = replyProblem(reply.message, m);
        if (problem) problems.push(`item ${reply.item}: ${problem}`);
      }
      await pongs.atLeast(pongsBefore(to + 1), c).catch((err: Error) => {
        throw new Error(`after item ${to}: ${err.message}`);
      });
      from = to + 1;
    }
    if (problems.length) throw new Error('stopped at the first chunk that differs');

    const prefixPongs = outcome.pongs.length;
    if (outcome.fatal) {
      const fatalItem = script.items[outcome.fatal.item]!;
      for (let k = outcome.fatal.item; k < script.items.length; k++) sendItem(c, script.items[k]!);
      progress();
      const info = await c.closed(WAIT_MS);
      const name = closeCodeName(outcome.fatal.code)!;
      if (info.code !== outcome.fatal.code || info.reason !== CloseReason[name]) {
        problems.push(`closed with ${info.code} ${JSON.stringify(info.reason)}, expected ${outcome.fatal.code} ${JSON.stringify(CloseReason[name])} (${name})`);
      }
      let left = c.pending();
      if (fatalItem.t === 'textflood') {
        // Pings of the flood inside the burst were forwarded; the ones whose pong came back
        // before the close are a prefix of the flood, in order.
        const flood = left.filter((m) => m.event === 'pong' && typeof m._id === 'string' && /^f\d+$/.test(m._id));
        left = left.filter((m) => !flood.includes(m));
        const ids = flood.map((m) => m._id);
        if (!isDeepStrictEqual(ids, ids.map((_, k) => `f${k}`)) || flood.length > MESSAGE_BURST) problems.push(`flood pongs are not a prefix of the flood: ${JSON.stringify(ids)}`);
      }
      if (left.length) problems.push(`messages the oracle does not owe: ${JSON.stringify(left).slice(0, 500)}`);
      if (fatalItem.t === 'wsflood') {
        // uWS answers a ping before the balancer counts it, so the ping that closes gets its pong
        // too: at least the burst left (plus that one), at most the whole burst (plus that one).
        const flood = pongs.payloads.length - prefixPongs;
        const low = MESSAGE_BURST - outcome.tokensUsed + 1;
        if (flood < low || flood > MESSAGE_BURST + 1) problems.push(`${flood} websocket pongs for a ${FLOOD}-ping flood, expected ${low}..${MESSAGE_BURST + 1}`);
      } else if (pongs.payloads.length !== prefixPongs) {
        problems.push(`${pongs.payloads.length} websocket pongs, expected ${prefixPongs}`);
      }
    } else {
      // Kept open: one more round trip (after anything else on the same FIFO path), then nothing left over.
      const last = await c.request('ping', 'final', { last: true }, WAIT_MS);
      if (canonical(last) !== canonical({ event: 'pong', _id: 'final', data: { last: true } })) problems.push(`final round trip: ${JSON.stringify(last)}`);
      if (c.pending().length) problems.push(`messages the oracle does not owe: ${JSON.stringify(c.pending()).slice(0, 500)}`);
      if (c.isClosed) problems.push('closed, expected open');
      if (pongs.payloads.length !== prefixPongs) problems.push(`${pongs.payloads.length} websocket pongs, expected ${prefixPongs}`);
    }
    // Websocket pongs carry the ping's payload, in order.
    for (const [k, payload] of outcome.pongs.entries()) {
      if (!pongs.payloads[k]?.equals(payload)) problems.push(`websocket pong ${k}: ${pongs.payloads[k]?.toString('hex')}, expected ${payload.toString('hex')}`);
    }
  } catch (err) {
    problems.push((err as Error).message);
    c.ws.terminate();
  } finally {
    c.close();
    progress();
  }
  return { problems, outcome, script };
}

// ---------------------------------------------------------------------------------------------

let stack: Stack;
let balancer: BalancerHandle;
let monolith: MonolithHandle;

beforeAll(async () => {
  stack = await startStack({
    monoliths: 1,
    balancers: 1,
    balancerEnv: {
      MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES),
      MAX_JSON_DEPTH: String(MAX_JSON_DEPTH),
      MESSAGE_RATE: String(MESSAGE_RATE),
      MESSAGE_BURST: String(MESSAGE_BURST),
    },
    monolithEnv: { MAX_JSON_DEPTH: String(MAX_JSON_DEPTH) },
  });
  balancer = stack.balancers[0]!;
  monolith = stack.monoliths[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

async function closesByCode(): Promise<Map<string, number>> {
  const series = await metricSeries(balancer.admin, 'gateway_balancer_client_closes_total');
  return new Map(series.map((s) => [s.labels.code ?? '', s.value]));
}

async function authFailures(): Promise<Map<string, number>> {
  const series = await metricSeries(balancer.admin, 'gateway_balancer_auth_failures_total');
  return new Map(series.map((s) => [s.labels.reason ?? '', s.value]));
}

describe('fuzzed client frames', () => {
  it(`match the oracle on every connection while a watcher is served (FUZZ_SEED=${SEED})`, { timeout: 120_000 }, async () => {
    const repro = `FUZZ_SEED=${SEED} npx vitest run --project e2e e2e/tests/fuzz-frames.test.ts`;
    const pids = { balancer: balancer.pid, monolith: monolith.pid };
    const balancerMark = balancer.proc.lines.length;
    const monolithMark = monolith.proc.lines.length;

    const exp = nowS(3600);
    const tokens = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => userToken({ sub: `fuzz-${i}`, exp })));
    const scripts = tokens.map((token, i) => generate(i, token));
    const outcomes = scripts.map((script, i) => {
      try {
        return oracle(script, tokens[i]!, exp);
      } catch (err) {
        throw new Error(`seed ${SEED}, connection ${i}: ${(err as Error).message}`);
      }
    });

    const watcher = await connect(balancer.url());
    await watcher.auth(await userToken({ sub: 'fuzz-watcher' }));
    const closesBefore = await closesByCode();
    const failuresBefore = await authFailures();

    // The watcher: one round trip per step of fuzz progress (a chunk sent, a connection done),
    // inside its own MESSAGE_BURST; every one must be answered.
    let steps = 0;
    let wake: (() => void) | undefined;
    const progress = (): void => {
      steps++;
      wake?.();
      wake = undefined;
    };
    let fuzzing = true;
    let answered = 0;
    const watcherProblems: string[] = [];
    const watching = (async () => {
      let seen = 0;
      while (fuzzing && answered < WATCHER_BUDGET) {
        const id = `w${answered}`;
        try {
          const pong = await watcher.request('ping', id, { n: answered }, WAIT_MS);
          if (canonical(pong) !== canonical({ event: 'pong', _id: id, data: { n: answered } })) watcherProblems.push(`watcher ${id}: ${JSON.stringify(pong)}`);
        } catch (err) {
          watcherProblems.push(`watcher ${id}: ${(err as Error).message}`);
          return;
        }
        answered++;
        if (steps === seen) await new Promise<void>((resolve) => (wake = resolve));
        seen = steps;
      }
    })();

    const results = await inBatches(scripts, WIDTH, (script, i) => play(script, tokens[i]!, outcomes[i]!, progress));
    fuzzing = false;
    progress();
    await watching;

    const frames = scripts.reduce((sum, s) => sum + s.items.reduce((n, item) => n + (item.t === 'wsflood' || item.t === 'textflood' ? item.count : 1), 0), 0);
    const ends = new Map<string, number>();
    for (const o of outcomes) {
      const end = o.fatal ? String(o.fatal.code) : 'open';
      ends.set(end, (ends.get(end) ?? 0) + 1);
    }
    console.info(
      `fuzz-frames seed ${SEED}: ${CONNECTIONS} connections, ${frames} frames (floods included), ` +
        `${outcomes.reduce((n, o) => n + o.replies.length, 0)} replies and ${outcomes.reduce((n, o) => n + o.pongs.length, 0)} websocket pongs owed; ` +
        `endings ${[...ends].sort().map(([k, v]) => `${k}=${v}`).join(' ')}; watcher ${answered} round trips`,
    );
    const failed = results.filter((r) => r.problems.length);
    const report = failed.map((r) => `${describeScript(r.script, r.outcome)}\n${r.problems.map((p) => `    ! ${p}`).join('\n')}`).join('\n');
    expect(failed.length, `seed ${SEED}: ${failed.length} of ${CONNECTIONS} connections differ from the oracle (reproduce: ${repro})\n${report}`).toBe(0);
    expect(watcherProblems, `seed ${SEED}: the watcher (reproduce: ${repro})`).toEqual([]);
    // Steps that come while a round trip is out fold into the next one: at least one per wave.
    expect(answered, `seed ${SEED}: watcher round trips during the fuzz`).toBeGreaterThanOrEqual(Math.min(WATCHER_BUDGET, CONNECTIONS / WIDTH));

    // The balancer counted exactly the oracle's closes, no abrupt one (1006), and refused only
    // the bad re-auth tokens (never a frame from a socket it had already closed).
    const wantCloses = new Map<string, number>();
    for (const o of outcomes) if (o.fatal) wantCloses.set(String(o.fatal.code), (wantCloses.get(String(o.fatal.code)) ?? 0) + 1);
    const delta = async (): Promise<Record<string, number>> => {
      const now = await closesByCode();
      return Object.fromEntries(['1006', ...[...wantCloses.keys()].sort()].map((code) => [code, (now.get(code) ?? 0) - (closesBefore.get(code) ?? 0)]));
    };
    const want = Object.fromEntries(['1006', ...[...wantCloses.keys()].sort()].map((code) => [code, wantCloses.get(code) ?? 0]));
    await waitFor(async () => isDeepStrictEqual(await delta(), want), { timeoutMs: WAIT_MS, what: `closes by code ${JSON.stringify(want)}` }).catch(() => undefined);
    expect(await delta(), `seed ${SEED}: balancer closes by code during the fuzz`).toEqual(want);
    const badReauths = outcomes.reduce((sum, o) => sum + o.replies.filter((r) => r.message.code === ErrorCode.TOKEN_REJECTED).length, 0);
    const failuresAfter = await authFailures();
    const failuresDelta = Object.fromEntries([...failuresAfter].map(([reason, v]) => [reason, v - (failuresBefore.get(reason) ?? 0)]).filter(([, v]) => v !== 0));
    expect(failuresDelta, `seed ${SEED}: auth failures counted during the fuzz`).toEqual(badReauths ? { invalid: badReauths } : {});

    // Same processes, alive and healthy, and still serving.
    expect(balancer.proc.exit, 'balancer exited').toBeUndefined();
    expect(monolith.proc.exit, 'monolith exited').toBeUndefined();
    expect({ balancer: balancer.pid, monolith: monolith.pid }).toEqual(pids);
    for (const url of [balancer.http, balancer.admin, monolith.http]) expect((await fetch(`${url}/health`)).status, `${url}/health`).toBe(200);
    expect(await readyOf(balancer.http)).toMatchObject({ status: 200, body: { ready: true, monoliths: 1 } });
    expect(await watcher.request('ping', 'after', { after: true })).toEqual({ event: 'pong', _id: 'after', data: { after: true } });
    expect(watcher.isClosed).toBe(false);
    const fresh = await connect(balancer.url());
    await fresh.auth(await userToken({ sub: 'fuzz-fresh' }));
    expect(await fresh.request('ping', 1)).toEqual({ event: 'pong', _id: 1 });
    expect(fresh.pending()).toEqual([]);

    // Nothing the fuzz sent made either service log an error or a stack overflow.
    const logged = [...balancer.proc.lines.slice(balancerMark), ...monolith.proc.lines.slice(monolithMark)].map((l) => l.text);
    expect(logged.filter((t) => /"level":"(error|fatal)"|RangeError|Maximum call stack|uncaught|unhandled/i.test(t)), `seed ${SEED}: error lines`).toEqual([]);

    // The run covered every ending (the first connections are forced to) and the fuzz was real.
    const codes = new Set(outcomes.map((o) => o.fatal?.code ?? 'open'));
    expect([...codes].sort()).toEqual(['open', CloseCode.MALFORMED_FRAME, CloseCode.MESSAGE_TOO_LARGE, CloseCode.FLOOD, CloseCode.TOO_DEEP].sort());
    watcher.close();
    fresh.close();
  });
});

