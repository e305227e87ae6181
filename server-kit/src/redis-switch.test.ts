import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectedTo } from './redis-switch.js';

const socket = (remoteAddress: string, remotePort: number) => ({ remoteAddress, remotePort }) as Socket;

describe('connectedTo (is the connection on the primary a sentinel announced?)', () => {
  it('compares an announced IP and port with the socket', async () => {
    expect(await connectedTo(socket('127.0.0.1', 6380), '127.0.0.1', 6380)).toBe(true);
    expect(await connectedTo(socket('127.0.0.1', 6380), '127.0.0.1', 6381)).toBe(false);
    expect(await connectedTo(socket('127.0.0.2', 6380), '127.0.0.1', 6380)).toBe(false);
    expect(await connectedTo(undefined, '127.0.0.1', 6380)).toBe(false);
  });

  it('resolves an announced host name first (sentinels with announce-hostnames)', async () => {
    expect(await connectedTo(socket('127.0.0.1', 6380), 'localhost', 6380)).toBe(true);
    expect(await connectedTo(socket('10.255.255.1', 6380), 'localhost', 6380)).toBe(false);
    // A name that does not resolve is not the connection's primary: it moves.
    expect(await connectedTo(socket('127.0.0.1', 6380), 'no-such-host.invalid', 6380)).toBe(false);
  });
});
