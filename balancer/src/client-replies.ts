import { ApiEvent } from '@gateway/protocol';

/** What the balancer itself answers a client: reply frames and close reasons (error frames: protocol errorFrame). */

/** RFC 6455 caps a close reason at 123 bytes; cut on a character boundary. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > 120) break;
    out += ch;
  }
  return out + '…';
}

export function elevationResult(result: boolean, id: unknown): string {
  const _id = typeof id === 'number' || typeof id === 'string' ? id : undefined;
  return JSON.stringify({ event: ApiEvent.REQUEST_ELEVATION, _id, data: { result } });
}
