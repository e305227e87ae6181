import { describe, expect, it } from 'vitest';
import { splitMessage } from '@gateway/protocol';
import { Channels } from './channels.js';
import type { LinkPeer } from './links.js';
import type { Conn } from './rooms.js';

class Link implements LinkPeer {
  frames: string[] = [];
  constructor(readonly id: string) {}
  send(frame: string) {
    this.frames.push(frame);
  }
}
const conn = (id: string, link: LinkPeer): Conn => ({ id, room: 'r', link, tokenTail: 't', claims: {}, subject: 's', guest: false, inRoomChannel: false });

describe('Channels', () => {
  it('publishes one frame per link with subscribers and tells the balancer who subscribes', () => {
    const a = new Link('a');
    const b = new Link('b');
    const ch = new Channels();
    ch.subscribe(conn('a1', a), 'guild:1');
    ch.subscribe(conn('a2', a), 'guild:1');
    ch.subscribe(conn('b1', b), 'guild:2');
    expect(a.frames.map((f) => JSON.parse(f))).toEqual([
      { type: 'subscribe', id: 'a1', channel: 'guild:1' },
      { type: 'subscribe', id: 'a2', channel: 'guild:1' },
    ]);
    expect(ch.publish('guild:1', '{"event":"log_pool"}')).toBe(1);
    expect(splitMessage(a.frames.at(-1)!)).toEqual({ head: { type: 'publish', channel: 'guild:1' }, message: '{"event":"log_pool"}' });
    expect(b.frames).toHaveLength(1);
  });

  it('stops publishing to a link once its last subscriber leaves or the link drops', () => {
    const a = new Link('a');
    const ch = new Channels();
    const c = conn('a1', a);
    ch.subscribe(c, 'x');
    ch.unsubscribe(c, 'x');
    expect(ch.publish('x', '{}')).toBe(0);
    ch.subscribe(c, 'x');
    ch.dropLink(a);
    expect(ch.subscribers('x')).toBe(0);
  });
});
