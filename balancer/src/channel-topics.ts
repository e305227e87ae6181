import type { SocketData } from './client-session.js';
import type { WebSocket } from './uws.js';

/** Unsubscribes a socket from every channel topic (`<monolith>/<channel>`), keeping its room. */
export function dropChannels(ws: WebSocket<SocketData> | undefined): void {
  if (!ws) return;
  for (const topic of ws.getTopics()) if (topic.includes('/')) ws.unsubscribe(topic);
}
