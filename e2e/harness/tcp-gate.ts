import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder in front of one address that starts closed: while closed it accepts and
 * immediately drops every connection (a peer that cannot be reached), once `open()` it pipes
 * both ways. Gives one balancer a different view of the monoliths than another.
 */
export interface TcpGate {
  /** `127.0.0.1:<port>`, to list in a balancer's MONOLITHS. */
  readonly address: string;
  /** Connections dropped while closed. */
  readonly refused: number;
  open(): void;
  /** Cuts every forwarded connection and drops new ones again (a partition). */
  shut(): void;
  close(): Promise<void>;
}

export async function startTcpGate(target: string): Promise<TcpGate> {
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at);
  const port = Number(target.slice(at + 1));
  let opened = false;
  let refused = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((inbound) => {
    track(inbound);
    if (!opened) {
      refused++;
      inbound.destroy();
      return;
    }
    const outbound = createConnection({ host, port });
    track(outbound);
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `127.0.0.1:${bound}`,
    get refused() {
      return refused;
    },
    open() {
      opened = true;
    },
    shut() {
      opened = false;
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
