import { Type, type Static } from '@sinclair/typebox';
import { CloseCode } from './close-codes.js';
import { Since } from './streams.js';
import { compile } from './validate.js';

/**
 * Balancer ↔ monolith link frames (DESIGN §3): JSON objects tagged with `type`.
 *
 * Frames that carry a client message keep `message` as their **last** key, and the message is
 * the literal JSON text, spliced in without a serialization round trip. That lets either side
 * cut the message out of a frame by position (see `splitMessage`) instead of re-encoding it.
 */
const Str = Type.String({ minLength: 1, maxLength: 256 });
const Token = Type.String({ minLength: 1, maxLength: 8192 });

/**
 * 2: challenge-response link authentication (`init` carries a nonce, the balancer answers `hello`).
 * 3: frames sent in one event-loop turn travel as one websocket message, separated by
 * LINK_FRAME_SEPARATOR; `message` envelopes carry the connection id only (the token of a
 * connection travels in its `join` and `token` frames, verified there once).
 */
export const LINK_PROTOCOL_VERSION = 3;

/**
 * Between the frames of one link message: U+001E (record separator). It cannot occur in JSON
 * text: inside strings control characters are escaped, outside them only whitespace may appear,
 * and every frame is JSON (client text is spliced only after it parsed).
 */
export const LINK_FRAME_SEPARATOR = '\x1e';

/** The frames of one link message (one frame when it holds no separator). */
export function linkFrames(message: string): string[] {
  return message.indexOf(LINK_FRAME_SEPARATOR) < 0 ? [message] : message.split(LINK_FRAME_SEPARATOR);
}
/** Header with the balancer's random nonce; the monolith's init proof binds it (see server-kit/src/link-auth.ts). */
export const LINK_NONCE_HEADER = 'x-link-nonce';
/** Header naming the dialing balancer; bound into both proofs, used in logs. */
export const LINK_BALANCER_HEADER = 'x-balancer-id';
/** Nonces are 16-128 base64url characters (the balancer and monolith send 24). */
export const LINK_NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
/** Balancer ids in the link header: what a connection id prefix may hold. */
export const LINK_PEER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

// ---- balancer → monolith ----
export const JoinFrame = Type.Object({
  type: Type.Literal('join'),
  token: Token,
  room: Str,
  id: Str,
  /** Set when the balancer moves a live connection here after its previous monolith went away. */
  rejoin: Type.Optional(Type.Boolean()),
  /** The `_id` of the client's auth frame, echoed in the `welcome` that answers it. */
  _id: Type.Optional(Type.Union([Type.Integer(), Type.String({ maxLength: 64 })])),
  /** The auth frame's `since`, passed through: the owner recovers the session's streams. */
  since: Type.Optional(Since),
});
export const LeaveFrame = Type.Object({ type: Type.Literal('leave'), room: Str, id: Str });
/** A client frame of connection `id`, under the identity its `join` (or last `token`) verified. */
export const MessageFrame = Type.Object({
  type: Type.Literal('message'),
  id: Str,
  // Any JSON object (TypeBox objects exclude arrays); a Record would test a regex per key.
  message: Type.Object({}),
});
/** The balancer's first frame: its proof of LINK_SECRET over both nonces (server-kit/src/link-auth.ts). */
export const HelloFrame = Type.Object({ type: Type.Literal('hello'), token: Str });
export type HelloFrame = Static<typeof HelloFrame>;
export const validateHello = compile(HelloFrame);
/**
 * The connection's token was refreshed (same subject): the monolith verifies it and applies its
 * claims at once, so a refresh that lowers permissions drops what the new token does not allow.
 */
export const TokenFrame = Type.Object({ type: Type.Literal('token'), token: Token, room: Str, id: Str });
export type TokenFrame = Static<typeof TokenFrame>;
export const B2M = Type.Union([JoinFrame, LeaveFrame, MessageFrame, TokenFrame]);
export type B2M = Static<typeof B2M>;
export type JoinFrame = Static<typeof JoinFrame>;
export type LeaveFrame = Static<typeof LeaveFrame>;
export type MessageFrame = Static<typeof MessageFrame>;
export const validateB2M = compile(B2M);

