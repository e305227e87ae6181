/**
 * One order over acknowledgements and `since` requests in this process (happened-before, not
 * time): a push whose publication was acknowledged before the client sent its `since`, and that
 * it had not received by then, can only have come from history.
 */
let order = 0;
const ackedAt = new Map<string, number>();

const key = (stream: string, epoch: string, offset: number): string => `${stream}|${epoch}|${offset}`;

/** The next point of the order: taken when a client sends a non-empty `since`. */
export function nextOrder(): number {
  return ++order;
}

/** Records when the publication at this position was first acknowledged. */
export function markAcked(stream: string, epoch: string, offset: number): void {
  const pos = key(stream, epoch, offset);
  if (!ackedAt.has(pos)) ackedAt.set(pos, ++order);
}

/** When the publication at this position was first acknowledged, if it was. */
export function ackedOrder(stream: string, epoch: string, offset: number): number | undefined {
  return ackedAt.get(key(stream, epoch, offset));
}
