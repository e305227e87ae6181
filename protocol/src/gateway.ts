import { Type, type Static } from '@sinclair/typebox';
import { SNOWFLAKE_PATTERN } from './ids.js';
import { compile } from './validate.js';

/** Permission bits carried per guild in the token's `guilds` claim (DESIGN §5). */
export const Permission = {
  ADMINISTRATOR: 0x1,
  VIEW_PUBLIC_LOGS: 0x2,
  VIEW_PRIVATE_LOGS: 0x4,
  REVERT_LOG_ACTIONS: 0x8,
  MANAGE_SETTINGS: 0x200,
} as const;

/**
 * The claims the gateway reads from a verified JWT. A user token has `sub`; a guest token has
 * `guest: true` and a `jti`, and lives in room `guest:<jti>`.
 */
export const TokenClaims = Type.Object({
  sub: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  jti: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  name: Type.Optional(Type.String({ maxLength: 256 })),
  guest: Type.Optional(Type.Boolean()),
  admin: Type.Optional(Type.Boolean()),
  guilds: Type.Optional(
    Type.Record(Type.String({ pattern: SNOWFLAKE_PATTERN }), Type.Integer({ minimum: 0 }), { additionalProperties: false, maxProperties: 500 }),
  ),
  rooms: Type.Optional(Type.Array(Type.String(), { maxItems: 64 })),
  /** A backend service (HTTP publishing endpoints), not a person. */
  service: Type.Optional(Type.Boolean()),
  /** `ws`: a short-lived token from `POST /api/tokens/ws`, good for opening one session. */
  use: Type.Optional(Type.String({ maxLength: 16 })),
  exp: Type.Optional(Type.Number()),
});
export type TokenClaims = Static<typeof TokenClaims>;
export const validateTokenClaims = compile(TokenClaims);

export interface WelcomeData {
  id: string;
  room: string;
  user: { id: string; name: string | null; guest: boolean };
  permissions: { admin: boolean; guilds: Record<string, number> };
  monolith: string;
  /** The session's streams (its room's or its user's), whose pushes carry positions. */
  streams?: string[];
  /** Where each session stream starts for this connection (recover from here next time). */
  positions?: Record<string, { offset: number; epoch: string }>;
  /** Per stream of the auth frame's `since`: true when every missed publication follows. */
  recovered?: Record<string, boolean>;
}

/** Body of `POST /api/rooms/:room/broadcast`. */
export const BroadcastBody = Type.Object({
  event: Type.String({ minLength: 1, maxLength: 64 }),
  data: Type.Optional(Type.Unknown()),
});
export type BroadcastBody = Static<typeof BroadcastBody>;
export const validateBroadcastBody = compile(BroadcastBody);

/**
 * The identity a token speaks for: `sub` for users; for guests the `jti` of their guest token
 * (room `guest:<jti>`), carried as `sub` in websocket tokens minted from it, whose own `jti`
 * must be unique so that it can be consumed once.
 */
export function subjectOf(claims: TokenClaims): { subject: string | undefined; guest: boolean } {
  const guest = claims.guest === true;
  return { subject: guest ? (claims.sub ?? claims.jti) : claims.sub, guest };
}

/**
 * The envelope token of a tokenless guest (an architus-dialect socket without a sign-in cookie:
 * the front page's mock bot). Not a JWT: the monolith gives such a connection a guest identity of
 * its own, `anon.<connection id>` (room `guest:anon.<connection id>`), and no claims beyond
 * `guest`: it can reach nothing a minted guest token could not (DESIGN §3: a link cannot forge
 * users; a guest is what anyone may be).
 */
export const ANONYMOUS_TOKEN = 'anonymous';

export function anonymousSubject(connectionId: string): string {
  return `anon.${connectionId}`;
}

/** True when the token may act on a guild at all (it lists the guild, or is an architus admin). */
export function inGuild(claims: TokenClaims, guildId: string): boolean {
  return claims.admin === true || (claims.guilds !== undefined && Object.hasOwn(claims.guilds, guildId));
}

/**
 * Mock guilds (the front page's bot) live in their own id range, below 10^7 as in architus; no
 * real guild id is that short. Anyone, guests included, may use the mock bot there.
 */
export const MOCK_GUILD_ID_LIMIT = 10_000_000;
const mockGuildRe = new RegExp(`^[0-9]{1,${String(MOCK_GUILD_ID_LIMIT - 1).length}}$`);

export function isMockGuild(guildId: string): boolean {
  return mockGuildRe.test(guildId);
}

/**
 * True when the mock bot may read the guild's data for this token: a mock guild, or a guild the
 * token may act on (`interpret` must never reveal another guild's auto responses).
 */
export function mayInterpret(claims: TokenClaims, guildId: string): boolean {
  return isMockGuild(guildId) || inGuild(claims, guildId);
}

/**
 * True when the token holds `bit` in the guild. `admin` (architus admin) and the guild's
 * ADMINISTRATOR bit imply every permission, as in Discord.
 */
export function can(claims: TokenClaims, guildId: string, bit: number): boolean {
  if (claims.admin === true) return true;
  const bits = claims.guilds?.[guildId];
  if (bits === undefined) return false;
  return (bits & Permission.ADMINISTRATOR) !== 0 || (bits & bit) === bit;
}
