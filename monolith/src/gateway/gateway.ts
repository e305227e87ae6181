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
    readonly rooms: Rooms,
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
    const ctx = new RequestContext(this, conn, requestId, typeof message.event === 'string' ? message.event : '');
    // Defence in depth (the balancer refuses these first): a deep message would cost handlers
    // a stack overflow in JSON.stringify, caught and answered `internal`, per frame.
    if (deeperThan(message, this.maxDepth)) return ctx.error(ErrorCode.BAD_REQUEST, `message nested deeper than ${this.maxDepth}`);
    if (!validateAppMessage.check(message)) return ctx.error(ErrorCode.BAD_REQUEST, validateAppMessage.explain(message));
    const handler = this.handlers.get(message.event);
    if (!handler) return ctx.error(ErrorCode.UNKNOWN_EVENT, `unknown event "${message.event.slice(0, 64)}"`);
    const observe = this.observe;
    const started = observe ? performance.now() : 0;
    const event = message.event;
    try {
      const result = handler(ctx, message.data);
      if (result) {
        const settled = result.catch((err: unknown) => void this.failed(ctx, event, err));
        if (observe) void settled.finally(() => observe(event, (performance.now() - started) / 1000));
      } else if (observe) observe(event, (performance.now() - started) / 1000);
    } catch (err) {
      this.failed(ctx, event, err);
      if (observe) observe(event, (performance.now() - started) / 1000);
    }
  }

  /** @internal A handler's failure, answered and logged (RequestContext.fail and handle). */
  failed(ctx: Context, event: string, err: unknown): ErrorCodeValue {
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

}

/**
 * One request's Context: a small object with its methods on the prototype, since one is made
 * per client message (call them as `ctx.reply(...)`, not detached).
 */
class RequestContext implements Context {
  readonly rooms: Rooms;

  constructor(
    private readonly gateway: Gateway,
    readonly conn: Conn,
    private readonly requestId: RequestId | undefined,
    private readonly event: string,
  ) {
    this.rooms = gateway.rooms;
  }

  reply(event: string, data?: unknown): void {
    const requestId = this.requestId;
    this.rooms.unicast(this.conn, JSON.stringify(requestId === undefined ? { event, data } : { event, _id: requestId, data }));
  }

  replyRaw(event: string, dataJson: string): void {
    const id = this.requestId === undefined ? '' : `,"_id":${JSON.stringify(this.requestId)}`;
    this.rooms.unicast(this.conn, `{"event":${JSON.stringify(event)}${id},"data":${dataJson}}`);
  }

  error(code: ErrorCodeValue, message: string): void {
    this.rooms.unicast(this.conn, errorFrame(code, message, this.requestId));
  }

  fail(err: unknown): ErrorCodeValue {
    return this.gateway.failed(this, this.event, err);
  }
}
