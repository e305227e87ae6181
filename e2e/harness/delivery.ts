import { ApiEvent, ErrorCode, Permission, ServerEvent, fullJitter, guildLogsStream, isTerminal, roomStream, type Since, type StreamPosition } from '@gateway/protocol';
import { connect, type CloseInfo, type Msg, type TestClient } from './client.js';
import { inBatches, logEntry } from './gateway-http.js';
import { uniq, type BalancerHandle } from './stack.js';
import { adminToken, userToken } from './tokens.js';

/**
 * The delivery contract (DESIGN §10) checked from the client side, on raw sockets (not the SDK):
 * `DeliveryClient` tracks its positions per stream, recovers as a client must (re-spectate with
 * `since` and `recover` on `resync`; reconnect with `since` after a reconnect close), and logs
 * every positioned push and every "reload" it was told; `Publisher` posts numbered publications
 * and records every acknowledgement; `deliveryProblems` compares the two.
 */

/** One entry of a client's log, in arrival order. */
export type Mark =
  | { kind: 'push'; stream: string; offset: number; epoch: string; id: string }
  /** A position adopted from a reply (`positions`) for a stream the client held none of: pushes follow it. */
  | { kind: 'start'; stream: string; offset: number; epoch: string }
  /** The client was told it cannot recover: `recovered: false`, or a push under a new epoch. */
  | { kind: 'told'; stream: string; how: string };

export interface DeliverySpec {
  label: string;
  token: string;
  room: string;
  guild: string;
  /** Balancer URLs: the first is used first; reconnects go round the list from the next one. */
  urls: string[];
}

const REQUEST_TIMEOUT_MS = 10_000;
const isPositioned = (m: Msg): m is Msg & { stream: string; offset: number; epoch: string } =>
  typeof m.stream === 'string' && typeof m.offset === 'number' && typeof m.epoch === 'string';
const isGuildStream = (stream: string): boolean => stream.startsWith('guild:');

/**
 * One order over acknowledgements and `since` requests in this process (happened-before, not
 * time): a push whose publication was acknowledged before the client sent its `since`, and that
 * it had not received by then, can only have come from history.
 */
let order = 0;
const ackedAt = new Map<string, number>();

/** Conditions re-checked on every change (never polled), each with its own timeout. */
class Changes {
  private readonly waiters = new Set<() => void>();

  until(pred: () => boolean, timeoutMs: number, failure: () => string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(failure()));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  changed(): void {
    for (const check of [...this.waiters]) check();
  }
}

export class DeliveryClient {
  readonly log: Mark[] = [];
  readonly positions = new Map<string, StreamPosition>();
  /** Error replies, failed reconnects, terminal closes: each is a problem in itself. */
  readonly errors: string[] = [];
  readonly closes: CloseInfo[] = [];
  /** Requests answered `unavailable` and sent again (not a problem: a client retries those). */
  readonly retried: string[] = [];
  welcomes = 0;
  resyncs = 0;
  /** Resyncs handled (recover and re-spectate answered). */
  resynced = 0;
  /** Reconnects completed (welcome and spectate answered on a new socket). */
  reconnects = 0;
  /** Pushes that came from history: acknowledged before this client sent the `since` they follow. */
  replayed = 0;
  monolith = '';
  url = '';
  private current: TestClient | undefined;
  private connecting = false;
  private terminated = false;
  private stopped = false;
  private nextId = 0;
  private sinceAt = 0;
  private hold: (() => Promise<unknown>) | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly changes = new Changes();

  constructor(readonly spec: DeliverySpec) {}

  /** The streams this client must receive: its guild's logs and its room's broadcasts. */
  get streams(): string[] {
    return [guildLogsStream(this.spec.guild), roomStream(this.spec.room)];
  }

  /** Connects, authenticates and spectates; resolves once the spectate reply is in. */
  start(): Promise<void> {
    return this.enqueue(() => this.connectLoop(0, true));
  }

  /** Cuts the socket without a close frame, as a network drop would; the client reconnects. */
  terminate(): void {
    this.terminated = true;
    this.current?.ws.terminate();
  }

