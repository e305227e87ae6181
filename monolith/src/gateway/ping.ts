import { ClientEvent, ServerEvent } from '@gateway/protocol';
import type { Gateway } from './gateway.js';

/** `ping` → `pong`: the cheapest round trip through balancer and monolith (health, latency). */
export function registerPing(gateway: Gateway): void {
  gateway.on(ClientEvent.PING, (ctx, data) => ctx.reply(ServerEvent.PONG, data));
}
