import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from './config-schema.js';
import { bindFailure, listenAs, listenProblem, type ListenAt } from './listen.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A plain server on a free loopback port; resolves with the port. */
function holdPort(): Promise<number> {
  const server = createServer();
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

const at = (host: string, port: number): ListenAt => ({ hostVar: 'APP_HOST', host, portVar: 'APP_PORT', port });

describe('listenAs', () => {
  it('turns a port in use into a ConfigError naming the port variable', async () => {
    const port = await holdPort();
    const second = createServer();
    servers.push(second);
    const error = await listenAs(at('127.0.0.1', port), () => listen(second, '127.0.0.1', port)).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([`APP_PORT ${port} is already in use on 127.0.0.1 (APP_HOST): another process listens there; stop it or choose another port`]);
  });

  it('names the host variable for an address this machine does not have', async () => {
    const server = createServer();
    servers.push(server);
    // TEST-NET-1 (RFC 5737): never assigned to a machine.
    const error = await listenAs(at('192.0.2.1', 0), () => listen(server, '192.0.2.1', 0)).catch((err: unknown) => err);
    expect((error as ConfigError).problems).toEqual(['APP_HOST 192.0.2.1 is not an address of this machine']);
  });

  it('rethrows what is not the operator\'s to fix', async () => {
    const bug = new Error('a bug');
    await expect(listenAs(at('127.0.0.1', 0), () => Promise.reject(bug))).rejects.toBe(bug);
  });
});

describe('bindFailure', () => {
  it('says EADDRINUSE for a held port and nothing for a free one, which it leaves free', async () => {
    const port = await holdPort();
    expect(await bindFailure('127.0.0.1', port)).toBe('EADDRINUSE');
    const free = await holdPort();
    await new Promise((resolve) => servers.pop()!.close(resolve));
    expect(await bindFailure('127.0.0.1', free)).toBeUndefined();
    expect(await bindFailure('127.0.0.1', free)).toBeUndefined();
  });
});

describe('listenProblem', () => {
  it.each([
    ['EACCES', 'APP_PORT 80 cannot be bound by this user (ports below 1024 need privileges)'],
    ['ENOTFOUND', 'APP_HOST gw.invalid does not resolve to an address (ENOTFOUND)'],
    ['EPERM', 'APP_PORT 80 on gw.invalid (APP_HOST) cannot be bound: EPERM'],
  ])('%s', (code, line) => {
    expect(listenProblem(at('gw.invalid', 80), code)).toBe(line);
  });
});
