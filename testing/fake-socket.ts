import type { SocketLike } from '../client/src/index.js';

/**
 * A WebSocket for SDK unit tests: what the client sends is recorded (parsed), and the test plays
 * the server (`accept`, `push`, `reply`, `error`, `drop`). Every instance is kept in `all`, in
 * the order the client opened them; reset it after each test.
 */
export type Frame = Record<string, unknown> & { event?: string; action?: string; _id?: number; data?: Record<string, unknown> };

export class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  readonly sent: Frame[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Frame);
  }
  close(code = 1000, reason = ''): void {
    this.drop(code, reason);
  }

  // The server's side.
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  push(msg: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  drop(code = 1006, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  requests(event: string): Frame[] {
    return this.sent.filter((f) => f.event === event);
  }
  /** Answers the latest request of `event`. */
  reply(event: string, data: unknown): void {
    const req = this.requests(event).at(-1);
    if (!req) throw new Error(`no ${event} request was sent`);
    this.push({ event, _id: req._id, data });
  }
  error(event: string, code: string): void {
    const req = this.requests(event).at(-1)!;
    this.push({ event: 'error', _id: req._id, code, message: code, human: code });
  }
}
