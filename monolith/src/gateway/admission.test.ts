import { describe, expect, it } from 'vitest';
import { ANONYMOUS_TOKEN, CloseCode, CloseReason, type MessageFrame, type TokenClaims } from '@gateway/protocol';
import type { Log, VerifyResult } from '@gateway/server-kit';
import type { LinkPeer } from '../rooms/links.js';
import { Rooms, type Conn } from '../rooms/rooms.js';
import { Admission } from './admission.js';
import { Gateway } from './gateway.js';

// Admission with real Rooms and Gateway, a fake verifier whose answers the test releases one by
// one (so "while verifying" is a state the test holds, not a race), and a fake link peer.

type Frame = Record<string, unknown> & { type: string };

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** Lets every settled promise's continuations run (verify → consume → admitted → replay). */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const ok = (subject: string, claims: Partial<TokenClaims> = {}, guest = false): VerifyResult => ({
  ok: true,
  claims: { sub: subject, ...claims } as Extract<VerifyResult, { ok: true }>['claims'],
  subject,
  guest,
  expMs: Date.now() + 3_600_000,
});

function setup() {
  const sent: Frame[] = [];
  const peer: LinkPeer = {
    id: 'b1',
    send: (frame) => {
      // Link frames with a client message carry it last, as raw JSON (encodeWithMessage).
      sent.push(JSON.parse(frame) as Frame);
    },
  };
  const rooms = new Rooms({ ownership: { loaded() {}, unloaded() {} }, streams: { acquire() {}, release() {} }, graceMs: 0 });
  const noop = (): void => {};
  const logged: { msg: string; fields: Record<string, unknown> | undefined }[] = [];
  const log: Log = { debug: noop, error: noop, info: (msg, fields) => void logged.push({ msg, fields }), warn: (msg, fields) => void logged.push({ msg, fields }) };
  const gateway = new Gateway(rooms, log, { maxDepth: 32 });
  gateway.on('say', (ctx, data) => ctx.reply('said', data));

  const verifications = new Map<string, Deferred<VerifyResult>>();
  const consumed = new Set<string>();
  let consumeFails = false;
  const admittedCalls: { conn: Conn; rejoin: boolean }[] = [];
  let admittedGate: Deferred<void> | undefined;
  const admission = new Admission({
    rooms,
    gateway,
    monolithId: 'm1',
    verify: (token) => {
      const d = deferred<VerifyResult>();
      verifications.set(token, d);
      return d.promise;
    },
    consumeOnce: async (key) => {
      if (consumeFails) throw new Error('store down');
      if (consumed.has(key)) return false;
      consumed.add(key);
      return true;
    },
    admitted: async (conn, _since, rejoin, greet) => {
      admittedCalls.push({ conn, rejoin });
      rooms.unicast(conn, greet({}));
      await admittedGate?.promise;
    },
    log,
  });
  const verifyAs = async (token: string, result: VerifyResult): Promise<void> => {
    const d = verifications.get(token);
    if (!d) throw new Error(`no verification pending for ${token}`);
    d.resolve(result);
    await flush();
  };
  const say = (id: string, n: number): MessageFrame => ({ type: 'message', id, message: { event: 'say', _id: n, data: n } });
  /** The client messages unicast to `id`, as their events and `_id`s. */
  const toClient = (id: string) =>
    sent.filter((f) => f.type === 'unicast' && f.id === id).map((f) => {
      const m = f.message as { event: string; _id?: unknown };
      return m.event === 'said' ? `said ${String(m._id)}` : m.event;
    });
  return {
    admission, rooms, peer, sent, logged, verifications, verifyAs, say, toClient, admittedCalls, consumed,
    setConsumeFails: (v: boolean) => (consumeFails = v),
    holdAdmitted: () => (admittedGate = deferred<void>()),
    releaseAdmitted: async () => {
      admittedGate?.resolve();
      await flush();
    },
  };
}

const kicks = (sent: Frame[]) => sent.filter((f) => f.type === 'kick');

