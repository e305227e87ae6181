/**
 * The oracle of e2e/tests/fuzz-frames.test.ts: from a script's bytes alone, what the balancer
 * and the monolith must answer and how the connection ends.
 */
import { CloseCode, ErrorCode, type ErrorCodeValue } from '@gateway/protocol';
import { MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, MESSAGE_BURST, type Script } from './fuzz-frames.js';

// ---------------------------------------------------------------------------------------------
// Oracle

export type Origin = 'balancer' | 'monolith';

/** One reply owed to the client: matched by event, code and `_id` (or its absence). */
export interface Reply {
  item: number;
  origin: Origin;
  message: Record<string, unknown>;
}

export interface Outcome {
  replies: Reply[];
  /** Payloads of the websocket pongs owed before the fatal item, in order. */
  pongs: Buffer[];
  /** Index of the first fatal item, and its close code; undefined: the connection stays open. */
  fatal: { item: number; code: number } | undefined;
  /** Tokens the items before the fatal one took from MESSAGE_BURST (auth included). */
  tokensUsed: number;
}

/** Containers deep, a top-level one counting 1 (protocol/src/json-depth.ts's definition). */
export function depthOf(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let max = 0;
  for (const child of Object.values(v)) max = Math.max(max, depthOf(child));
  return 1 + max;
}

export const isRequestId = (v: unknown): v is number | string =>
  (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && v.length <= 64);
/** What an `error` echoes: any number or string (client.ts errorFrame), valid or not. */
export const echoed = (v: unknown): number | string | undefined => (typeof v === 'number' || typeof v === 'string' ? v : undefined);

export function errorReply(item: number, origin: Origin, code: ErrorCodeValue, id: unknown): Reply {
  const _id = echoed(id);
  return { item, origin, message: { event: 'error', ...(_id === undefined ? {} : { _id }), code } };
}

/** A text frame that passed the balancer's checks, on an open session. */
export function classifyObject(frame: Record<string, unknown>, item: number, token: string, exp: number): Reply {
  if (frame.action === 'auth') {
    const valid =
      typeof frame.token === 'string' &&
      frame.token.length >= 1 &&
      frame.token.length <= 8192 &&
      (frame.room === undefined || (typeof frame.room === 'string' && frame.room.length <= 256)) &&
      (frame._id === undefined || isRequestId(frame._id)) &&
      frame.since === undefined;
    if (!valid) return errorReply(item, 'balancer', ErrorCode.BAD_REQUEST, frame._id);
    if (frame.room !== undefined) throw new Error('oracle: a valid re-auth with a room is not generated');
    if (frame.token !== token) return errorReply(item, 'balancer', ErrorCode.TOKEN_REJECTED, frame._id);
    return { item, origin: 'balancer', message: { event: 'refreshed', ...(frame._id === undefined ? {} : { _id: frame._id }), data: { exp } } };
  }
  if (frame.event === 'request_elevation') throw new Error('oracle: request_elevation is not generated');
  const valid =
    typeof frame.event === 'string' && frame.event.length >= 1 && frame.event.length <= 64 && (!Object.hasOwn(frame, '_id') || isRequestId(frame._id));
  if (!valid) return errorReply(item, 'monolith', ErrorCode.BAD_REQUEST, frame._id);
  if (frame.event !== 'ping') return errorReply(item, 'monolith', ErrorCode.UNKNOWN_EVENT, frame._id);
  const message: Record<string, unknown> = { event: 'pong' };
  if (Object.hasOwn(frame, '_id')) message._id = frame._id;
  if (Object.hasOwn(frame, 'data')) message.data = frame.data;
  return { item, origin: 'monolith', message };
}

/** Like protocol's parseObject, written again on purpose: the oracle must not share the code it checks. */
export function parseObjectText(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * What the balancer must do with a script, from its bytes. Rate: the bucket starts at
 * MESSAGE_BURST and the auth frame took one; the refill is left out, so a script that is not a
 * flood must stay well inside the burst (checked), and a flood is far past it.
 */
export function oracle(script: Script, token: string, exp: number): Outcome {
  const out: Outcome = { replies: [], pongs: [], fatal: undefined, tokensUsed: 1 };
  const take = (what: string): void => {
    out.tokensUsed++;
    if (out.tokensUsed > MESSAGE_BURST - 20) throw new Error(`oracle: script ${script.index} spends the burst outside a flood (${what})`);
  };
  for (const [i, item] of script.items.entries()) {
    const fatal = (code: number): Outcome => ((out.fatal = { item: i, code }), out);
    switch (item.t) {
      case 'binary':
        return fatal(CloseCode.MALFORMED_FRAME);
      case 'wspong':
        break;
      case 'wsping':
        take(item.label);
        out.pongs.push(item.payload ?? Buffer.alloc(0));
        break;
      case 'wsflood':
      case 'textflood':
        if (item.count <= MESSAGE_BURST - out.tokensUsed + 50) throw new Error('oracle: a flood must be far past the burst');
        return fatal(CloseCode.FLOOD);
      case 'text': {
        if (Buffer.byteLength(item.text) > MAX_PAYLOAD_BYTES) return fatal(CloseCode.MESSAGE_TOO_LARGE);
        take(item.label);
        const frame = parseObjectText(item.text);
        if (!frame) return fatal(CloseCode.MALFORMED_FRAME);
        if (depthOf(frame) > MAX_JSON_DEPTH) return fatal(CloseCode.TOO_DEEP);
        out.replies.push(classifyObject(frame, i, token, exp));
        break;
      }
    }
  }
  return out;
}