  /**
   * The next recovery (resync handling or reconnect) starts only once `until()`, called when it
   * would start, resolves: a slow client, so that its gap surely holds publications (a
   * condition, never a sleep).
   */
  holdRecovery(until: () => Promise<unknown>): void {
    this.hold = until;
  }

  close(): void {
    this.stopped = true;
    this.current?.close();
  }

  /**
   * Resolves once `pred` holds, re-checked on every message and state change (never polled);
   * rejects after `timeoutMs` with what this client has seen.
   */
  until(pred: (c: DeliveryClient) => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.changes.until(() => pred(this), timeoutMs, () => `${this.spec.label}: no ${what} within ${timeoutMs} ms; ${this.summary()}`);
  }

  /** True once this client holds each position (same epoch, offset at least as high). */
  holds(targets: ReadonlyMap<string, StreamPosition>): boolean {
    for (const [stream, want] of targets) {
      const held = this.positions.get(stream);
      if (!held || held.epoch !== want.epoch || held.offset < want.offset) return false;
    }
    return true;
  }

  /**
   * A ping round trip on the current socket: the owner answers it after every push it sent
   * before, on the same link and socket, so nothing that was on its way is still missing.
   */
  async roundTrip(): Promise<void> {
    const c = this.current;
    if (!c) throw new Error(`${this.spec.label}: no socket`);
    const reply = await c.request('ping', `rt${this.nextId++}`, undefined, REQUEST_TIMEOUT_MS);
    if (reply.event !== ServerEvent.PONG) throw new Error(`${this.spec.label}: ping answered ${JSON.stringify(reply)}`);
  }

  /** `history {stream, limit}` on the current socket: the reply (or an error). */
  history(stream: string, limit = 1000): Promise<Msg> {
    const c = this.current;
    if (!c) throw new Error(`${this.spec.label}: no socket`);
    return c.request(ApiEvent.HISTORY, `h${this.nextId++}`, { stream, limit }, REQUEST_TIMEOUT_MS);
  }

  summary(): string {
    const pos = [...this.positions].map(([s, p]) => `${s}@${p.offset}/${p.epoch}`).join(' ');
    return `url ${this.url}, monolith ${this.monolith}, welcomes ${this.welcomes}, resyncs ${this.resyncs}/${this.resynced}, reconnects ${this.reconnects}, replayed ${this.replayed}, retried ${this.retried.length}, closes ${JSON.stringify(this.closes)}, positions ${pos}, errors ${JSON.stringify(this.errors).slice(0, 600)}`;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.chain.then(step);
    this.chain = run.catch((err: unknown) => {
      this.errors.push((err as Error).message);
      this.changes.changed();
    });
    return run;
  }

  private sinceOf(guild: boolean): Since {
    const out: Since = {};
    for (const [stream, pos] of this.positions) if (isGuildStream(stream) === guild) out[stream] = { offset: pos.offset, epoch: pos.epoch };
    if (Object.keys(out).length) this.sinceAt = ++order;
    return out;
  }

  private onMessage(msg: Msg): void {
    if (isPositioned(msg)) {
      const held = this.positions.get(msg.stream);
      if (held && held.epoch !== msg.epoch) this.log.push({ kind: 'told', stream: msg.stream, how: `push under epoch ${msg.epoch} after ${held.epoch}` });
      this.log.push({ kind: 'push', stream: msg.stream, offset: msg.offset, epoch: msg.epoch, id: String(msg.data?.id) });
      const at = ackedAt.get(`${msg.stream}|${msg.epoch}|${msg.offset}`);
      if (at !== undefined && at < this.sinceAt && (!held || held.epoch !== msg.epoch || msg.offset > held.offset)) this.replayed++;
      if (!held || held.epoch !== msg.epoch || msg.offset > held.offset) this.positions.set(msg.stream, { offset: msg.offset, epoch: msg.epoch });
    } else {
      const recovered = (msg.data?.recovered ?? {}) as Record<string, unknown>;
      const positions = (msg.data?.positions ?? {}) as Record<string, StreamPosition>;
      for (const [stream, ok] of Object.entries(recovered)) {
        if (ok !== false) continue;
        this.log.push({ kind: 'told', stream, how: `recovered: false in ${msg.event}` });
        // Reloading: the stream starts again where the reply says, or at the next push.
        this.positions.delete(stream);
      }
      for (const [stream, pos] of Object.entries(positions)) {
        if (this.positions.has(stream) || typeof pos?.offset !== 'number' || typeof pos.epoch !== 'string') continue;
        this.positions.set(stream, { offset: pos.offset, epoch: pos.epoch });
        this.log.push({ kind: 'start', stream, offset: pos.offset, epoch: pos.epoch });
      }
      if (msg.event === ServerEvent.WELCOME) {
        this.welcomes++;
        this.monolith = String(msg.data?.monolith);
      } else if (msg.event === ServerEvent.RESYNC) {
        this.resyncs++;
        void this.enqueue(() => this.resync()).catch(() => {});
      } else if (msg.event === ServerEvent.ERROR && msg._id === undefined) {
        // Errors answering a request are handled (and recorded) by the request.
        this.errors.push(JSON.stringify(msg));
      }
    }
    this.changes.changed();
  }

