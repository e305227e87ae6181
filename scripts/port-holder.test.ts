import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeAddress, describeHolder, listeners, parseListeners, pidsHolding, probePort } from './port-holder.mjs';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4711 1 0000000084d63534 100 0 0 10 0
   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4712 1 0000000084d63534 100 0 0 10 0
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4713 1 0000000084d63534 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0BB9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4714 1 00000000e9ef45b0 100 0 0 10 0
   1: 00000000000000000000000000000000:0BB9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4715 1 00000000e9ef45b0 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:0BBA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4716 1 00000000e9ef45b0 100 0 0 10 0
`;

describe('scripts/port-holder.mjs', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('decodes the kernel hex addresses', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('00000000')).toBe('0.0.0.0');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('00000000000000000000000000000000')).toBe('::');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(decodeAddress('B80D0120000000000000000001000000')).toBe('2001:db8:0:0:0:0:0:1');
  });

  it('keeps listening sockets only, with address, port and inode', () => {
    expect(parseListeners(TCP)).toEqual([
      { address: '127.0.0.1', port: 8080, inode: 4711 },
      { address: '0.0.0.0', port: 3000, inode: 4712 },
    ]);
    expect(parseListeners(TCP6)).toEqual([
      { address: '::1', port: 3001, inode: 4714 },
      { address: '::', port: 3001, inode: 4715 },
      { address: '::ffff:127.0.0.1', port: 3002, inode: 4716 },
    ]);
  });

  it.runIf(process.platform === 'linux')('finds this process holding a port it listens on, and the port taken', async () => {
    const listening = createServer();
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const port = (listening.address() as { port: number }).port;
    const found = listeners(port);
    expect(found.map((l) => l.address)).toEqual(['127.0.0.1']);
    expect(pidsHolding(found.map((l) => l.inode))).toEqual([process.pid]);
    expect(describeHolder(port)).toMatch(new RegExp(`^pid ${process.pid} \\(`));
    expect(await probePort('127.0.0.1', port)).toBe('EADDRINUSE');
  });

  it('reports an unheld port as free, with an unknown holder', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    expect(await probePort('127.0.0.1', port)).toBeUndefined();
    expect(describeHolder(port)).toBe('unknown pid');
  });
});
