import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type * as UWS from 'uWebSockets.js';

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

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';
