import { guildLogsStream, roomStream, type StreamPosition } from '@gateway/protocol';
import { Changes } from './delivery-changes.js';
import { markAcked } from './delivery-order.js';
import { logEntry } from './gateway-http.js';
import { adminToken } from './tokens.js';

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
        markAcked(String(a.stream), String(a.epoch), Number(a.offset));
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
