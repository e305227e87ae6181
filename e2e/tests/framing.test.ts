import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { connect, startStack, useHarness, userToken, type BalancerHandle, type Stack, type TestClient } from '../harness/index.js';

useHarness();

let stack: Stack;
let balancer: BalancerHandle;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1, balancerEnv: { MAX_PAYLOAD_BYTES: '1024' } });
  balancer = stack.balancers[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

async function authed(sub: string): Promise<TestClient> {
  const c = await connect(balancer.url());
  await c.auth(await userToken({ sub }));
  return c;
}

/** Opens a socket, sends `frame` as its first frame and returns the close code. */
async function firstFrameClose(frame: string): Promise<number> {
  const c = await connect(balancer.url());
  c.send(frame);
  return (await c.closed()).code;
}

describe('bad frames before auth', () => {
  it.each([
    ['malformed JSON', '{"action":"auth",'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"x"'],
    ['JSON null', 'null'],
    ['a JSON number', '42'],
  ])('closes on %s with 4107', async (_name, frame) => {
    expect(await firstFrameClose(frame)).toBe(CloseCode.MALFORMED_FRAME);
  });

  it('closes on a binary frame, even one holding a valid auth frame, with 4107', async () => {
    const c = await connect(balancer.url());
    c.sendBinary(Buffer.from(JSON.stringify({ action: 'auth', token: await userToken() })));
    expect((await c.closed()).code).toBe(CloseCode.MALFORMED_FRAME);
    expect(c.received).toEqual([]);
  });

  it('closes on a frame over MAX_PAYLOAD_BYTES with 4108', async () => {
    const frame = JSON.stringify({ action: 'auth', token: 'x'.repeat(2000) });
    expect(await firstFrameClose(frame)).toBe(CloseCode.MESSAGE_TOO_LARGE);
  });

  it.each([
    ['objects', '{"a":'.repeat(40) + '1' + '}'.repeat(40)],
    ['arrays', '['.repeat(40) + ']'.repeat(40)],
  ])('closes on an auth frame nesting %s past MAX_JSON_DEPTH (32) with 4112', async (_name, nested) => {
    expect(await firstFrameClose(`{"action":"auth","token":"t","room":${nested}}`)).toBe(CloseCode.TOO_DEEP);
  });
});

describe('bad frames after auth', () => {
  it.each([
    ['malformed JSON', '{"event":"ping",'],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"x"'],
  ])('closes on %s with 4107', async (_name, frame) => {
    const c = await authed('framing-a');
    c.send(frame);
    expect((await c.closed()).code).toBe(CloseCode.MALFORMED_FRAME);
  });

  it('closes on a binary frame with 4107', async () => {
    const c = await authed('framing-b');
    c.sendBinary(Buffer.from(JSON.stringify({ event: 'ping', _id: 1 })));
    expect((await c.closed()).code).toBe(CloseCode.MALFORMED_FRAME);
    expect(c.pending()).toEqual([]);
  });

  it('closes on a 2000-byte frame with 4108 when MAX_PAYLOAD_BYTES is 1024', async () => {
    const c = await authed('framing-c');
    c.send(JSON.stringify({ event: 'ping', _id: 1, data: { pad: 'p'.repeat(2000) } }));
    expect((await c.closed()).code).toBe(CloseCode.MESSAGE_TOO_LARGE);
    expect(c.pending()).toEqual([]);
  });

  it('closes on a frame far over MAX_PAYLOAD_BYTES (64 KiB) with 4108, not an abrupt 1006', async () => {
    // 1006 is a reconnect code: a client would reconnect and resend the same frame forever.
    const c = await authed('framing-f');
    c.send(JSON.stringify({ event: 'ping', _id: 1, data: { pad: 'p'.repeat(64 * 1024) } }));
    expect((await c.closed()).code).toBe(CloseCode.MESSAGE_TOO_LARGE);
  });

  it('closes on a frame nested past MAX_JSON_DEPTH with 4112 and forwards one at the limit', async () => {
    const c = await authed('framing-g');
    // The frame is depth 1, so 31 nested arrays in `data` make exactly 32.
    const atLimit = JSON.parse('['.repeat(31) + ']'.repeat(31)) as unknown;
    expect(await c.request('ping', 1, atLimit)).toEqual({ event: 'pong', _id: 1, data: atLimit });
    c.send(`{"event":"ping","_id":2,"data":${'['.repeat(32)}${']'.repeat(32)}}`);
    expect((await c.closed()).code).toBe(CloseCode.TOO_DEEP);
    expect(c.pending()).toEqual([]);
  });

  it('forwards a frame just under MAX_PAYLOAD_BYTES', async () => {
    const c = await authed('framing-d');
    const data = { pad: 'p'.repeat(900) };
    expect(await c.request('ping', 2, data)).toEqual({ event: 'pong', _id: 2, data });
    c.close();
  });

  it('answers a JSON object that is not a valid message with bad_request and keeps the session', async () => {
    const c = await authed('framing-e');
    c.send({ _id: 3, data: 1 });
    expect(await c.next((m) => m._id === 3)).toMatchObject({ event: 'error', code: 'bad_request' });
    expect(await c.request('ping', 4)).toMatchObject({ event: 'pong', _id: 4 });
    c.close();
  });
});

describe('envelope injection', () => {
  it('keeps envelope fields sent by a client inside its own message', async () => {
    const victim = await connect(balancer.url());
    const victimWelcome = await victim.auth(await userToken({ sub: 'victim' }));
    const attacker = await authed('attacker');

    attacker.send(
      JSON.stringify({ event: 'ping', _id: 1, id: victimWelcome.data.id, room: 'user:victim', token: 'x', type: 'join' }),
    );
    // The reply is the attacker's own pong: the extra fields were message content, not envelope.
    expect(await attacker.next((m) => m._id === 1)).toEqual({ event: 'pong', _id: 1 });
    // One balancer, one monolith: the victim's own round trip on the same link comes after
    // anything the injection could have caused, so an empty mailbox before its pong is proof.
    expect(await victim.request('ping', 'v1')).toEqual({ event: 'pong', _id: 'v1' });
    expect(victim.received.map((m) => m.event)).toEqual(['welcome', 'pong']);
    expect(await attacker.request('ping', 5)).toEqual({ event: 'pong', _id: 5 });
    attacker.close();
    victim.close();
  });

  it('refuses text crafted to break out of the splice as malformed JSON (4107)', async () => {
    const victim = await connect(balancer.url());
    const victimWelcome = await victim.auth(await userToken({ sub: 'victim2' }));
    const attacker = await authed('attacker2');

    attacker.send(`{"event":"ping","_id":2}},"id":"${victimWelcome.data.id}`);
    expect((await attacker.closed()).code).toBe(CloseCode.MALFORMED_FRAME);
    expect(attacker.pending()).toEqual([]);
    expect(await victim.request('ping', 'v2')).toEqual({ event: 'pong', _id: 'v2' });
    expect(victim.received.map((m) => m.event)).toEqual(['welcome', 'pong']);
    victim.close();
  });

  it.each([
    ['a second top-level value', '{"event":"ping","_id":3} {"event":"ping","_id":4}'],
    ['a closing brace too many', '{"event":"ping","_id":3}}'],
    ['an unterminated string', '{"event":"ping","_id":3,"data":"'],
  ])('refuses %s with 4107', async (_name, frame) => {
    const c = await authed('attacker3');
    c.send(frame);
    expect((await c.closed()).code).toBe(CloseCode.MALFORMED_FRAME);
    expect(c.pending()).toEqual([]);
  });
});