// ---- monolith → balancer ----
export const InitFrame = Type.Object({
  type: Type.Literal('init'),
  id: Str,
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** The monolith's nonce, which the balancer's `hello` proof must bind. */
  nonce: Type.String({ pattern: LINK_NONCE_PATTERN.source }),
  /** The monolith's proof of LINK_SECRET (server-kit/src/link-auth.ts). */
  token: Str,
  version: Type.Literal(LINK_PROTOCOL_VERSION),
});
export const UnicastHead = Type.Object({ type: Type.Literal('unicast'), room: Str, id: Str });
export const BroadcastHead = Type.Object({ type: Type.Literal('broadcast'), room: Str });
export const SubscribeFrame = Type.Object({ type: Type.Literal('subscribe'), id: Str, channel: Str });
export const UnsubscribeFrame = Type.Object({ type: Type.Literal('unsubscribe'), id: Str, channel: Str });
export const PublishHead = Type.Object({ type: Type.Literal('publish'), channel: Str });
export const KickFrame = Type.Object({
  type: Type.Literal('kick'),
  id: Str,
  /** A catalogued close code (STYLE rule 12): the balancer sends nothing else to a client. */
  code: Type.Union(Object.values(CloseCode).map((c) => Type.Literal(c))),
  reason: Type.String({ maxLength: 120 }),
});
/** Epochs come from the shared counter and start at 1: an epoch 0 claim is refused as malformed. */
const Epoch = Type.Integer({ minimum: 1 });
export const LoadedFrame = Type.Object({ type: Type.Literal('loaded'), room: Str, epoch: Epoch });
export const UnloadedFrame = Type.Object({ type: Type.Literal('unloaded'), room: Str, reason: Type.String({ maxLength: 120 }) });
/** The monolith is shutting down: balancers move its connections elsewhere (rejoin). */
export const DrainFrame = Type.Object({ type: Type.Literal('drain') });
export const GossipFrame = Type.Object({
  type: Type.Literal('gossip'),
  rooms: Type.Array(Type.Object({ room: Str, epoch: Epoch })),
});

/** M2B frames as the balancer sees them: `message` is cut out by `splitMessage` first. */
export const M2BHead = Type.Union([
  InitFrame,
  UnicastHead,
  BroadcastHead,
  SubscribeFrame,
  UnsubscribeFrame,
  PublishHead,
  KickFrame,
  LoadedFrame,
  UnloadedFrame,
  GossipFrame,
  DrainFrame,
]);
export type M2BHead = Static<typeof M2BHead>;
export type InitFrame = Static<typeof InitFrame>;
export const validateInit = compile(InitFrame);
export type KickFrame = Static<typeof KickFrame>;
export type GossipFrame = Static<typeof GossipFrame>;
export const validateM2BHead = compile(M2BHead);

/** The M2B frames with their message, as the monolith writes them. */
export type M2B =
  | Exclude<M2BHead, { type: 'unicast' | 'broadcast' | 'publish' }>
  | (Static<typeof UnicastHead> & { message: object })
  | (Static<typeof BroadcastHead> & { message: object })
  | (Static<typeof PublishHead> & { message: object });

/**
 * Serializes a link frame that carries no client message; typed, so the compiler checks every
 * frame a balancer or monolith builds against the schemas above (STYLE rule 2).
 */
export function encodeB2M(frame: Exclude<B2M, MessageFrame> | HelloFrame): string {
  return JSON.stringify(frame);
}
export function encodeM2B(frame: Exclude<M2B, { message: object }>): string {
  return JSON.stringify(frame);
}

const MESSAGE_KEY = ',"message":';

/**
 * Encodes a frame with `message` last, splicing already-serialized message text.
 * `head` must be a flat object of strings and numbers (all link headers are).
 */
export function encodeWithMessage(head: object, messageJson: string): string {
  const headJson = JSON.stringify(head);
  return headJson.slice(0, -1) + MESSAGE_KEY + messageJson + '}';
}

