import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, LINK_NONCE_HEADER, LINK_PROTOCOL_VERSION, encodeWithMessage } from '@gateway/protocol';
import {
  LINK_SECRET,
  connect,
  rawLink,
  startBalancer,
  startMonolith,
  useHarness,
  userToken,
  waitFor,
} from '../harness/index.js';
import { readyOf } from '../harness/gateway-http.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(toStop.map((h) => h.stop()));
});

/**
 * A fake monolith that does not know LINK_SECRET: it records everything a balancer sends it
 * (upgrade headers and frames) and plays the audit's attack: a forged `init`, then an epoch-0
 * claim on alice's room, a forged `welcome` with `admin: true` and a phishing push.
 */
async function fakeMonolith(victimRoom: string) {
  const seen: string[] = [];
  const dials: string[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  wss.on('connection', (ws: WebSocket, req) => {
    dials.push(String(req.headers[LINK_NONCE_HEADER]));
    seen.push(JSON.stringify(req.headers));
    ws.on('message', (data: Buffer) => seen.push(data.toString('utf8')));
    ws.send(JSON.stringify({ type: 'init', id: 'fake', port: 1, nonce: 'f'.repeat(24), token: 'x'.repeat(43), version: LINK_PROTOCOL_VERSION }));
    ws.send(JSON.stringify({ type: 'loaded', room: victimRoom, epoch: 1 }));
    ws.send(JSON.stringify({ type: 'gossip', rooms: [{ room: victimRoom, epoch: 0 }] }));
  });
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `127.0.0.1:${port}`,
    seen,
    dials,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

describe('a fake monolith that does not know LINK_SECRET', () => {
  it('is never linked, receives nothing secret-bearing, and cannot take alice over', async () => {
    const monolith = await startMonolith();
    const fake = await fakeMonolith('user:alice');
    toStop.push(monolith, { stop: fake.close });
    const balancer = await startBalancer({ monoliths: [monolith, fake.address], waitForMonoliths: 1 });
    toStop.push(balancer);
    const token = await userToken({ sub: 'alice' });
    const alice = await connect(balancer.url());
    expect((await alice.auth(token)).data.monolith).toBe(monolith.id);
    // The balancer keeps dialing the fake (fresh nonce each time) and keeps refusing it.
    await waitFor(() => fake.dials.length >= 3, { what: 'three dials of the fake monolith', timeoutMs: 20_000 });
    expect(new Set(fake.dials).size).toBe(fake.dials.length);
    expect((await readyOf(balancer.http)).body).toMatchObject({ monoliths: 1 });
    expect(balancer.proc.output('stderr')).toMatch(/failed link authentication.*wrong proof/);
    // Nothing the fake received carries the link secret, alice's token, or any envelope.
    const everything = fake.seen.join('\n');
    expect(everything).not.toContain(LINK_SECRET);
    expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/"type":"(hello|join|message)"/);
    // Alice is still served by the real monolith, with her real identity.
    expect(await alice.request('ping', 7)).toMatchObject({ event: 'pong', _id: 7 });
    expect(alice.received.filter((m) => m.event === 'welcome')).toHaveLength(1);
    expect(alice.received.some((m) => (m.data as { permissions?: { admin?: boolean } } | undefined)?.permissions?.admin === true)).toBe(false);
  });
});

describe('a peer dialing a monolith', () => {
  it('without the secret gets init and a 4190 close, never gossip, and counts as refused', async () => {
    const monolith = await startMonolith();
    toStop.push(monolith);
    const link = await rawLink(monolith.linkAddress, { secret: 'not-the-link-secret-0123456789' });
    expect(link.init).toMatchObject({ type: 'init', id: monolith.id, version: LINK_PROTOCOL_VERSION });
    expect(await link.closed()).toBe(CloseCode.LINK_AUTH_FAILED);
    expect(link.frames).toEqual([]);
    expect(await monolith.metric('gateway_monolith_link_rejected_total')).toBe(1);
    expect(await monolith.metric('gateway_monolith_links')).toBe(0);
  });

  it('cannot replay a proof recorded from another link (the monolith nonce differs)', async () => {
    const monolith = await startMonolith();
    toStop.push(monolith);
    const good = await rawLink(monolith.linkAddress, { balancerId: 'recorded' });
    await waitFor(() => good.frames.some((f) => f.type === 'gossip'), { what: 'gossip on the genuine link' });
    // An attacker who saw the genuine hello replays it, with the same balancer id, on a new link.
    const second = await rawLink(monolith.linkAddress, { balancerId: 'recorded', proof: () => good.helloToken });
    expect(await second.closed()).toBe(CloseCode.LINK_AUTH_FAILED);
    expect(second.frames).toEqual([]);
    good.ws.terminate();
  });

  it('with the secret is linked, but a join carrying an unsigned alg:none token is refused', async () => {
    const monolith = await startMonolith();
    toStop.push(monolith);
    const link = await rawLink(monolith.linkAddress);
    await waitFor(() => link.frames.some((f) => f.type === 'gossip'), { what: 'gossip after a valid hello' });
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', admin: true, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
    const forged = `${header}.${payload}.`;
    link.send({ type: 'join', token: forged, room: 'user:alice', id: 'evil.1' });
    await waitFor(() => link.frames.some((f) => f.type === 'kick' && f.id === 'evil.1'), { what: 'a kick for the forged join' });
    // Refused by the same verifier as the balancer's: alg none is an algorithm refusal.
    expect(link.frames.find((f) => f.type === 'kick')).toMatchObject({ code: CloseCode.TOKEN_ALGORITHM });
    expect(link.frames.some((f) => f.type === 'unicast')).toBe(false);
    // A message for a connection that never joined acts as nobody: whatever token it carries
    // (link protocol 3 envelopes have none), it is answered unavailable and handled by no event.
    link.ws.send(encodeWithMessage({ type: 'message', token: forged, room: 'user:alice', id: 'evil.2' }, '{"event":"ping","_id":1}'));
    await waitFor(() => link.frames.some((f) => f.type === 'unicast' && f.id === 'evil.2'), { what: 'the answer to the message' });
    expect(link.frames.filter((f) => f.type === 'unicast')).toEqual([{ type: 'unicast', room: '-', id: 'evil.2', message: expect.objectContaining({ event: 'error', _id: 1, code: 'unavailable' }) }]);
    expect(await monolith.metric('gateway_monolith_connections')).toBe(0);
  });
});
