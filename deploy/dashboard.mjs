#!/usr/bin/env node
/**
 * The dashboard (scripts/serve-web.mjs) in a container. That script's own command line listens
 * on 127.0.0.1 only, right for `npm start` but unreachable through a published port, and falls
 * back to the published development JWT secret; this runs the same server on every interface
 * of the container and refuses to start without JWT_SECRET.
 *
 *   WEB_PORT (8081), MONOLITH_HTTP (http://127.0.0.1:3000), WS_URL (ws://127.0.0.1:8080/ws,
 *   comma-separated for several balancers), JWT_SECRET (required: the stack's own)
 *
 * Development only: anyone who reaches it gets a token for any subject, signed with JWT_SECRET.
 */
import { startWebServer } from '../scripts/serve-web.mjs';

const jwtSecret = process.env.JWT_SECRET;
if (!jwtSecret) {
  process.stderr.write('dashboard: JWT_SECRET is required (the secret the balancers and monoliths verify tokens with)\n');
  process.exit(2);
}
const web = await startWebServer({
  host: '0.0.0.0',
  port: Number(process.env.WEB_PORT ?? 8081),
  monolithHttp: process.env.MONOLITH_HTTP,
  wsUrl: process.env.WS_URL,
  jwtSecret,
});
const { announceReady } = await import('../server-kit/dist/index.js');
announceReady('web', { port: web.port });
const stop = () => web.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
