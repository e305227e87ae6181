import { destination as pinoDestination, pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { ConfigError } from './config-schema.js';

/**
 * Logs on pino: one JSON line per event on stderr (`t` ISO time, `level` by name, `service`,
 * `msg`, then the fields), what log shippers expect; `format: 'pretty'` (GATEWAY_LOG_FORMAT,
 * which `npm start` sets) prints them for people instead. Tokens, secrets, credentials and payloads are
 * redacted wherever they appear in fields (REDACT_PATHS), so no call site can leak one by
 * passing a whole object. Child loggers bind ids (a connection, a link) to every line.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Log {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry `bindings` (createLog's have it; test fakes may not). */
  child?(bindings: Record<string, unknown>): Log;
  /** The pino logger underneath (fastify's `loggerInstance`), on createLog's. */
  readonly pino?: Logger;
}

/** Field names whose values never reach a log line, at the top level or one object down. */
export const REDACT_KEYS = ['token', 'secret', 'password', 'authorization', 'cookie', 'payload', 'frame', 'data', 'detail', 'jwt', 'LINK_SECRET', 'JWT_SECRET', 'REDIS_PASSWORD'];
const REDACT_PATHS = [
  ...REDACT_KEYS,
  ...REDACT_KEYS.map((k) => `*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
];

function wrap(logger: Logger): Log & { child(bindings: Record<string, unknown>): Log; pino: Logger } {
  return {
    debug: (msg, fields) => logger.debug(fields ?? {}, msg),
    info: (msg, fields) => logger.info(fields ?? {}, msg),
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
    error: (msg, fields) => logger.error(fields ?? {}, msg),
    child: (bindings) => wrap(logger.child(bindings)),
    pino: logger,
  };
}

export interface LogOptions {
  /** `json` (default) or `pretty` (the services pass GATEWAY_LOG_FORMAT from their config). */
  format?: 'json' | 'pretty';
  /** Where lines go (tests); default stderr, written synchronously so none is lost at exit. */
  destination?: NodeJS.WritableStream;
}

export function createLog(service: string, level: Level, opts: LogOptions = {}): Log & { pino: Logger } {
  const format = opts.format ?? 'json';
  const destination =
    format === 'pretty'
      ? pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' })
      : (opts.destination ?? pinoDestination({ fd: 2, sync: true }));
  const logger = pino(
    {
      level,
      base: { service },
      messageKey: 'msg',
      timestamp: () => `,"t":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  return wrap(logger);
}

/**
 * Lets one line through per key per `windowMs` and counts the rest, so a retry loop (a monolith
 * that cannot be reached, dialled every few hundred ms) says so once a window, with how often.
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The number of lines suppressed since the last one for `key`, or undefined to stay quiet. */
  allow(key: string): number | undefined {
    const t = this.now();
    const seen = this.last.get(key);
    if (seen && t - seen.at < this.windowMs) {
      seen.suppressed++;
      return undefined;
    }
    this.last.set(key, { at: t, suppressed: 0 });
    return seen?.suppressed ?? 0;
  }

  /** Forgets a key (the condition cleared: its next occurrence is logged at once). */
  clear(key: string): void {
    this.last.delete(key);
  }
}

/**
 * Runs a service's config loader; on a ConfigError prints every problem, naming each variable,
 * and exits with status 2 (the operator's mistake, not a crash).
 */
export function loadOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
