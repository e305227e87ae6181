import { parseMetrics, type Sample } from '@gateway/server-kit';
import { adminToken } from './tokens.js';

/** HTTP helpers for the monoliths' publishing API and for labelled Prometheus series. */

let admin: Promise<string> | undefined;
const auth = async (): Promise<Record<string, string>> => ({
  authorization: `Bearer ${await (admin ??= adminToken())}`,
  'content-type': 'application/json',
});

interface HasHttp {
  readonly http: string;
}

/** `POST /api/rooms/:room/broadcast`; resolves with the HTTP status (202 when published). */
export async function broadcastTo(monolith: HasHttp, room: string, event: string, data?: unknown): Promise<number> {
  const res = await fetch(`${monolith.http}/api/rooms/${encodeURIComponent(room)}/broadcast`, {
    method: 'POST',
    headers: await auth(),
    body: JSON.stringify(data === undefined ? { event } : { event, data }),
  });
  return res.status;
}

/** A valid log entry (ids are snowflakes: digits only). */
export function logEntry(guild: string, id: string, isPrivate = false): Record<string, unknown> {
  return {
    id,
    guild_id: guild,
    action_number: 1,
    agent_id: '42',
    subject_id: null,
    private: isPrivate,
    reversible: false,
    timestamp: Date.now(),
    data: { note: id },
  };
}

/** `POST /api/guilds/:guild/logs`; resolves with the HTTP status (202 when published). */
export async function postLog(monolith: HasHttp, entry: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${monolith.http}/api/guilds/${String(entry.guild_id)}/logs`, {
    method: 'POST',
    headers: await auth(),
    body: JSON.stringify(entry),
  });
  return res.status;
}

/** `PUT /api/guilds/:guild/pools/:type/:id`; resolves with the HTTP status. */
export async function putPool(monolith: HasHttp, guild: string, type: string, entity: { id: string } & Record<string, unknown>): Promise<number> {
  const res = await fetch(`${monolith.http}/api/guilds/${guild}/pools/${type}/${entity.id}`, {
    method: 'PUT',
    headers: await auth(),
    body: JSON.stringify(entity),
  });
  return res.status;
}

export type { Sample };

/** Every sample of one metric (labelled or not) from a Prometheus text endpoint. */
export async function metricSeries(http: string, name: string): Promise<Sample[]> {
  const res = await fetch(`${http}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${http}/metrics: ${res.status}`);
  return parseMetrics(await res.text(), name);
}

/** `GET /ready`: status and JSON body; status 0 when the port refuses the connection. */
export async function readyOf(http: string): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const res = await fetch(`${http}/ready`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch {
    return { status: 0, body: {} };
  }
}

/** Runs `fn` over `items`, at most `width` at a time, keeping the order of results. */
export async function inBatches<T, R>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}
