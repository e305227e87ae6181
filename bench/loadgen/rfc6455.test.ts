import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
// @ts-expect-error plain .mjs load generator without type declarations
import { FrameParser, openWebSocket } from './rfc6455.mjs';

type Client = {
  sendText(text: string): void;
  cork(): void;
  uncork(): void;
  close(code?: number): void;
  destroy(): void;
};

let wss: WebSocketServer;
let port: number;
let lastHeaders: Record<string, string | string[] | undefined> = {};
const serverSockets: WebSocket[] = [];

beforeAll(async () => {
  wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info, done) => done(info.req.url !== '/refuse', 403),
  });
  await once(wss, 'listening');
  port = (wss.address() as AddressInfo).port;
  wss.on('connection', (ws, req) => {
    lastHeaders = req.headers;
    serverSockets.push(ws);
    // Echo server: text back as text; 'burst:N' answers N frames in one write.
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      if (isBinary) return;
      if (text.startsWith('burst:')) {
        const n = Number(text.slice(6));
        for (let i = 0; i < n; i++) ws.send(`m${i}`);
      } else if (text === 'fragments') {
        ws.send('ab', { fin: false });
        ws.ping('between');
        ws.send('cd', { fin: false });
        ws.send('ef', { fin: true });
      } else if (text.startsWith('close:')) {
        ws.close(Number(text.slice(6)), 'bye');
      } else if (text === 'ping') {
        ws.ping('hello');
      } else {
        ws.send(text);
      }
    });
  });
});

afterAll(async () => {
  for (const ws of serverSockets) ws.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

function open(path = '/ws', headers?: Record<string, string>) {
  const texts: string[] = [];
  const waiters: Array<() => void> = [];
  let closed: { code: number; reason: string } | undefined;
  const client = openWebSocket(
    { host: '127.0.0.1', port, path, headers, timeoutMs: 2000 },
    {
      onText: (text: string) => {
        texts.push(text);
        for (const w of waiters.splice(0)) w();
      },
      onClose: (code: number, reason: string) => {
        closed = { code, reason };
        for (const w of waiters.splice(0)) w();
      },
    },
  ) as Promise<Client>;
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 2000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${texts.length} texts`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return { client, texts, until, closed: () => closed };
}

describe('rfc6455 client against a ws server', () => {
  it('sends masked text frames of every length class and reads the echoes', async () => {
    const { client, texts, until } = open();
    const c = await client;
    const sizes = [0, 1, 2, 3, 4, 5, 125, 126, 127, 65535, 65536, 200_000];
    // Exact byte lengths around the 7-bit, 16-bit and 64-bit length encodings, plus multi-byte UTF-8.
    const payloads = [...sizes.map((n) => 'x'.repeat(n)), 'é'.repeat(63), 'héllo ✓ 👋'];
    c.cork();
    for (const p of payloads) c.sendText(p);
    c.uncork();
    await until(() => texts.length === payloads.length);
    expect(texts).toEqual(payloads);
    c.close();
  });

  it('parses many frames arriving in one chunk', async () => {
    const { client, texts, until } = open();
    const c = await client;
    c.sendText('burst:500');
    await until(() => texts.length === 500);
    expect(texts[0]).toBe('m0');
    expect(texts[499]).toBe('m499');
    c.destroy();
  });

  it('joins fragmented text across an interleaved ping and answers the ping', async () => {
    const { client, texts, until } = open();
    const c = await client;
    const pong = once(serverSockets.at(-1)!, 'pong');
    c.sendText('fragments');
    await until(() => texts.length === 1);
    expect(texts).toEqual(['abcdef']);
    expect(String((await pong)[0])).toBe('between');
    c.destroy();
  });

  it('answers a server ping with a pong carrying its payload', async () => {
    const { client } = open();
    const c = await client;
    const pong = once(serverSockets.at(-1)!, 'pong');
    c.sendText('ping');
    expect(String((await pong)[0])).toBe('hello');
    c.destroy();
  });

  it('reports the server close code and reason', async () => {
    const { client, until, closed } = open();
    const c = await client;
    c.sendText('close:4001');
    await until(() => closed() !== undefined);
    expect(closed()).toEqual({ code: 4001, reason: 'bye' });
  });

  it('reports 1006 when the TCP connection drops without a close frame', async () => {
    const { client, until, closed } = open();
    await client;
    serverSockets.at(-1)!.terminate();
    await until(() => closed() !== undefined);
    expect(closed()?.code).toBe(1006);
  });

  it('sends extra upgrade headers and rejects a refused upgrade', async () => {
    const { client } = open('/ws', { authorization: 'Bearer x', 'x-link-nonce': 'n0nce' });
    (await client).destroy();
    expect(lastHeaders.authorization).toBe('Bearer x');
    expect(lastHeaders['x-link-nonce']).toBe('n0nce');
    await expect(open('/refuse').client).rejects.toThrow(/upgrade refused: HTTP\/1.1 403/);
  });
});

describe('FrameParser', () => {
  it('gives the same frames for every split of the byte stream', () => {
    const frame = (text: string) => {
      const body = Buffer.from(text);
      const len = body.length;
      const head = len < 126 ? Buffer.from([0x81, len]) : Buffer.from([0x81, 126, len >> 8, len & 0xff]);
      return Buffer.concat([head, body]);
    };
    const texts = ['a', '', 'x'.repeat(300), 'hello world'];
    const stream = Buffer.concat(texts.map(frame));
    for (let a = 0; a <= stream.length; a++) {
      for (const b of [a, Math.min(stream.length, a + 1), Math.min(stream.length, a + 7)]) {
        const got: string[] = [];
        const p = new FrameParser((_fin: boolean, _op: number, buf: Buffer, s: number, e: number) =>
          got.push(buf.toString('utf8', s, e)),
        );
        p.push(stream.subarray(0, a));
        p.push(stream.subarray(a, b));
        p.push(stream.subarray(b));
        expect(got).toEqual(texts);
      }
    }
  });
});