  private attach(c: TestClient): void {
    c.ws.on('message', (data: Buffer) => {
      try {
        this.onMessage(JSON.parse(data.toString('utf8')) as Msg);
      } catch (err) {
        this.errors.push(`unparsable frame: ${(err as Error).message}`);
      }
    });
    c.ws.on('close', (code: number, reason: Buffer) => {
      if (c !== this.current || this.connecting) return;
      this.closes.push({ code, reason: reason.toString('utf8') });
      const byTest = this.terminated;
      this.terminated = false;
      if (this.stopped) return;
      if (byTest || !isTerminal(code)) void this.enqueue(() => this.connectLoop(1, false)).catch(() => {});
      else this.errors.push(`terminal close ${code} ${reason.toString('utf8')}`);
      this.changes.changed();
    });
  }

  /** Connect, `auth` with the session streams' `since`, then spectate with the guild's. */
  private async connectLoop(urlStep: number, first: boolean): Promise<void> {
    this.connecting = true;
    const failures: string[] = [];
    try {
      await this.held();
      const start = this.spec.urls.indexOf(this.url) + urlStep;
      for (let attempt = 0; attempt < 30; attempt++) {
        if (this.stopped) return;
        // The back-off is the reconnect policy under test, not a wait for a condition.
        if (!first || attempt > 0) await new Promise((r) => setTimeout(r, fullJitter(attempt, 50, 1000)));
        const url = this.spec.urls[(Math.max(start, 0) + attempt) % this.spec.urls.length]!;
        let c: TestClient;
        try {
          c = await connect(url, { timeoutMs: 2000 });
        } catch (err) {
          failures.push((err as Error).message);
          continue;
        }
        this.current = c;
        this.attach(c);
        const since = this.sinceOf(false);
        c.send({ action: 'auth', token: this.spec.token, room: this.spec.room, ...(Object.keys(since).length ? { since } : {}) });
        try {
          await c.nextEvent(ServerEvent.WELCOME, undefined, REQUEST_TIMEOUT_MS);
        } catch (err) {
          if (!c.isClosed) throw err;
          failures.push(`closed ${(await c.closed()).code} before welcome`);
          continue;
        }
        this.url = url;
        this.connecting = false;
        try {
          await this.spectate(c);
        } catch (err) {
          // Closed meanwhile: the close handler has queued the next reconnect.
          if (c.isClosed) return;
          throw err;
        }
        if (!first) this.reconnects++;
        return;
      }
      throw new Error(`${this.spec.label}: no session after 30 attempts: ${failures.join('; ')}`);
    } finally {
      this.connecting = false;
      this.changes.changed();
    }
  }

  /** `resync` (the room moved): `recover` the session stream, re-spectate with positions. */
  private async resync(): Promise<void> {
    await this.held();
    const c = this.current;
    if (!c || c.isClosed) return;
    try {
      await this.retrying(c, ApiEvent.RECOVER, () => ({ since: this.sinceOf(false) }));
      await this.spectate(c);
    } catch (err) {
      // Closed meanwhile: the reconnect (queued by the close handler) recovers with `since`.
      if (c.isClosed) return;
      throw err;
    }
    this.resynced++;
  }

