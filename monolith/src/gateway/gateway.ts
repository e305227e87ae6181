import { ErrorCode, deeperThan, errorFrame, isErrorCode, validateAppMessage, type ErrorCodeValue, type RequestId } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Conn, Rooms } from '../rooms/rooms.js';
import { FailureLog } from './failure-log.js';

/** What a handler gets for one client request. */
export interface Context {
  readonly conn: Conn;
  readonly rooms: Rooms;
  /** Answers the request (echoing its `_id`). */
  reply(event: string, data?: unknown): void;
  /** Answers with `data` already serialized (spliced in, not re-encoded). */
  replyRaw(event: string, dataJson: string): void;
  /** Answers with a catalogued error; the request has no other effect. */
  error(code: ErrorCodeValue, message: string): void;
  /**
   * Answers a caught failure as a throwing handler's would be (a catalogued code as is, else
   * `internal`, logged) and returns the code sent: for handlers that must say more afterwards
   * (a pool request's final chunk).
   */
  fail(err: unknown): ErrorCodeValue;
}

/** One event family's handler. Throwing (or rejecting) answers `internal` and is logged (once per kind, then counted). */
export type Handler = (ctx: Context, data: unknown) => void | Promise<void>;

/** Routes client events to handlers (one file per event family under gateway/). */
export class Gateway {
  private readonly handlers = new Map<string, Handler>();
  private readonly failures: FailureLog;
  private readonly maxDepth: number;

  constructor(
    private readonly rooms: Rooms,
    log: Log,
    opts: { maxDepth: number; failureWindowMs?: number; observe?: (event: string, seconds: number) => void },
  ) {
    this.failures = new FailureLog(log, opts.failureWindowMs);
    this.maxDepth = opts.maxDepth;
    this.observe = opts.observe;
  }

  /** Handling time per registered event, to completion (metrics). */
  private readonly observe: ((event: string, seconds: number) => void) | undefined;

  on(event: string, handler: Handler): this {
    this.handlers.set(event, handler);
    return this;
  }

  /** Whether `event` has a handler. */
  has(event: string): boolean {
    return this.handlers.has(event);
  }

  /** Handles one client message (already parsed by the link server). */
  handle(conn: Conn, message: Record<string, unknown>): void {
    const requestId = typeof message._id === 'number' || typeof message._id === 'string' ? (message._id as RequestId) : undefined;
    const ctx = this.context(conn, requestId, typeof message.event === 'string' ? message.event : '');
    // Defence in depth (the balancer refuses these first): a deep message would cost handlers
    // a stack overflow in JSON.stringify, caught and answered `internal`, per frame.
    if (deeperThan(message, this.maxDepth)) return ctx.error(ErrorCode.BAD_REQUEST, `message nested deeper than ${this.maxDepth}`);
    if (!validateAppMessage.check(message)) return ctx.error(ErrorCode.BAD_REQUEST, validateAppMessage.explain(message));
    const handler = this.handlers.get(message.event);
    if (!handler) return ctx.error(ErrorCode.UNKNOWN_EVENT, `unknown event "${message.event.slice(0, 64)}"`);
    const started = this.observe ? performance.now() : 0;
    const done = this.observe ? () => this.observe!(message.event, (performance.now() - started) / 1000) : undefined;
    try {
      const result = handler(ctx, message.data);
      if (result) result.catch((err: unknown) => this.failed(ctx, message.event, err)).finally(done);
      else done?.();
    } catch (err) {
      this.failed(ctx, message.event, err);
      done?.();
    }
  }

  private failed(ctx: Context, event: string, err: unknown): ErrorCodeValue {
    // Errors that carry a catalogued code (e.g. StoreInputError: a bad cursor) are the client's.
    const code = (err as { code?: unknown } | undefined)?.code;
    if (isErrorCode(code)) {
      ctx.error(code, (err as Error).message);
      return code;
    }
    this.failures.record(event, err, { conn: ctx.conn.id });
    ctx.error(ErrorCode.INTERNAL, 'internal error');
    return ErrorCode.INTERNAL;
  }

  /** Cancels pending failure reports (shutdown). */
  close(): void {
    this.failures.close();
  }

  private context(conn: Conn, requestId: RequestId | undefined, event: string): Context {
    const rooms = this.rooms;
    const failed = (ctx: Context, err: unknown) => this.failed(ctx, event, err);
    return {
      conn,
      rooms,
      reply(event, data) {
        rooms.unicast(conn, JSON.stringify(requestId === undefined ? { event, data } : { event, _id: requestId, data }));
      },
      replyRaw(event, dataJson) {
        const id = requestId === undefined ? '' : `,"_id":${JSON.stringify(requestId)}`;
        rooms.unicast(conn, `{"event":${JSON.stringify(event)}${id},"data":${dataJson}}`);
      },
      error(code, message) {
        rooms.unicast(conn, errorFrame(code, message, requestId));
      },
      fail(err) {
        return failed(this, err);
      },
    };
  }
}
