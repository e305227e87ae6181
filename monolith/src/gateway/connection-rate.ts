import { fullBucket, takeToken, type Bucket } from '@gateway/server-kit';
import type { Rooms } from '../rooms/rooms.js';

/**
 * A token bucket per connection, shared by the events it guards (`interpret` and
 * `mock_user_event` drive the same bot, so they draw on one budget). Forgotten on leave.
 */
export class ConnectionRateLimit {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    rooms: Pick<Rooms, 'onLeave'>,
    /** Requests per second (refill), and the burst allowed. */
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    rooms.onLeave((conn) => this.buckets.delete(conn.id));
  }

  /** Takes one request's token for `connId`; false when over the rate. */
  take(connId: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(connId);
    if (!bucket) this.buckets.set(connId, (bucket = fullBucket(now, this.burst)));
    return takeToken(bucket, now, this.rate, this.burst);
  }
}