  private async held(): Promise<void> {
    const hold = this.hold;
    this.hold = undefined;
    await hold?.();
  }

  private spectate(c: TestClient): Promise<void> {
    return this.retrying(c, ApiEvent.SPECTATE, () => {
      const since = this.sinceOf(true);
      return { guild_id: this.spec.guild, include_logs: true, ...(Object.keys(since).length ? { since } : {}) };
    });
  }

  /** A request, sent again (after a back-off) while the answer is `unavailable`, as a client would. */
  private async retrying(c: TestClient, event: string, data: () => object): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, fullJitter(attempt, 100, 1000)));
      const reply = await c.request(event, `${event}${this.nextId++}`, data(), REQUEST_TIMEOUT_MS);
      if (reply.event === event) return;
      this.retried.push(`${event}: ${reply.code}`);
      if (reply.code !== ErrorCode.UNAVAILABLE) throw new Error(`${this.spec.label}: ${event} answered ${JSON.stringify(reply)}`);
    }
    throw new Error(`${this.spec.label}: ${event} still unavailable after 10 attempts`);
  }
}

/** Where publications are posted: a monolith's HTTP API. */
export interface PublishTarget {
  readonly http: string;
}

/** A 2xx answer: the publication is stored at this position. */
export interface Ack extends StreamPosition {
  n: number;
  stream: string;
  id: string;
  duplicate: boolean;
  /** The publisher's phase when the request was sent. */
  phase: string;
}

/** One HTTP answer (status 0: none, e.g. a timeout), with the publisher's phase when it was sent and answered. */
export interface Attempt {
  n: number;
  stream: string;
  id: string;
  status: number;
  body: unknown;
  phases: [string, string];
}

export interface PublisherOptions {
  targets: readonly PublishTarget[];
  guilds: readonly string[];
  rooms: readonly string[];
  /** Pause after each step: bounds the rate (a load rate, not a wait for a condition). */
  paceMs: number;
  /** One room broadcast per `roomEvery` steps, beside each step's log entry. */
  roomEvery: number;
}

/**
 * Posts numbered publications, step `n` = one log entry (guilds in turn) and every `roomEvery`
 * steps a `tick` broadcast (rooms in turn), each sent again with the same `Idempotency-Key`
 * until it is acknowledged, as a publisher that must not lose anything does.
 */
