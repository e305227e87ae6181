import { describe, expect, it } from 'vitest';
import { CloseCode, CloseReason, type M2BHead } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Session, Sessions } from './client-session.js';
import { createLinkDispatch, type Fanout } from './link-dispatch.js';
import type { MonolithLink } from './monolith-link.js';
import type { Router } from './routing/router.js';

// The owner guard of link dispatch: a monolith may only address connections routed to it. Two
// links, one connection routed through each; every per-connection frame from the wrong link must
// have no effect. Sessions and sockets are fakes recording what dispatch asks of them.

interface FakeWs {
  subscribed: string[];
  unsubscribed: string[];
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
}
const fakeWs = (): FakeWs => {
  const ws: FakeWs = {
    subscribed: [],
    unsubscribed: [],
    subscribe: (t) => (ws.subscribed.push(t), true),
    unsubscribe: (t) => (ws.unsubscribed.push(t), true),
  };
  return ws;
};

function setup() {
  const m1 = { monolithId: 'm1' } as MonolithLink;
  const m2 = { monolithId: 'm2' } as MonolithLink;
  const sockets = { c1: fakeWs(), c2: fakeWs() };
  const session = (id: 'c1' | 'c2', link: MonolithLink) => ({ id, link, ws: sockets[id] }) as unknown as Session;
  const all = new Map<string, Session>([
    ['c1', session('c1', m1)],
    ['c2', session('c2', m2)],
  ]);
  const delivered: string[] = [];
  const kicked: string[] = [];
  /** Each corked write: the connection and how many messages it held. */
  const corked: string[] = [];
  const sessions = {
    all,
    send: (s: Session, text: string) => void delivered.push(`${s.id} ${text}`),
    sendMany: (s: Session, texts: string[]) => {
      corked.push(`${s.id} x${texts.length}`);
      for (const t of texts) delivered.push(`${s.id} ${t}`);
    },
    kick: (s: Session, code: number, reason: string) => void kicked.push(`${s.id} ${code} ${reason}`),
  } as unknown as Sessions;
  const published: string[] = [];
  // Two native subscribers per topic; architus-dialect ones only where a test adds them.
  const dialectSubscribers = new Map<string, number>();
  const fanout: Fanout = { numSubscribers: (topic) => (topic.startsWith('a|') ? (dialectSubscribers.get(topic) ?? 0) : 2), publish: (topic, message) => (published.push(`${topic} ${message}`), true) };
  const framesOut = { value: 0 };
  const noop = (): void => {};
  const log: Log = { debug: noop, info: noop, warn: noop, error: noop };
  const dispatch = createLinkDispatch({ sessions, router: {} as Router, fanout, framesOut, log });
  return { m1, m2, sockets, delivered, corked, kicked, published, framesOut, dispatch, all, dialectSubscribers };
}

