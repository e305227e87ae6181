import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type * as UWS from 'uWebSockets.js';

/**
 * Loads uWebSockets.js' native binary directly. The package's own loader silently falls back to
 * a pure-JS shim when the binary does not match this Node.js build; that shim is many times
 * slower, so the balancer refuses to start instead of running degraded.
 */
function loadNative(): typeof UWS {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('uWebSockets.js');
  const binary = join(dirname(entry), '..', 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(binary)) {
    throw new Error(
      `uWebSockets.js has no native binary for ${process.platform}-${process.arch} with Node ABI ${process.versions.modules} ` +
        `(Node ${process.versions.node}); expected ${binary}. Use Node.js 20. Refusing to start on the slow pure-JS fallback.`,
    );
  }
  return require(binary) as typeof UWS;
}

export const uws = loadNative();
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