export class Publisher {
  /** Set by the test (e.g. 'down' while Redis is away); every attempt records it. */
  phase = 'up';
  steps = 0;
  readonly acks: Ack[] = [];
  readonly attempts: Attempt[] = [];
  readonly gaveUp: string[] = [];
  private stopped = false;
  private aborted = false;
  private done: Promise<void> = Promise.resolve();
  private readonly base = BigInt(Date.now()) * 1000n;
  private readonly tag = `p${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  private readonly changes = new Changes();

  constructor(private readonly opts: PublisherOptions) {}

  start(): void {
    this.done = this.run();
  }

  /** Stops after the current step (its publications retried until acknowledged). */
  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  /** Stops at once, retries included (clean-up after a failed test). */
  abort(): Promise<void> {
    this.aborted = true;
    return this.stop();
  }

  /** Resolves once `more` further steps are acknowledged. */
  after(more: number, timeoutMs = 30_000): Promise<void> {
    const at = this.steps + more;
    return this.until(() => this.steps >= at, timeoutMs, `${more} more published steps (at ${this.steps})`);
  }

  until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.changes.until(pred, timeoutMs, () => `publisher: no ${what} within ${timeoutMs} ms; last attempts ${JSON.stringify(this.attempts.slice(-3))}`);
  }

  /** The latest acknowledged position of every stream published to so far. */
  tops(): Map<string, StreamPosition> {
    const out = new Map<string, StreamPosition>();
    for (const a of this.acks) out.set(a.stream, { offset: a.offset, epoch: a.epoch });
    return out;
  }

  private async run(): Promise<void> {
    const { guilds, rooms, roomEvery, paceMs } = this.opts;
    while (!this.stopped) {
      const n = this.steps;
      const id = String(this.base + BigInt(n));
      const guild = guilds[n % guilds.length]!;
      const posts = [this.publish(n, guildLogsStream(guild), id, `/api/guilds/${guild}/logs`, logEntry(guild, id))];
      if (n % roomEvery === 0) {
        const room = rooms[(n / roomEvery) % rooms.length]!;
        posts.push(this.publish(n, roomStream(room), id, `/api/rooms/${encodeURIComponent(room)}/broadcast`, { event: 'tick', data: { n, id } }));
      }
      await Promise.all(posts);
      this.steps++;
      this.changes.changed();
      await new Promise((r) => setTimeout(r, paceMs));
    }
  }

  private async publish(n: number, stream: string, id: string, path: string, body: object): Promise<void> {
    const key = `${this.tag}-${stream}-${n}`;
    for (let attempt = 0; attempt < 400 && !this.aborted; attempt++) {
      const target = this.opts.targets[(n + attempt) % this.opts.targets.length]!;
      const phase = this.phase;
      const { status, body: answer } = await postJson(`${target.http}${path}`, body, key);
      this.attempts.push({ n, stream, id, status, body: answer, phases: [phase, this.phase] });
      this.changes.changed();
      if (status >= 200 && status < 300) {
        const a = answer as { stream?: unknown; offset?: unknown; epoch?: unknown; duplicate?: unknown };
        this.acks.push({ n, stream: String(a.stream), id, offset: Number(a.offset), epoch: String(a.epoch), duplicate: a.duplicate === true, phase });
        const pos = `${String(a.stream)}|${String(a.epoch)}|${Number(a.offset)}`;
        if (!ackedAt.has(pos)) ackedAt.set(pos, ++order);
        return;
      }
      // Retry cadence while the gateway answers 503 (a load rate, not a wait for a condition).
      await new Promise((r) => setTimeout(r, 50));
    }
    this.gaveUp.push(`${stream} #${n}: no 2xx after ${this.aborted ? 'the abort' : '400 attempts'}`);
  }
}

let service: Promise<string> | undefined;
async function postJson(url: string, body: object, idempotencyKey: string): Promise<{ status: number; body: unknown }> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${await (service ??= adminToken())}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: keep the text for the report.
    }
    return { status: res.status, body: parsed };
  } catch (err) {
    return { status: 0, body: (err as Error).message };
  }
}