/**
 * `encodeWithMessage({ type: 'unicast', room, id }, messageJson)`, spelled out: the monolith
 * writes one per client request, and a template costs about half of serializing a head object.
 */
export function encodeUnicast(room: string, id: string, messageJson: string): string {
  return '{"type":"unicast","room":' + JSON.stringify(room) + ',"id":' + JSON.stringify(id) + MESSAGE_KEY + messageJson + '}';
}

/**
 * Splits a frame written by `encodeWithMessage` into its head (parsed) and the raw message text.
 * The first `,"message":` is always the key: inside a JSON string a quote is escaped, so the
 * sequence cannot occur in an earlier string value. Returns undefined for text that is not a
 * JSON object.
 */
export function splitMessage(frame: string): { head: Record<string, unknown>; message: string | undefined } | undefined {
  const at = frame.indexOf(MESSAGE_KEY);
  // The message text itself is not re-parsed (the link is authenticated and the monolith wrote
  // it with JSON.stringify); a truncated frame is still refused.
  if (at >= 0 && (frame.length - 1 <= at + MESSAGE_KEY.length || frame.charCodeAt(frame.length - 1) !== 0x7d)) return undefined;
  const headText = at < 0 ? frame : frame.slice(0, at) + '}';
  let head: unknown;
  try {
    head = JSON.parse(headText);
  } catch {
    return undefined;
  }
  if (typeof head !== 'object' || head === null || Array.isArray(head)) return undefined;
  const message = at < 0 ? undefined : frame.slice(at + MESSAGE_KEY.length, frame.length - 1);
  return { head: head as Record<string, unknown>, message };
}

const UNICAST_PREFIX = '{"type":"unicast","room":"';
const UNICAST_ID_KEY = '","id":"';

/**
 * The end of a JSON string of 1-256 characters starting at `from` that needs no unescaping (no
 * backslash; a raw control character is not JSON and is left to the full parse to refuse), or -1.
 */
function plainStringEnd(text: string, from: number): number {
  const limit = Math.min(text.length, from + 257);
  for (let i = from; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i > from ? i : -1;
    if (c === 0x5c || c < 0x20) return -1;
  }
  return -1;
}

/**
 * The fast path of `splitMessage` for the frame the monolith writes most (`encodeUnicast`, one
 * per client request): the head is read by position instead of parsed. Only the exact layout
 * with plain strings is taken; anything else returns undefined and goes through `splitMessage`
 * and the schema, so what is accepted does not change (link.test.ts checks both agree).
 */
export function splitUnicast(frame: string): { head: { type: 'unicast'; room: string; id: string }; message: string } | undefined {
  if (!frame.startsWith(UNICAST_PREFIX)) return undefined;
  const roomAt = UNICAST_PREFIX.length;
  const roomEnd = plainStringEnd(frame, roomAt);
  if (roomEnd < 0 || !frame.startsWith(UNICAST_ID_KEY, roomEnd)) return undefined;
  const idAt = roomEnd + UNICAST_ID_KEY.length;
  const idEnd = plainStringEnd(frame, idAt);
  if (idEnd < 0 || !frame.startsWith(MESSAGE_KEY, idEnd + 1)) return undefined;
  const messageAt = idEnd + 1 + MESSAGE_KEY.length;
  if (frame.length - 1 <= messageAt || frame.charCodeAt(frame.length - 1) !== 0x7d) return undefined;
  return {
    head: { type: 'unicast', room: frame.slice(roomAt, roomEnd), id: frame.slice(idAt, idEnd) },
    message: frame.slice(messageAt, frame.length - 1),
  };
}

/**
 * A client frame's `message` envelope, `{"type":"message","id":<id>,"message":<client text>}`,
 * built per frame: a prefix kept per connection would cost every idle connection about 70 B.
 */
export function messageEnvelope(id: string, clientText: string): string {
  return '{"type":"message","id":' + JSON.stringify(id) + MESSAGE_KEY + clientText + '}';
}
