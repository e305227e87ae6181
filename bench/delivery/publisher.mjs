/**
 * The publisher of the kill -9 delivery run (delivery-failover.mjs): numbered log entries at a
 * steady rate over HTTP, each with its Idempotency-Key and retried on another monolith until a
 * 2xx; every 2xx's offset is recorded, to compare with what each client received.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowMs } from '../loadgen/clock.mjs';

export class Publisher {
  constructor(monoliths, guilds, token, rate) {
    this.targets = monoliths.map((m) => m.http);
    this.guilds = guilds;
    this.token = token;
    this.rate = rate;
    this.tag = randomBytes(4).toString('hex');
    this.acks = [];
    this.answers = {};
    this.gaveUp = [];
    this.inflight = new Set();
    this.sent = 0;
    this.stopped = false;
  }

  /** Publishes `rate` entries per second until stop(); at most 500 in flight. */
  start() {
    const gapMs = 1000 / this.rate;
    const t0 = nowMs();
    this.loop = (async () => {
      while (!this.stopped) {
        const due = t0 + this.sent * gapMs;
        const wait = due - nowMs();
        if (wait > 1) await sleep(wait);
        if (this.stopped) break;
        if (this.inflight.size >= 500) {
          await sleep(10);
          continue;
        }
        const p = this.publish(this.sent++);
        this.inflight.add(p);
        p.finally(() => this.inflight.delete(p));
      }
    })();
  }

  async stop(timeoutMs) {
    this.stopped = true;
    await this.loop;
    const all = Promise.allSettled([...this.inflight]);
    await Promise.race([all, sleep(timeoutMs)]);
    return this.inflight.size;
  }

  async publish(n) {
    const guild = this.guilds[n % this.guilds.length];
    const id = String(1_000_000_000_000 + n);
    const body = JSON.stringify({ id, guild_id: guild, action_number: 1, agent_id: '42', subject_id: null, private: false, reversible: false, timestamp: Date.now(), data: { n } });
    const key = `fo-${this.tag}-${n}`;
    for (let attempt = 0; attempt < 200; attempt++) {
      const target = this.targets[(n + attempt) % this.targets.length];
      let status = 0;
      let answer;
      try {
        const res = await fetch(`${target}/api/guilds/${guild}/logs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(5000),
        });
        status = res.status;
        answer = await res.json().catch(() => undefined);
      } catch (err) {
        status = err?.cause?.code ?? err?.name ?? 'error';
      }
      this.answers[status] = (this.answers[status] ?? 0) + 1;
      if (typeof status === 'number' && status >= 200 && status < 300) {
        this.acks.push({ n, guild, offset: Number(answer?.offset), epoch: String(answer?.epoch), duplicate: answer?.duplicate === true, ackMs: nowMs(), attempts: attempt + 1 });
        return;
      }
      await sleep(50);
    }
    this.gaveUp.push(n);
  }

  /** The latest acknowledged position of each guild's log stream. */
  tops() {
    const out = {};
    for (const a of this.acks) {
      const s = `guild:${a.guild}:logs`;
      if (!out[s] || a.offset > out[s].offset) out[s] = { offset: a.offset, epoch: a.epoch };
    }
    return out;
  }

  /** Per guild: the acknowledged offsets (ascending) with the time of each 2xx, and problems of the acks themselves. */
  byGuild() {
    const out = {};
    const problems = [];
    for (const a of [...this.acks].sort((x, y) => x.offset - y.offset)) {
      const g = (out[a.guild] ??= { epoch: a.epoch, offsets: [], ackMs: [] });
      if (a.epoch !== g.epoch) problems.push(`guild ${a.guild}: #${a.n} acknowledged under epoch ${a.epoch}, others ${g.epoch}`);
      if (!Number.isSafeInteger(a.offset) || a.offset < 1) problems.push(`#${a.n} acknowledged without an offset`);
      if (g.offsets.at(-1) === a.offset) problems.push(`guild ${a.guild}: offset ${a.offset} acknowledged twice (#${a.n})`);
      g.offsets.push(a.offset);
      g.ackMs.push(a.ackMs);
    }
    return { acks: out, problems };
  }
}
