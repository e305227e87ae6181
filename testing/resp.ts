import { createConnection } from 'node:net';

// A one-command RESP2 client: testing/ is not a workspace package and has no ioredis of its own.


/** An error reply (`-MOVED 1234 127.0.0.1:7001`, `-ERR ...`): `message` is the reply without the dash. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

export type RespValue = string | number | null | RedisReplyError | RespValue[];

type Parsed = { value: RespValue; end: number } | undefined;

function parseReply(buf: Buffer, start: number): Parsed {
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[start]!);
  const line = buf.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/**
 * Sends `commands` to 127.0.0.1:`port` pipelined on one fresh connection and resolves with their
 * replies in order (bulk strings as UTF-8; an error reply is a RedisReplyError in its place). One
 * connection matters for what is per connection: `WAIT` counts the replicas that acknowledged
 * *this connection's* last write. No redirections are followed: a MOVED is what the test asked about.
 */
export function redisPipeline(port: number, commands: Array<Array<string | number>>, timeoutMs = 5000): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const replies: RespValue[] = [];
    const what = commands.map((c) => c[0]).join(',');
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${port}: no reply to ${what} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      for (const args of commands) {
        const parts = args.map(String);
        socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
      }
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        for (;;) {
          const parsed = parseReply(buf, 0);
          if (!parsed) return;
          replies.push(parsed.value);
          buf = buf.subarray(parsed.end);
          if (replies.length === commands.length) return finish(undefined);
        }
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('error', (err) => finish(new Error(`redis ${port}: ${err.message}`)));
    socket.on('close', () => finish(new Error(`redis ${port}: connection closed before the replies to ${what}`)));
  });
}

/** One command on a fresh connection (see redisPipeline); an error reply rejects with a RedisReplyError. */
export async function redisCommand(port: number, args: Array<string | number>, timeoutMs = 5000): Promise<RespValue> {
  const [reply] = await redisPipeline(port, [args], timeoutMs);
  if (reply instanceof RedisReplyError) throw reply;
  return reply ?? null;
}

export async function text(port: number, args: Array<string | number>): Promise<string> {
  const reply = await redisCommand(port, args);
  if (typeof reply !== 'string') throw new Error(`redis ${port}: ${args.join(' ')} replied ${JSON.stringify(reply)}`);
  return reply;
}

/** `field:value` lines of INFO / CLUSTER INFO. */
export async function infoFields(port: number, args: string[]): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const line of (await text(port, args)).split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/** A flat [k1, v1, k2, v2, ...] reply (SENTINEL MASTER/REPLICAS/SENTINELS entries) as a record. */
export function pairs(reply: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}
