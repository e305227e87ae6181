import { ErrorCode } from '@gateway/protocol';
import type { DeliveryClient, Mark } from './delivery-client.js';
import type { Ack, Publisher } from './delivery-publisher.js';

// The checks: what each client logged against what the publisher had acknowledged, and the
// publisher's own answers against the phase they were sent in. Pure functions of the two logs.

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
    if (a.phases.every((ph) => ph === 'down') && (a.status !== 503 || (a.body as { code?: unknown })?.code !== ErrorCode.UNAVAILABLE)) {
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
