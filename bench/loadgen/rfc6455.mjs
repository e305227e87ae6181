/**
 * A minimal RFC 6455 client for load generation on raw `net` sockets: one HTTP upgrade, masked
 * text frames out, unmasked server frames in. It does what the `ws` library does for a client
 * minus everything a load generator pays for and does not need (extensions, per-message
 * events with Buffer wrappers, option handling), so one process can take several hundred
 * thousand frames a second.
 *
 *   const c = await openWebSocket({ host, port, path, headers, localAddress }, {
 *     onText(text, client) {}, onClose(code, reason, client) {},
 *   });
 *   c.sendText('{"event":"ping"}');
 *
 * Server frames: text (opcode 1, also fragmented with continuations), close (answered with a
 * close, then the socket ends), ping (answered with a pong carrying the same payload), pong and
 * binary (ignored). Server frames are expected unmasked; a masked one is unmasked anyway.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';

// Every socket of the process reads into this one buffer (net's `onread`): no Buffer and no
// 'data' event per read, which is most of a small frame's receive cost. Safe because the parser
// consumes each read synchronously and copies only what it must keep.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

// Masking keys need not be secret from the server; a fast xorshift keeps them varied without a
// crypto call per frame.
let seed = randomBytes(4).readUInt32LE(0) | 1;
function nextMask() {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return seed >>> 0;
}

/**
 * Builds one masked client frame around `payload` (a Buffer) or the UTF-8 of a string.
 * @param {number} opcode
 * @param {string | Buffer} data
 * @returns {Buffer}
 */
export function encodeFrame(opcode, data) {
  const len = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  const hdr = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const frame = Buffer.allocUnsafe(hdr + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) {
    frame[1] = 0x80 | len;
  } else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  const mask = nextMask();
  frame.writeUInt32BE(mask, hdr - 4);
  if (typeof data === 'string') frame.write(data, hdr, len, 'utf8');
  else data.copy(frame, hdr);
  const m0 = mask >>> 24;
  const m1 = (mask >>> 16) & 0xff;
  const m2 = (mask >>> 8) & 0xff;
  const m3 = mask & 0xff;
  let i = hdr;
  const end = hdr + len;
  for (; i + 3 < end; i += 4) {
    frame[i] ^= m0;
    frame[i + 1] ^= m1;
    frame[i + 2] ^= m2;
    frame[i + 3] ^= m3;
  }
  for (let k = 0; i < end; i++, k++) frame[i] ^= k === 0 ? m0 : k === 1 ? m1 : m2;
  return frame;
}

/**
 * Incremental parser of server frames. `push(chunk)` may be given any split of the byte stream:
 * a frame across several chunks, several frames in one. Calls onFrame(fin, opcode, buf, start,
 * end) per complete frame; the payload slice is only valid during the call, and pushed chunks may
 * be reused by the caller after push() returns.
 */
export class FrameParser {
  constructor(onFrame) {
    this.onFrame = onFrame;
    /** @type {Buffer[]} bytes received but not yet forming a whole frame */
    this.pending = [];
    this.pendingLen = 0;
    /** bytes needed before parsing is worth retrying (a header, or a whole frame) */
    this.need = 2;
  }

  push(chunk) {
    let buf = chunk;
    if (this.pendingLen > 0) {
      // Chunks may be views of a shared read buffer (see READ_BUFFER): keep copies only.
      this.pending.push(Buffer.from(chunk));
      this.pendingLen += chunk.length;
      // A large frame arrives in many chunks: concatenate once, when all of it is here.
      if (this.pendingLen < this.need) return;
      buf = Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
    }
    let off = 0;
    const total = buf.length;
    for (;;) {
      const avail = total - off;
      if (avail < 2) {
        this.need = 2;
        break;
      }
      const b1 = buf[off + 1];
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (avail < 4) {
          this.need = 4;
          break;
        }
        len = buf.readUInt16BE(off + 2);
        hdr = 4;
      } else if (len === 127) {
        if (avail < 10) {
          this.need = 10;
          break;
        }
        len = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        hdr = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) hdr += 4;
      if (avail < hdr + len) {
        this.need = hdr + len;
        break;
      }
      const start = off + hdr;
      const end = start + len;
      if (masked) {
        for (let i = 0; i < len; i++) buf[start + i] ^= buf[start - 4 + (i & 3)];
      }
      const b0 = buf[off];
      off = end;
      this.onFrame((b0 & 0x80) !== 0, b0 & 0x0f, buf, start, end);
    }
    if (off < total) {
      const rest = Buffer.from(buf.subarray(off));
      this.pending.push(rest);
      this.pendingLen = rest.length;
    }
  }
}