describe('link dispatch owner guard', () => {
  it('delivers a unicast only for a connection routed to the sending monolith', () => {
    const t = setup();
    t.dispatch(t.m1, { type: 'unicast', room: 'r', id: 'c1' }, '{"n":1}');
    t.dispatch(t.m1, { type: 'unicast', room: 'r', id: 'c2' }, '{"n":2}');
    t.dispatch(t.m1, { type: 'unicast', room: 'r', id: 'nobody' }, '{"n":3}');
    t.dispatch(t.m2, { type: 'unicast', room: 'r', id: 'c2' }, '{"n":4}');
    t.dispatch.end();
    expect(t.delivered).toEqual(['c1 {"n":1}', 'c2 {"n":4}']);
    expect(t.framesOut.value).toBe(2);
  });

  it('does not deliver to a connection that has moved to another monolith since', () => {
    const t = setup();
    (t.all.get('c1') as { link: MonolithLink }).link = t.m2;
    t.dispatch(t.m1, { type: 'unicast', room: 'r', id: 'c1' }, '{"n":1}');
    t.dispatch.end();
    expect(t.delivered).toEqual([]);
  });

  it("subscribes and unsubscribes only its own connections, and only to its own channels' topics", () => {
    const t = setup();
    const heads: M2BHead[] = [
      { type: 'subscribe', id: 'c1', channel: 'guild:1' },
      { type: 'subscribe', id: 'c2', channel: 'guild:1' },
      { type: 'unsubscribe', id: 'c1', channel: 'guild:1' },
      { type: 'unsubscribe', id: 'c2', channel: 'guild:2' },
    ];
    for (const head of heads) t.dispatch(t.m1, head, undefined);
    expect(t.sockets.c1).toMatchObject({ subscribed: ['m1/guild:1'], unsubscribed: ['m1/guild:1'] });
    expect(t.sockets.c2).toMatchObject({ subscribed: [], unsubscribed: [] });
  });

  it('kicks only its own connections, with the code and reason it sent', () => {
    const t = setup();
    t.dispatch(t.m1, { type: 'kick', id: 'c2', code: CloseCode.TOKEN_INVALID, reason: CloseReason.TOKEN_INVALID }, undefined);
    t.dispatch(t.m1, { type: 'kick', id: 'c1', code: CloseCode.FORBIDDEN_ROOM, reason: CloseReason.FORBIDDEN_ROOM }, undefined);
    expect(t.kicked).toEqual([`c1 ${CloseCode.FORBIDDEN_ROOM} ${CloseReason.FORBIDDEN_ROOM}`]);
  });

  it("publishes a monolith's broadcast and publish only under its own topic prefix", () => {
    const t = setup();
    t.dispatch(t.m2, { type: 'publish', channel: 'guild:1' }, '{"p":1}');
    t.dispatch(t.m2, { type: 'broadcast', room: 'lobby' }, '{"p":2}');
    t.dispatch(t.m2, { type: 'publish', channel: 'guild:1' }, undefined);
    expect(t.published).toEqual(['m2/guild:1 {"p":1}', 'm2/room:lobby {"p":2}']);
    expect(t.framesOut.value).toBe(4);
  });

  it('subscribes architus-dialect connections to the dialect topic, and publishes to it mapped, once', () => {
    const t = setup();
    (t.all.get('c1') as { architus: boolean }).architus = true;
    t.dispatch(t.m1, { type: 'subscribe', id: 'c1', channel: 'guild:1' }, undefined);
    t.dispatch(t.m1, { type: 'unsubscribe', id: 'c1', channel: 'guild:1' }, undefined);
    expect(t.sockets.c1).toMatchObject({ subscribed: ['a|m1/guild:1'], unsubscribed: ['a|m1/guild:1'] });
    t.dialectSubscribers.set('a|m1/guild:1', 3);
    t.dispatch(t.m1, { type: 'publish', channel: 'guild:1' }, '{"event":"log_other","data":{"id":"1"}}');
    expect(t.published).toEqual(['m1/guild:1 {"event":"log_other","data":{"id":"1"}}', 'a|m1/guild:1 {"id":"1","_event":"log_other"}']);
    expect(t.framesOut.value).toBe(5);
  });
});

describe('link dispatch unicast runs', () => {
  it('sends consecutive unicasts to one connection as one corked write, in order, and keeps the order with every other frame', () => {
    const t = setup();
    (t.all.get('c2') as { link: MonolithLink }).link = t.m1;
    const u = (id: string, n: number) => t.dispatch(t.m1, { type: 'unicast', room: 'r', id }, `{"n":${n}}`);
    u('c1', 1);
    u('c1', 2);
    u('c1', 3);
    u('c2', 4); // another connection: the run of c1 leaves first
    t.dispatch(t.m1, { type: 'publish', channel: 'guild:1' }, '{"p":5}'); // any other frame: c2's run leaves first
    u('c1', 6);
    u('c1', 7);
    expect(t.delivered).toEqual(['c1 {"n":1}', 'c1 {"n":2}', 'c1 {"n":3}', 'c2 {"n":4}']);
    t.dispatch.end(); // the link message ended
    expect(t.delivered).toEqual(['c1 {"n":1}', 'c1 {"n":2}', 'c1 {"n":3}', 'c2 {"n":4}', 'c1 {"n":6}', 'c1 {"n":7}']);
    expect(t.published).toEqual(['m1/guild:1 {"p":5}']);
    expect(t.corked).toEqual(['c1 x3', 'c1 x2']);
    t.dispatch.end();
    expect(t.delivered).toHaveLength(6);
  });
});