describe('Admission join', () => {
  it('admits once the token verifies: the room gains the connection with the verified identity and a welcome goes out', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false, 7);
    expect(t.rooms.get('c1')).toBeUndefined();
    await t.verifyAs('tok-a', ok('alice', { name: 'Alice', guilds: { '123456789012345678': 1 } }));
    const conn = t.rooms.get('c1');
    expect(conn).toMatchObject({ room: 'lobby', subject: 'alice', guest: false, claims: { name: 'Alice' } });
    const welcome = t.sent.find((f) => f.type === 'unicast')!.message as { event: string; _id: number; data: Record<string, unknown> };
    expect(welcome).toMatchObject({ event: 'welcome', _id: 7, data: { id: 'c1', room: 'lobby', monolith: 'm1', user: { id: 'alice', name: 'Alice', guest: false } } });
    expect(kicks(t.sent)).toEqual([]);
  });

  it('queues messages while verifying and handles them in arrival order after the welcome', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false);
    for (const n of [1, 2, 3]) t.admission.message(t.peer, t.say('c1', n));
    expect(t.toClient('c1')).toEqual([]);
    await t.verifyAs('tok-a', ok('alice'));
    expect(t.toClient('c1')).toEqual(['welcome', 'said 1', 'said 2', 'said 3']);
    // After admission a message goes straight to the gateway.
    t.admission.message(t.peer, t.say('c1', 4));
    expect(t.toClient('c1')).toEqual(['welcome', 'said 1', 'said 2', 'said 3', 'said 4']);
  });

  it('keeps frames waiting until the welcome and session replay are out (admitted resolved)', async () => {
    const t = setup();
    t.holdAdmitted();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false);
    t.admission.message(t.peer, t.say('c1', 1));
    await t.verifyAs('tok-a', ok('alice'));
    // Admitted (welcome sent) but the replay is still running: the message still waits,
    // and one arriving now queues behind it.
    t.admission.message(t.peer, t.say('c1', 2));
    expect(t.toClient('c1')).toEqual(['welcome']);
    await t.releaseAdmitted();
    expect(t.toClient('c1')).toEqual(['welcome', 'said 1', 'said 2']);
  });

  it.each([
    ['invalid', 'TOKEN_INVALID'],
    ['expired', 'TOKEN_EXPIRED'],
    ['not_yet_valid', 'TOKEN_NOT_YET_VALID'],
    ['algorithm', 'TOKEN_ALGORITHM'],
    ['claims', 'TOKEN_CLAIMS'],
  ] as const)('kicks a join whose token fails as %s with %s and drops what waited', async (reason, name) => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'bad', false);
    t.admission.message(t.peer, t.say('c1', 1));
    await t.verifyAs('bad', { ok: false, reason, detail: 'x' });
    expect(t.sent).toEqual([{ type: 'kick', id: 'c1', code: CloseCode[name], reason: CloseReason[name] }]);
    expect(t.rooms.get('c1')).toBeUndefined();
    expect(t.admittedCalls).toEqual([]);
  });

  it("kicks FORBIDDEN_ROOM for another subject's private room, and for a subject that forms no valid room", async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'user:bob', 'tok-a', false);
    await t.verifyAs('tok-a', ok('alice'));
    t.admission.join(t.peer, 'c2', 'lobby', 'tok-b', false);
    await t.verifyAs('tok-b', ok('../etc'));
    t.admission.join(t.peer, 'c3', 'user:alice', 'tok-c', false);
    await t.verifyAs('tok-c', ok('alice'));
    expect(kicks(t.sent)).toEqual([
      { type: 'kick', id: 'c1', code: CloseCode.FORBIDDEN_ROOM, reason: CloseReason.FORBIDDEN_ROOM },
      { type: 'kick', id: 'c2', code: CloseCode.FORBIDDEN_ROOM, reason: CloseReason.FORBIDDEN_ROOM },
    ]);
    expect(t.rooms.get('c3')?.room).toBe('user:alice');
  });

  it('a second join for the same id voids the first: the first verification is ignored when it lands', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-old', false);
    t.admission.message(t.peer, t.say('c1', 1));
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-new', false);
    await t.verifyAs('tok-old', { ok: false, reason: 'invalid', detail: 'x' });
    expect(kicks(t.sent)).toEqual([]);
    await t.verifyAs('tok-new', ok('alice'));
    expect(t.toClient('c1')).toEqual(['welcome']);
  });

  it('a leave while verifying cancels the admission', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false);
    t.admission.leave('c1');
    await t.verifyAs('tok-a', ok('alice'));
    expect(t.rooms.get('c1')).toBeUndefined();
    expect(t.sent).toEqual([]);
  });
});

describe('Admission of tokenless guests (ANONYMOUS_TOKEN, architus dialect)', () => {
  it('admits each connection as a guest of its own without verifying anything, and only into its own room', async () => {
    const t = setup();
    t.admission.join(t.peer, 'b.x.1', 'guest:anon.b.x.1', ANONYMOUS_TOKEN, false);
    t.admission.join(t.peer, 'b.x.2', 'lobby', ANONYMOUS_TOKEN, false);
    t.admission.join(t.peer, 'b.x.3', 'guest:anon.b.x.1', ANONYMOUS_TOKEN, false);
    await flush();
    expect(t.verifications.size).toBe(0);
    expect(t.rooms.get('b.x.1')).toMatchObject({ subject: 'anon.b.x.1', guest: true, claims: { guest: true } });
    expect(t.rooms.get('b.x.1')!.claims.guilds).toBeUndefined();
    expect(t.rooms.get('b.x.2')).toMatchObject({ room: 'lobby', subject: 'anon.b.x.2' });
    // Another connection's guest room is not its own. (A link that holds LINK_SECRET can still
    // claim any connection id, and so act as that tokenless guest: README Security model.)
    expect(t.rooms.get('b.x.3')).toBeUndefined();
    expect(kicks(t.sent)).toEqual([expect.objectContaining({ id: 'b.x.3', code: CloseCode.FORBIDDEN_ROOM })]);
  });
});