/** `1-5,7,9-10` */
function ranges(offsets: number[]): string {
  const sorted = [...new Set(offsets)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return `${out.join(',')} (${sorted.length})`;
}

export interface CheckOptions {
  /** False: no client may be told to reload (history covers every gap). */
  toldAllowed: boolean;
  /** Publications from this step on were acknowledged after every client was receiving. */
  firstStep: number;
}

/**
 * Every problem with one client's deliveries: each acknowledged publication of each of its
 * streams received exactly once, at its acknowledged position, in offset order; a gap only
 * where the client was told to reload (and only if `toldAllowed`), and then none after the
 * position it restarted from.
 */
export function clientProblems(c: DeliveryClient, p: Publisher, opts: CheckOptions): string[] {
  const problems = c.errors.map((e) => `${c.spec.label}: ${e}`);
  const unsure = new Set(p.attempts.filter((a) => a.status < 200 || a.status >= 300).map((a) => `${a.stream}|${a.id}`));
  for (const stream of new Set(c.log.map((m) => m.stream))) {
    if (!c.streams.includes(stream) && c.log.some((m) => m.stream === stream && m.kind === 'push')) problems.push(`${c.spec.label}: pushes on ${stream}, which it does not follow`);
  }
  for (const stream of c.streams) {
    const at = `${c.spec.label} ${stream}`;
    const acks = p.acks.filter((a) => a.stream === stream);
    const byPos = new Map(acks.map((a) => [`${a.epoch}|${a.offset}`, a]));
    type Push = Extract<Mark, { kind: 'push' }>;
    const segments: Array<{ epoch?: string; after?: number; pushes: Push[] }> = [{ pushes: [] }];
    const seen = new Set<string>();
    const idAt = new Map<string, string>();
    const dups: number[] = [];
    for (const m of c.log) {
      if (m.stream !== stream) continue;
      const seg = segments.at(-1)!;
      if (m.kind === 'told') {
        if (!opts.toldAllowed) problems.push(`${at}: told to reload (${m.how}) though history covers the gap`);
        segments.push({ pushes: [] });
      } else if (m.kind === 'start') {
        if (seg.pushes.length === 0) Object.assign(seg, { epoch: m.epoch, after: m.offset });
      } else {
        const pos = `${m.epoch}|${m.offset}`;
        if (seen.has(pos)) dups.push(m.offset);
        seen.add(pos);
        seg.epoch ??= m.epoch;
        const last = seg.pushes.at(-1);
        if (last && m.offset <= last.offset) problems.push(`${at}: offset ${m.offset} arrived after ${last.offset}`);
        seg.pushes.push(m);
        const ack = byPos.get(pos);
        if (ack && ack.id !== m.id) problems.push(`${at}: offset ${m.offset} carried entry ${m.id}, acknowledged as ${ack.id}`);
        if (!ack && !unsure.has(`${stream}|${m.id}`)) problems.push(`${at}: received ${pos} (entry ${m.id}), never published`);
        const earlier = idAt.get(m.id);
        if (earlier !== undefined && earlier.startsWith(`${m.epoch}|`) && earlier !== pos) problems.push(`${at}: entry ${m.id} received at ${earlier} and ${pos}`);
        idAt.set(m.id, pos);
      }
    }
    if (dups.length) problems.push(`${at}: duplicated offsets ${ranges(dups)}`);
    const finalEpoch = acks.at(-1)?.epoch;
    segments.forEach((seg, i) => {
      const isLast = i === segments.length - 1;
      if (seg.epoch === undefined) {
        if (isLast && acks.length) problems.push(`${at}: nothing received after being told to reload`);
        return;
      }
      const got = new Set(seg.pushes.map((m) => m.offset));
      const lo = seg.after !== undefined ? seg.after + 1 : seg.pushes[0]!.offset;
      const hi = isLast ? Infinity : (seg.pushes.at(-1)?.offset ?? lo - 1);
      const missing = acks.filter((a) => a.epoch === seg.epoch && a.offset >= lo && a.offset <= hi && !got.has(a.offset)).map((a) => a.offset);
      if (i === 0) missing.push(...acks.filter((a) => a.epoch === seg.epoch && a.n >= opts.firstStep && a.offset < lo).map((a) => a.offset));
      if (missing.length) problems.push(`${at}: missing acknowledged offsets ${ranges(missing)} of epoch ${seg.epoch} (received ${ranges([...got])}${i > 0 ? ', after being told to reload' : ''})`);
      if (isLast && finalEpoch !== undefined && seg.epoch !== finalEpoch) {
        problems.push(`${at}: never received epoch ${finalEpoch} (offsets ${ranges(acks.filter((a) => a.epoch === finalEpoch).map((a) => a.offset))})`);
      }
    });
  }
  return problems;
}

/** Whether this client was told to reload any stream. */
export function wasTold(c: DeliveryClient): string[] {
  return c.log.flatMap((m) => (m.kind === 'told' ? [`${m.stream}: ${m.how}`] : []));
}

/**
 * The publisher's side: every answer sent and received in phase `down` (the broker away) a 503
 * with the catalogued `unavailable`; every answer sent and received in a `healthy` phase a 2xx;
 * per stream and epoch one publication per position, offsets +1 per publication (this publisher
 * is the only one and posts one at a time per stream).
 */
export function publisherProblems(p: Publisher, healthy: readonly string[] = ['up']): string[] {
  const problems = [...p.gaveUp];
  for (const a of p.attempts) {
    const ok = a.status >= 200 && a.status < 300;
    if (a.phases.every((ph) => ph === 'down') && (a.status !== 503 || (a.body as { error?: unknown })?.error !== ErrorCode.UNAVAILABLE)) {
      problems.push(`${a.stream} #${a.n} while the broker was down: ${a.status} ${JSON.stringify(a.body)}`);
    } else if (!ok && a.phases.every((ph) => healthy.includes(ph))) {
      problems.push(`${a.stream} #${a.n} (${a.phases.join('→')}): ${a.status} ${JSON.stringify(a.body)}`);
    }
  }
  const last = new Map<string, Ack>();
  const positions = new Map<string, Ack>();
  for (const a of p.acks) {
    if (!Number.isInteger(a.offset) || a.offset < 1 || a.epoch === '' || a.epoch === 'undefined') problems.push(`${a.stream} #${a.n}: acknowledged without a position: ${JSON.stringify(a)}`);
    const pos = `${a.stream}|${a.epoch}|${a.offset}`;
    const other = positions.get(pos);
    if (other) problems.push(`${pos} acknowledged for #${other.n} and #${a.n}`);
    positions.set(pos, a);
    const prev = last.get(a.stream);
    if (prev && prev.epoch === a.epoch && a.offset !== prev.offset + 1) problems.push(`${a.stream}: #${a.n} at ${a.offset} after #${prev.n} at ${prev.offset}`);
    last.set(a.stream, a);
  }
  return problems;
}

/**
 * `count` spectators with logs, `perRoom` per room, every room on all balancers in turn and
 * watching one of `guilds` (rooms in turn); each may reconnect to any balancer, its own first.
 */
export async function spectators(balancers: readonly BalancerHandle[], opts: { count: number; perRoom: number; guilds: readonly string[] }): Promise<DeliveryClient[]> {
  const tag = uniq('dl');
  const urls = balancers.map((b) => b.url());
  return inBatches(Array.from({ length: opts.count }, (_, i) => i), 10, async (i) => {
    const r = Math.floor(i / opts.perRoom);
    const guild = opts.guilds[r % opts.guilds.length]!;
    const b = i % urls.length;
    const token = await userToken({ guilds: { [guild]: Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS } });
    const c = new DeliveryClient({ label: `c${i}`, token, room: `${tag}-r${r}`, guild, urls: [...urls.slice(b), ...urls.slice(0, b)] });
    await c.start();
    return c;
  });
}

/** A guild id of its own (a snowflake past the mock range), so no history is shared between runs. */
export function uniqGuild(): string {
  return `9${String(Date.now()).slice(-9)}${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}

const topsOf = (c: DeliveryClient, tops: ReadonlyMap<string, StreamPosition>) =>
  new Map(c.streams.flatMap((s) => (tops.has(s) ? [[s, tops.get(s)!] as const] : [])));

/**
 * Lets `steps` steps be published (enough for every room to get one), then waits until every
 * client has received the latest of each of its streams: everyone is receiving before a fault.
 * Returns the step from which every acknowledged publication must reach every client.
 */
export async function warmUp(clients: readonly DeliveryClient[], p: Publisher, steps: number): Promise<number> {
  await p.after(steps);
  const tops = p.tops();
  await Promise.all(clients.map((c) => c.until((x) => x.holds(topsOf(c, tops)), 10_000, 'the first publications')));
  return p.steps;
}

/**
 * Waits until every client holds the publisher's latest positions of its streams, then proves
 * with a round trip that nothing else (a late duplicate) was on its way. Returns what did not
 * arrive instead of throwing, so the report shows every client's gaps at once.
 */
export async function settle(clients: readonly DeliveryClient[], p: Publisher, timeoutMs = 20_000): Promise<string[]> {
  const tops = p.tops();
  const outcomes = await Promise.allSettled(
    clients.map(async (c) => {
      const want = topsOf(c, tops);
      await c.until((x) => x.holds(want), timeoutMs, `final positions ${JSON.stringify([...want])}`);
      await c.roundTrip();
    }),
  );
  return outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as Error).message] : []));
}

/** Every delivery problem of every client, after `settle`. */
export async function deliveryProblems(clients: readonly DeliveryClient[], p: Publisher, opts: CheckOptions): Promise<string[]> {
  const problems = await settle(clients, p);
  for (const c of clients) problems.push(...clientProblems(c, p, opts));
  return problems;
}
