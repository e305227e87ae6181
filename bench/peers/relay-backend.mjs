#!/usr/bin/env node
/**
 * The back of the two-hop floor (bench/systems/uws-relay.mjs): a TCP server that answers the
 * relay's `<socket number>\t<ping frame>\n` lines with `<socket number>\t<pong frame>\n`, parsing
 * each request and serializing each answer (the least any backend does), one write per chunk read.
 *
 *   PORT=0 HOST=127.0.0.1 node bench/peers/relay-backend.mjs
 */
import { createServer } from 'node:net';
import { announce, exitOnSignals } from './auth.mjs';

const server = createServer({ noDelay: true }, (socket) => {
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    let out = '';
    for (const line of lines) {
      const tab = line.indexOf('\t');
      let msg;
      try {
        msg = JSON.parse(line.slice(tab + 1));
      } catch {
        continue;
      }
      if (msg?.event === 'ping') out += `${line.slice(0, tab)}\t${JSON.stringify({ event: 'pong', _id: msg._id, data: msg.data })}\n`;
    }
    if (out) socket.write(out);
  });
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => announce('relay-backend', server.address().port));
exitOnSignals();
