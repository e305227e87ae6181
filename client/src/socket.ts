/**
 * A handler slot the client only writes: the socket calls it with its own event type, which has
 * at least these fields. Declared through a method so that its parameter is compared both ways,
 * which lets `ws`'s and the browser's classes (whose events have more fields) be passed
 * uncast under `strict`.
 */
type Listener<E> = { bivariant(ev: E): void }['bivariant'];

/** The subset of the WebSocket API the client uses: the browser's, or the `ws` package's. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Listener<unknown> | null;
  onmessage: Listener<{ data: unknown }> | null;
  onclose: Listener<{ code: number; reason: string }> | null;
  onerror: Listener<unknown> | null;
}
export type SocketFactory = new (url: string) => SocketLike;
