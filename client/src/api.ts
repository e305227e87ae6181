import type { StreamPosition } from '@gateway/protocol';
import { ApiEvent } from '@gateway/protocol/codes';
import { GatewayClient, type ClientOptions } from './client.js';

export interface Entity {
  id: string;
  name?: string;
  /** Users: Discord's username. */
  username?: string;
  /** Members: Discord's nickname field (`nickname` in older data). */
  nick?: string;
  nickname?: string;
  [key: string]: unknown;
}
/** Entities per `pool_all_request` that `poolAll` sends (the server's chunks are 500). */
export const POOL_PAGE = 2_000;

interface PoolResponse {
  data: Entity[];
  nonexistent: string[];
  finished: boolean;
  cursor?: string | null;
}

/** A stored publication of a stream, as `history` returns it. */
export interface HistoryPublication {
  offset: number;
  /** Milliseconds since the epoch, when it was stored. */
  time: number;
  /** The push as it was published (`log_other`, `log_pool`, a broadcast's event...). */
  message: { event: string; data?: unknown };
}

/** The `history` reply: `position` is the stream's latest (its `epoch` applies to the publications). */
export interface HistoryReply {
  stream: string;
  position: StreamPosition;
  publications: HistoryPublication[];
}

/** The gateway API (DESIGN §5) on top of the generic client. */
export class Gateway extends GatewayClient {
  /** `request_elevation`: becomes the token's user without reconnecting; false leaves the session as it was. */
  async elevate(token: string): Promise<boolean> {
    const reply = await this.request<{ result: boolean }>(ApiEvent.REQUEST_ELEVATION, { token });
    return reply.result;
  }

  /** The front page's mock bot; null when nothing answers. */
  interpret(data: { guild_id: string; message_id: string; content: string; allowed_commands?: string[]; added_reactions?: string[]; removed_reactions?: string[] }) {
    return this.request<{ guild_id: string; message_id: string; content: string; added_reactions: string[]; edit: boolean } | null>(ApiEvent.INTERPRET, data);
  }

  /**
   * `history`: a stream's stored publications, permission-checked like the stream, in offset
   * order: the latest `limit` (server default 100), or those after `since` (of the same epoch;
   * another epoch starts over at the latest, which `position.epoch` shows). Positions seen here
   * are not tracked: pushes stay the client's only source of what it has received.
   */
  history(stream: string, opts: { since?: StreamPosition; limit?: number } = {}): Promise<HistoryReply> {
    return this.request<HistoryReply>(ApiEvent.HISTORY, { stream, ...(opts.since ? { since: opts.since } : {}), ...(opts.limit ? { limit: opts.limit } : {}) });
  }

  /**
   * Step 1 of the member search: the entities on screen. More than 500 ids are answered in
   * several chunks (at most 10,000 ids, and the frame within the balancer's MAX_PAYLOAD_BYTES:
   * about 3,000 snowflakes at the default 64 KiB), gathered here into one result. A refusal
   * rejects; its final chunk is dropped, not emitted as a `pool_response` event.
   */
  async pool(type: string, ids: string[], guildId?: string): Promise<{ data: Entity[]; nonexistent: string[] }> {
    const data: Entity[] = [];
    const nonexistent: string[] = [];
    await this.request<PoolResponse>(ApiEvent.POOL_REQUEST, { type, ids, ...(guildId ? { guild_id: guildId } : {}) }, {
      chunk: (d) => {
        const r = d as PoolResponse;
        data.push(...r.data);
        nonexistent.push(...r.nonexistent);
        return r.finished;
      },
    });
    return { data, nonexistent };
  }

  /**
   * Step 2: the rest of the pool, chunk by chunk (resumes from `cursor` if given; at most
   * `opts.limit` entities). Asked for in pages of POOL_PAGE entities (the server streams each
   * page in chunks), the next page only once the caller has taken the last chunk of this one: a
   * caller that stops (`break`, `return`) asks for nothing more, and what is still on its way of
   * the current page is dropped as it arrives.
   */
  async *poolAll(type: string, guildId?: string, cursor?: string, opts: { limit?: number } = {}): AsyncGenerator<Entity[]> {
    // No limit (or 0, as before paging): the whole pool; a fraction is rounded down, to 1 at least.
    let left = opts.limit ? Math.max(1, Math.floor(opts.limit)) : Infinity;
    let from = cursor;
    for (;;) {
      const page = { cursor: undefined as string | null | undefined, entities: 0 };
      yield* this.poolPage(type, guildId, from, Math.min(POOL_PAGE, left), page);
      left -= page.entities;
      if (!page.cursor || left <= 0) return;
      from = page.cursor;
    }
  }

  /** One `pool_all_request` of at most `limit` entities, chunk by chunk; `page` gets its end. */
  private async *poolPage(type: string, guildId: string | undefined, cursor: string | undefined, limit: number, page: { cursor: string | null | undefined; entities: number }): AsyncGenerator<Entity[]> {
    const chunks: Entity[][] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let stopped = false;
    let failure: unknown;
    void this.request(ApiEvent.POOL_ALL_REQUEST, { type, ...(guildId ? { guild_id: guildId } : {}), ...(cursor ? { cursor } : {}), limit }, {
      timeout: 60_000,
      chunk: (data) => {
        const r = data as PoolResponse;
        if (!stopped) chunks.push(r.data);
        page.entities += r.data.length;
        if (r.finished) page.cursor = r.cursor;
        wake?.();
        return r.finished;
      },
    }).then(
      () => {
        done = true;
        wake?.();
      },
      (err) => {
        failure = err;
        done = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        if (chunks.length) {
          yield chunks.shift()!;
          continue;
        }
        if (done) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stopped = true;
      chunks.length = 0;
    }
    if (failure) throw failure;
  }

  /** Step 3: prefix search on name, username, nick and nickname. */
  async searchMembers(guildId: string, query: string, limit = 20): Promise<Entity[]> {
    // One finished chunk; as a chunked reply, a refusal's final chunk is not taken for a push.
    const r = await this.request<PoolResponse>(ApiEvent.POOL_SEARCH_REQUEST, { type: 'member', guild_id: guildId, query, limit }, { chunk: (d) => (d as PoolResponse).finished });
    return r.data;
  }
}

/** Opens a gateway connection (see ClientOptions); it reconnects by itself until `close()`. */
export function connect(opts: ClientOptions): Gateway {
  return new Gateway(opts);
}
