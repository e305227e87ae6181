import { ErrorCode, ErrorHuman, ServerEvent, validateAppMessage, type ErrorCodeValue, type RequestId } from '@gateway/protocol';
import type { Log } from '@gateway/protocol/node';
import type { Conn, Rooms } from '../rooms/rooms.js';

/** What a handler gets for one client request. */
export interface Context {
  readonly conn: Conn;
  readonly rooms: Rooms;
  /** Answers the request (echoing its `_id`). */
  reply(event: string, data?: unknown): void;
  /** Answers with a catalogued error; the request has no other effect. */
  error(code: ErrorCodeValue, message: string): void;
}

/** One event family's handler. Throwing (or rejecting) answers `internal` and is logged. */
export type Handler = (ctx: Context, data: unknown) => void | Promise<void>;

/** Routes client events to handlers (one file per event family under gateway/). */
export class Gateway {
  private readonly handlers = new Map<string, Handler>();

  constructor(
    private readonly rooms: Rooms,
    private readonly log: Log,
  ) {}

  on(event: string, handler: Handler): this {
    this.handlers.set(event, handler);
    return this;
  }

  /** Handles one client message (already parsed by the link server). */
  handle(conn: Conn, message: Record<string, unknown>): void {
    const requestId = typeof message._id === 'number' || typeof message._id === 'string' ? (message._id as RequestId) : undefined;
    const ctx = this.context(conn, requestId);
    if (!validateAppMessage.check(message)) return ctx.error(ErrorCode.BAD_REQUEST, validateAppMessage.explain(message));
    const handler = this.handlers.get(message.event);
    if (!handler) return ctx.error(ErrorCode.UNKNOWN_EVENT, `unknown event "${message.event.slice(0, 64)}"`);
    try {
      const result = handler(ctx, message.data);
      if (result) result.catch((err: Error) => this.failed(ctx, message.event, err));
    } catch (err) {
      this.failed(ctx, message.event, err as Error);
    }
  }

  private failed(ctx: Context, event: string, err: Error): void {
    // Errors that carry a catalogued code (e.g. StoreInputError: a bad cursor) are the client's.
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code in ErrorHuman) return ctx.error(code as ErrorCodeValue, err.message);
    this.log.error('handler failed', { event, conn: ctx.conn.id, err: err.message, stack: err.stack });
    ctx.error(ErrorCode.INTERNAL, 'internal error');
  }

  private context(conn: Conn, requestId: RequestId | undefined): Context {
    const rooms = this.rooms;
    return {
      conn,
      rooms,
      reply(event, data) {
        rooms.unicast(conn, JSON.stringify(requestId === undefined ? { event, data } : { event, _id: requestId, data }));
      },
      error(code, message) {
        rooms.unicast(conn, JSON.stringify({ event: ServerEvent.ERROR, _id: requestId, code, message, human: ErrorHuman[code] }));
      },
    };
  }
}
