import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
// Typed against the older build's API, the one both builds have (the newer one dropped only the
// fragment senders and _cfg, which the balancer does not use).
import type * as UWS from '@trufflesuite/uws-js-unofficial';
import { ConfigError, bindFailure, listenProblem, type ListenAt } from '@gateway/server-kit';
import { UWS_BUILDS, chooseUwsBuilds, cLibraryOf, noUwsMessage, type UwsBuild, type UwsHost } from './uws-builds.js';

let native: typeof UWS | undefined;
let loaded: { build: UwsBuild; path: string } | undefined;

/** The running process as the build choice sees it. */
export function currentUwsHost(): UwsHost {
  return {
    platform: process.platform,
    arch: process.arch,
    node: process.versions.node,
    abi: process.versions.modules,
    libc: cLibraryOf(process.report.getReport() as { header?: { glibcVersionRuntime?: string }; sharedObjects?: string[] }),
  };
}

/**
 * Loads the newest uWebSockets.js native binary that works on this Node ABI and C library
 * (UWS_BUILDS), on the first call (from `createBalancer`), so importing the balancer's modules
 * (types, tests, tools) never touches it. The binary is required directly: a package's own entry
 * may fall back to a pure-JS shim many times slower, and the balancer refuses to start instead of
 * running degraded. The error names the Node and glibc versions found and what each build needs.
 */
export function loadUws(): typeof UWS {
  if (native) return native;
  const host = currentUwsHost();
  const { candidates, refused } = chooseUwsBuilds(host, UWS_BUILDS);
  const require = createRequire(import.meta.url);
  const loadErrors: string[] = [];
  for (const { build, file } of candidates) {
    try {
      const path = join(dirname(require.resolve(build.name)), build.dir, file);
      native = require(path) as typeof UWS;
      loaded = { build, path };
      return native;
    } catch (err) {
      // Chosen but not loadable (not installed, or the loader refused it): try the next one.
      loadErrors.push(`${build.name}@${build.version} did not load: ${String((err as Error).message).split('\n')[0]}`);
    }
  }
  throw new Error(noUwsMessage(host, refused, loadErrors));
}

/** The build and binary file `loadUws` loaded, once it has. */
export function loadedUws(): { build: UwsBuild; path: string } | undefined {
  return loaded;
}

/**
 * Listens on `at`, by default without SO_REUSEPORT (uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT).
 * uSockets sets it on any port but 0 unless told not to, and then a second balancer on a taken
 * port starts as well and the kernel silently splits new connections between the two;
 * exclusive, the second one's bind fails, and that is the operator's to fix: a ConfigError
 * naming the variables. `reusePort` (BALANCER_REUSE_PORT, BALANCER_WORKERS) asks for that
 * sharing on purpose: the kernel lets a socket join a port only when every socket bound there
 * set SO_REUSEPORT (and runs as the same user), so a process without the setting is still
 * refused, and one with it is refused while a process without it holds the port. The binding
 * reads `listen(host, port, options, cb)` (host first unless it is a number, the callback
 * last, the numbers between as port and options); its typings list options only without a host.
 */
export async function listenOn(app: UWS.TemplatedApp, at: ListenAt, { reusePort = false }: { reusePort?: boolean } = {}): Promise<UWS.us_listen_socket> {
  const uws = loadUws() as typeof UWS & { LIBUS_LISTEN_EXCLUSIVE_PORT: number };
  const listen = app.listen as unknown as (host: string, port: number, options: number, cb: (socket: UWS.us_listen_socket | false) => void) => UWS.TemplatedApp;
  const options = reusePort ? 0 : uws.LIBUS_LISTEN_EXCLUSIVE_PORT;
  const socket = await new Promise<UWS.us_listen_socket | false>((resolve) => listen.call(app, at.host, at.port, options, resolve));
  if (socket) return socket;
  // uWS gives no reason; a plain bind attempt finds it (EADDRINUSE, EADDRNOTAVAIL, ...).
  const code = await bindFailure(at.host, at.port);
  throw new ConfigError([
    code
      ? listenProblem(at, code) + (reusePort && code === 'EADDRINUSE' ? ' (sharing a port needs BALANCER_REUSE_PORT=true in every process on it)' : '')
      : `${at.portVar} ${at.port} on ${at.host} (${at.hostVar}) cannot be bound by uWebSockets.js though no process listens there: connections a previous run closed may still be in TIME_WAIT (up to a minute)`,
  ]);
}

export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from '@trufflesuite/uws-js-unofficial';