/** One client connection after a successful upgrade. */
export class WsClient {
  /**
   * @param {import('node:net').Socket} socket
   * @param {{ onText?: (text: string, c: WsClient) => void, onClose?: (code: number, reason: string, c: WsClient) => void }} handlers
   */
  constructor(socket, handlers) {
    this.socket = socket;
    this.onText = handlers.onText ?? (() => {});
    this.onClose = handlers.onClose ?? (() => {});
    this.closed = false;
    /** close code received from the server (1006 when the socket ended without one) */
    this.closeCode = 1006;
    this.closeReason = '';
    /** @type {Buffer[] | null} fragments of a text message in progress */
    this.fragments = null;
    this.parser = new FrameParser((fin, op, buf, start, end) => this.frame(fin, op, buf, start, end));
    socket.on('error', () => {}); // 'close' follows and reports
    // The server ended the TCP stream (after its close frame, or because its process died):
    // answer with a reset, not a FIN, so the server side keeps no TIME_WAIT or FIN_WAIT_2 socket
    // on its port and a restarted server can bind the same port at once.
    socket.on('end', () => socket.resetAndDestroy());
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.onClose(this.closeCode, this.closeReason, this);
    });
  }

  frame(fin, op, buf, start, end) {
    if (op === OP_TEXT && fin) {
      this.onText(buf.toString('utf8', start, end), this);
    } else if (op === OP_TEXT || (op === OP_CONT && this.fragments)) {
      (this.fragments ??= []).push(Buffer.from(buf.subarray(start, end)));
      if (fin) {
        const text = Buffer.concat(this.fragments).toString('utf8');
        this.fragments = null;
        this.onText(text, this);
      }
    } else if (op === OP_PING) {
      if (!this.socket.destroyed) this.socket.write(encodeFrame(OP_PONG, Buffer.from(buf.subarray(start, end))));
    } else if (op === OP_CLOSE) {
      this.closeCode = end - start >= 2 ? buf.readUInt16BE(start) : 1005;
      this.closeReason = end - start > 2 ? buf.toString('utf8', start + 2, end) : '';
      // Answer the close frame but leave closing TCP to the server (RFC 6455 §7.1.1); its FIN is
      // answered with a reset (see 'end' above), or the socket is reset after a grace period.
      if (!this.socket.destroyed) {
        this.socket.write(encodeFrame(OP_CLOSE, Buffer.from(buf.subarray(start, Math.min(end, start + 2)))));
        setTimeout(() => this.destroy(), 2000).unref();
      }
    }
    // OP_PONG and binary frames: nothing to do.
  }

  /** Sends one text frame. Wrap many sends in cork()/uncork() to batch them into one write. */
  sendText(text) {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(OP_TEXT, text));
  }

  cork() {
    this.socket.cork();
  }

  uncork() {
    this.socket.uncork();
  }

  /** Sends a close frame and ends the socket; the server's close completes it. */
  close(code = 1000) {
    if (this.socket.destroyed) return;
    const body = Buffer.allocUnsafe(2);
    body.writeUInt16BE(code, 0);
    this.socket.end(encodeFrame(OP_CLOSE, body));
  }

  /**
   * Drops the TCP connection without a close frame, with a reset: neither side keeps a TIME_WAIT
   * socket (thousands of them per run would otherwise pile up).
   */
  destroy() {
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }
}

/**
 * Opens a websocket: TCP connect, HTTP/1.1 upgrade, check of the 101 and Sec-WebSocket-Accept.
 * Rejects on any refusal, a non-101 answer or after timeoutMs.
 * @param {{ host: string, port: number, path: string, headers?: Record<string, string>,
 *           localAddress?: string, timeoutMs?: number }} target
 * @param {ConstructorParameters<typeof WsClient>[1]} handlers
 * @returns {Promise<WsClient>}
 */
export function openWebSocket(target, handlers) {
  const { host, port, path, headers = {}, localAddress, timeoutMs = 10_000 } = target;
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    let client = null;
    const socket = connect({
      host,
      port,
      localAddress,
      noDelay: true,
      allowHalfOpen: true, // no automatic FIN on the server's FIN: WsClient resets instead
      onread: { buffer: READ_BUFFER, callback: (n, buf) => void (client ? client.parser.push(buf.subarray(0, n)) : onData(buf.subarray(0, n))) },
    });
    let head = '';
    let settled = false;
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A reset, like every close here: a FIN after the server's own FIN would leave the server a
      // TIME_WAIT socket on its port.
      if (socket.connecting) socket.destroy();
      else socket.resetAndDestroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`upgrade timed out after ${timeoutMs} ms`)), timeoutMs);
    const onClosed = () => fail(new Error('socket closed during upgrade'));
    const onEnded = () => fail(new Error('server ended the connection during upgrade'));
    socket.once('error', fail);
    socket.once('close', onClosed);
    socket.once('end', onEnded);
    socket.once('connect', () => {
      let req = `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`;
      req += `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
      for (const [name, value] of Object.entries(headers)) req += `${name}: ${value}\r\n`;
      socket.write(req + '\r\n');
    });
    function onData(chunk) {
      if (settled) return;
      head += chunk.toString('latin1');
      const endOfHead = head.indexOf('\r\n\r\n');
      if (endOfHead < 0) {
        if (head.length > 16_384) fail(new Error('upgrade response head too large'));
        return;
      }
      const lines = head.slice(0, endOfHead).split('\r\n');
      if (!/^HTTP\/1\.1 101 /.test(lines[0])) return fail(new Error(`upgrade refused: ${lines[0]}`));
      const accept = createHash('sha1').update(key + GUID).digest('base64');
      const got = lines.find((l) => /^sec-websocket-accept:/i.test(l))?.split(':')[1]?.trim();
      if (got !== accept) return fail(new Error('bad Sec-WebSocket-Accept'));
      settled = true;
      clearTimeout(timer);
      socket.off('error', fail);
      socket.off('close', onClosed);
      socket.off('end', onEnded);
      client = new WsClient(socket, handlers);
      resolve(client);
      // Frames may follow the 101 in the same chunk (a server that greets at once).
      const rest = Buffer.from(head.slice(endOfHead + 4), 'latin1');
      if (rest.length > 0) client.parser.push(rest);
    }
  });
}
