/**
 * Which process listens on a TCP port, for `npm start`'s port check (scripts/run.mjs) and its test:
 * /proc/net/tcp and /proc/net/tcp6 give each listening socket's address and inode, and
 * /proc/<pid>/fd names the processes holding that inode. Linux only; elsewhere, and for other
 * users' processes (their fd directories are unreadable), nothing is found.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

const LISTEN = '0A';

/** `0100007F` → `127.0.0.1`; 32 hex digits (four little-endian words) → an IPv6 address. */
export function decodeAddress(hex) {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((word) => word.match(/../g).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return `::ffff:${bytes.slice(12).join('.')}`;
  // Shortest form of the common cases (::, ::1); other addresses keep every group.
  const joined = groups.join(':');
  if (joined === '0:0:0:0:0:0:0:0') return '::';
  if (joined === '0:0:0:0:0:0:0:1') return '::1';
  return joined;
}

/** The listening sockets in the text of /proc/net/tcp or /proc/net/tcp6: `{address, port, inode}`. */
export function parseListeners(text) {
  const out = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [address, port] = fields[1].split(':');
    out.push({ address: decodeAddress(address), port: parseInt(port, 16), inode: Number(fields[9]) });
  }
  return out;
}

/** Every socket listening on `port`, on any address, IPv4 and IPv6. */
export function listeners(port) {
  const out = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    out.push(...parseListeners(text).filter((l) => l.port === port));
  }
  return out;
}

/** Pids of the processes that have one of `inodes` open (their own, readable fd directories only). */
export function pidsHolding(inodes) {
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  const pids = [];
  if (wanted.size === 0) return pids;
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let fds;
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) {
        pids.push(Number(entry));
        break;
      }
    }
  }
  return pids;
}

/** `pid 123 (node balancer/dist/main.js)`, one per holder, or `unknown pid`. */
export function describeHolder(port) {
  const pids = pidsHolding(listeners(port).map((l) => l.inode));
  if (pids.length === 0) return 'unknown pid';
  return pids
    .map((pid) => {
      let command = '';
      try {
        command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      } catch {
        // exited meanwhile, or not ours
      }
      return command ? `pid ${pid} (${command.length > 120 ? `${command.slice(0, 117)}...` : command})` : `pid ${pid}`;
    })
    .join(', ');
}

/**
 * Resolves undefined when `host:port` can be bound right now, else the error code (EADDRINUSE,
 * EACCES). Node binds without SO_REUSEPORT, so a balancer (uWS sets it) still holding the port is
 * seen, where a second balancer would silently share it.
 */
export function probePort(host, port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err) => resolve(err.code ?? String(err)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
