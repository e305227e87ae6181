import { ApiEvent, ErrorCode, isMockGuild, validateMockUserEvent } from '@gateway/protocol';
import type { ConnectionRateLimit } from '../connection-rate.js';
import type { Gateway } from '../gateway.js';
import type { MockBot } from './bot.js';

/**
 * Registers `mock_user_event` → `mock_bot_event {guild_id, actions}` (no reply: `actions: []`).
 * Open to every token, guests included, on mock guilds only: a guild id of 10^7 or more is
 * `forbidden` whatever the token, so no real guild's data is ever reached this way.
 */
export function registerMockBot(gateway: Gateway, bot: MockBot, limit: ConnectionRateLimit): void {
  gateway.on(ApiEvent.MOCK_USER_EVENT, (ctx, data) => {
    if (!validateMockUserEvent.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateMockUserEvent.explain(data));
    if (!isMockGuild(data.guild_id)) return ctx.error(ErrorCode.FORBIDDEN, `guild ${data.guild_id} is not a mock guild (ids below 10^7)`);
    if (!limit.take(ctx.conn.id)) return ctx.error(ErrorCode.RATE_LIMITED, `at most ${limit.rate} mock bot requests per second`);
    ctx.reply(ApiEvent.MOCK_BOT_EVENT, bot.handle(ctx.conn, data));
  });
}