describe('Admission websocket tokens (use: "ws")', () => {
  it('consumes the jti on first use and kicks a replay with TOKEN_INVALID before it is admitted', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'ws-1', false);
    await t.verifyAs('ws-1', ok('alice', { use: 'ws', jti: 'j1' }));
    expect(t.rooms.get('c1')).toBeDefined();
    expect(t.consumed).toEqual(new Set(['gw:wstoken:j1']));

    t.admission.join(t.peer, 'c2', 'lobby', 'ws-1b', false);
    await t.verifyAs('ws-1b', ok('alice', { use: 'ws', jti: 'j1' }));
    expect(t.rooms.get('c2')).toBeUndefined();
    expect(kicks(t.sent)).toEqual([{ type: 'kick', id: 'c2', code: CloseCode.TOKEN_INVALID, reason: CloseReason.TOKEN_INVALID }]);
    expect(t.toClient('c2')).toEqual([]);
  });

  it('does not consume on a rejoin after failover (the same token re-presented), and sends resync', async () => {
    const t = setup();
    t.consumed.add('gw:wstoken:j1');
    t.admission.join(t.peer, 'c1', 'lobby', 'ws-1', true);
    await t.verifyAs('ws-1', ok('alice', { use: 'ws', jti: 'j1' }));
    expect(kicks(t.sent)).toEqual([]);
    expect(t.admittedCalls.map((c) => c.rejoin)).toEqual([true]);
    expect(t.toClient('c1')).toEqual(['welcome', 'resync']);
  });

  it('fails closed: a ws token without a jti, or when the store cannot be asked, is refused', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'ws-nojti', false);
    await t.verifyAs('ws-nojti', ok('alice', { use: 'ws' }));
    t.setConsumeFails(true);
    t.admission.join(t.peer, 'c2', 'lobby', 'ws-2', false);
    await t.verifyAs('ws-2', ok('alice', { use: 'ws', jti: 'j2' }));
    expect(kicks(t.sent).map((k) => [k.id, k.code])).toEqual([
      ['c1', CloseCode.TOKEN_INVALID],
      ['c2', CloseCode.TOKEN_INVALID],
    ]);
    expect(t.logged.map((l) => l.msg)).toContain('cannot check a websocket token; refusing it');
  });
});

describe('Admission: unknown connections and refresh', () => {
  it('a message for a connection not joined here is answered unavailable (its _id echoed), nothing else happens', async () => {
    const t = setup();
    t.admission.message(t.peer, t.say('c9', 1));
    await flush();
    expect(t.verifications.size).toBe(0);
    expect(t.rooms.get('c9')).toBeUndefined();
    expect(t.sent).toEqual([{ type: 'unicast', room: '-', id: 'c9', message: expect.objectContaining({ event: 'error', _id: 1, code: 'unavailable' }) }]);
  });

  it('a token frame with a new token of the same subject holds the messages after it, then applies its claims and tells listeners', async () => {
    const t = setup();
    const changed: string[] = [];
    t.admission.onClaimsChanged((conn) => changed.push(`${conn.id} ${String(conn.claims.name)}`));
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false);
    await t.verifyAs('tok-a', ok('alice', { name: 'A' }));
    t.admission.token({ type: 'token', token: 'tok-b', room: 'lobby', id: 'c1' });
    t.admission.message(t.peer, t.say('c1', 1));
    t.admission.message(t.peer, t.say('c1', 2));
    expect(t.toClient('c1')).toEqual(['welcome']);
    await t.verifyAs('tok-b', ok('alice', { name: 'B' }));
    expect(changed).toEqual(['c1 B']);
    expect(t.rooms.get('c1')?.claims.name).toBe('B');
    expect(t.toClient('c1')).toEqual(['welcome', 'said 1', 'said 2']);
  });

  it('a refreshed token of another subject kicks TOKEN_CLAIMS; a refused one kicks with its own code', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false);
    await t.verifyAs('tok-a', ok('alice'));
    t.admission.token({ type: 'token', token: 'tok-bob', room: 'lobby', id: 'c1' });
    await t.verifyAs('tok-bob', ok('bob'));
    t.admission.join(t.peer, 'c2', 'lobby', 'tok-c', false);
    await t.verifyAs('tok-c', ok('carol'));
    t.admission.token({ type: 'token', token: 'tok-c-expired', room: 'lobby', id: 'c2' });
    await t.verifyAs('tok-c-expired', { ok: false, reason: 'expired', detail: 'x' });
    expect(kicks(t.sent).map((k) => [k.id, k.code])).toEqual([
      ['c1', CloseCode.TOKEN_CLAIMS],
      ['c2', CloseCode.TOKEN_EXPIRED],
    ]);
    expect(t.rooms.get('c1')).toBeUndefined();
    expect(t.rooms.get('c2')).toBeUndefined();
  });

  it('a token frame with the current token does not re-verify', async () => {
    const t = setup();
    t.admission.join(t.peer, 'c1', 'lobby', 'tok-a', false);
    await t.verifyAs('tok-a', ok('alice'));
    t.verifications.clear();
    t.admission.token({ type: 'token', token: 'tok-a', room: 'lobby', id: 'c1' });
    t.admission.message(t.peer, t.say('c1', 1));
    expect(t.verifications.size).toBe(0);
    expect(t.toClient('c1')).toEqual(['welcome', 'said 1']);
  });
});
