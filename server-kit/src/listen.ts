import { createServer } from 'node:net';
import { ConfigError } from './config-schema.js';
import { loadOrExit } from './log.js';

/**
 * A port a service binds, with the variables that chose it: a bind the system refuses (the port
 * is taken, the address is not this machine's) is the operator's to fix, so it is reported as a
 * configuration problem naming them (exit status 2), not as a crash.
 */
export interface ListenAt {
  hostVar: string;
  host: string;
  portVar: string;
  port: number;
}

/** Bind failures that a configuration change fixes. */
const OPERATOR_CODES = new Set(['EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAFNOSUPPORT']);

/** The problem line for a bind of `at` that failed with `code` (an errno name). */
export function listenProblem(at: ListenAt, code: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return `${at.portVar} ${at.port} is already in use on ${at.host} (${at.hostVar}): another process listens there; stop it or choose another port`;
    case 'EADDRNOTAVAIL':
      return `${at.hostVar} ${at.host} is not an address of this machine`;
    case 'EACCES':
      return `${at.portVar} ${at.port} cannot be bound by this user (ports below 1024 need privileges)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `${at.hostVar} ${at.host} does not resolve to an address (${code})`;
    default:
      return `${at.portVar} ${at.port} on ${at.host} (${at.hostVar}) cannot be bound: ${code}`;
  }
}

/** Runs `listen`, a Node server binding `at`; a refusal the operator can fix throws a ConfigError. */
export async function listenAs<T>(at: ListenAt, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && OPERATOR_CODES.has(code)) throw new ConfigError([listenProblem(at, code)]);
    throw err;
  }
}

/**
 * Why `host:port` cannot be bound now (an errno name), or undefined when it can: binds a plain
 * Node server there and closes it. Only explains a bind that failed without a reason (uWS says
 * `false`); deciding by it would race with whoever binds in between.
 */
export function bindFailure(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Awaits `listen` (main.ts: the service binding its ports); a ConfigError is printed and exits
 * with status 2 exactly as `loadOrExit` does for one found while reading the configuration.
 */
export async function listenOrExit<T>(service: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    // loadOrExit is the one place that prints a ConfigError and exits; anything else rethrows.
    return loadOrExit(service, () => {
      throw err;
    });
  }
}
