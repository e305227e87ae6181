import { Type, type Static } from '@sinclair/typebox';
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

export const LINK_PROTOCOL_VERSION = 1;
/** Header on the link upgrade request carrying LINK_SECRET (`Bearer <secret>`). */
export const LINK_AUTH_HEADER = 'authorization';
/** Header with the balancer's random nonce; the monolith's init token is an HMAC over it. */
export const LINK_NONCE_HEADER = 'x-link-nonce';
/** Header naming the dialing balancer, for logs and metrics. */
export const LINK_BALANCER_HEADER = 'x-balancer-id';

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
});
export const LeaveFrame = Type.Object({ type: Type.Literal('leave'), room: Str, id: Str });
export const MessageFrame = Type.Object({
  type: Type.Literal('message'),
  token: Token,
  room: Str,
  id: Str,
  // Any JSON object (TypeBox objects exclude arrays); a Record would test a regex per key.
  message: Type.Object({}),
});
export const B2M = Type.Union([JoinFrame, LeaveFrame, MessageFrame]);
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
  token: Str,
  version: Type.Optional(Type.Integer()),
});
export const UnicastHead = Type.Object({ type: Type.Literal('unicast'), room: Str, id: Str });
export const BroadcastHead = Type.Object({ type: Type.Literal('broadcast'), room: Str });
export const SubscribeFrame = Type.Object({ type: Type.Literal('subscribe'), id: Str, channel: Str });
export const UnsubscribeFrame = Type.Object({ type: Type.Literal('unsubscribe'), id: Str, channel: Str });
export const PublishHead = Type.Object({ type: Type.Literal('publish'), channel: Str });
export const KickFrame = Type.Object({
  type: Type.Literal('kick'),
  id: Str,
  code: Type.Integer({ minimum: 4000, maximum: 4999 }),
  reason: Type.String({ maxLength: 120 }),
});
export const LoadedFrame = Type.Object({ type: Type.Literal('loaded'), room: Str, epoch: Type.Integer({ minimum: 0 }) });
export const UnloadedFrame = Type.Object({ type: Type.Literal('unloaded'), room: Str, reason: Type.String({ maxLength: 120 }) });
/** The monolith is shutting down: balancers move its connections elsewhere (rejoin). */
export const DrainFrame = Type.Object({ type: Type.Literal('drain') });
export const GossipFrame = Type.Object({
  type: Type.Literal('gossip'),
  rooms: Type.Array(Type.Object({ room: Str, epoch: Type.Integer({ minimum: 0 }) })),
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

/**
 * The constant part of a client's `message` envelope; the balancer builds it once per session
 * (and again on token refresh) and appends `<client text>}` per frame.
 */
export function messageEnvelopePrefix(token: string, room: string, id: string): string {
  const prefix = `{"type":"message","token":${JSON.stringify(token)},"room":${JSON.stringify(room)},"id":${JSON.stringify(id)}${MESSAGE_KEY}`;
  // Flatten now: a concatenation is a tree of its parts until first read, and this string lives
  // as long as the session (it is the balancer's per-connection memory).
  void prefix.charCodeAt(0);
  return prefix;
}

/** The token inside a prefix made by `messageEnvelopePrefix` (so a session stores it once). */
export function tokenOfPrefix(prefix: string): string {
  return (JSON.parse(prefix + '{}}') as { token: string }).token;
}
