import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type * as UWS from 'uWebSockets.js';
import { ConfigError, bindFailure, listenProblem, type ListenAt } from '@gateway/server-kit';

let native: typeof UWS | undefined;

/**
 * Loads uWebSockets.js' native binary directly, on the first call (from `createBalancer`), so
 * importing the balancer's modules (types, tests, tools) never touches it. The package's own
 * loader silently falls back to a pure-JS shim when the binary does not match this Node.js
 * build; that shim is many times slower, so the balancer refuses to start instead of running
 * degraded.
 */
export function loadUws(): typeof UWS {
  if (native) return native;
  const require = createRequire(import.meta.url);
  const entry = require.resolve('uWebSockets.js');
  const binary = join(dirname(entry), '..', 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(binary)) {
    throw new Error(
      `uWebSockets.js has no native binary for ${process.platform}-${process.arch} with Node ABI ${process.versions.modules} ` +
        `(Node ${process.versions.node}); expected ${binary}. Use Node.js 20. Refusing to start on the slow pure-JS fallback.`,
    );
  }
  native = require(binary) as typeof UWS;
  return native;
}

/**
 * Listens on `at` without SO_REUSEPORT (uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT). uSockets sets it
 * by default on any port but 0, and then a second balancer on a taken port starts as well and
 * the kernel silently splits new connections between the two; exclusive, the second one's bind
 * fails, and that is the operator's to fix: a ConfigError naming the variables. The binding reads
 * `listen(host, port, options, cb)` (host first unless it is a number, the callback last, the
 * numbers between as port and options); its typings list options only without a host.
 */
export async function listenExclusive(app: UWS.TemplatedApp, at: ListenAt): Promise<UWS.us_listen_socket> {
  const uws = loadUws() as typeof UWS & { LIBUS_LISTEN_EXCLUSIVE_PORT: number };
  const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (socket: UWS.us_listen_socket | false) => void) => UWS.TemplatedApp;
  const socket = await new Promise<UWS.us_listen_socket | false>((resolve) => listen.call(app, at.host, at.port, uws.LIBUS_LISTEN_EXCLUSIVE_PORT, resolve));
  if (socket) return socket;
  // uWS gives no reason; a plain bind attempt finds it (EADDRINUSE, EADDRNOTAVAIL, ...).
  const code = await bindFailure(at.host, at.port);
  throw new ConfigError([
    code
      ? listenProblem(at, code)
      : `${at.portVar} ${at.port} on ${at.host} (${at.hostVar}) cannot be bound by uWebSockets.js though no process listens there: connections a previous run closed may still be in TIME_WAIT (up to a minute)`,
  ]);
}

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';
