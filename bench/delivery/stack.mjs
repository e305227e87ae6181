/**
 * The processes of the kill -9 delivery run (delivery-failover.mjs): Redis, 3 monoliths and 2
 * balancers from the built dist/ on 127.0.0.1, each server's warning and error lines kept for the
 * report. `stop()` ends what was started, by pid, also after a start that failed halfway.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, pollReady, rootDir, startRedisServer, startServer } from '../systems/processes.mjs';

export const HOST = '127.0.0.1';
const MONOLITH = join(rootDir, 'monolith', 'dist', 'main.js');
const BALANCER = join(rootDir, 'balancer', 'dist', 'main.js');

/** Throws unless the monolith and balancer are built. */
export function requireBuilt() {
  for (const script of [MONOLITH, BALANCER]) if (!existsSync(script)) throw new Error(`${script} is missing: build with node scripts/run.mjs build`);
}

export class Stack {
  /** @param {{ jwtSecret: string, linkSecret: string, clients: number }} opts clients: the spectators the balancers must admit */
  constructor(opts) {
    this.opts = opts;
    this.servers = [];
    this.redis = undefined;
    /** Output lines of each server (warnings and errors), kept for the report: bounded per process. */
    this.output = new Map();
  }

  /** A sink for one server's output lines, bounded. */
  collect(label) {
    const lines = [];
    this.output.set(label, lines);
    return (line) => {
      if (lines.length < 5000 && !line.startsWith('{"gc"')) lines.push(line);
    };
  }

  /** Starts Redis, the monoliths, then the balancers linked to all three; resolves once all are ready. */
  async start() {
    const { jwtSecret, linkSecret, clients } = this.opts;
    this.redis = await startRedisServer({ maxclients: 20_000 });
    const common = { JWT_SECRET: jwtSecret, LINK_SECRET: linkSecret, MONOLITH_LOG_LEVEL: 'warn', BALANCER_LOG_LEVEL: 'warn' };
    const monoliths = [];
    for (let i = 1; i <= 3; i++) {
      const id = `fo-m${i}`;
      const m = await startServer({
        role: `monolith ${id}`,
        script: MONOLITH,
        readyName: 'monolith',
        env: { ...common, MONOLITH_HOST: HOST, MONOLITH_HTTP_PORT: '0', MONOLITH_LINK_PORT: '0', MONOLITH_ID: id, REDIS_URL: this.redis.url },
        onLine: this.collect(`monolith ${id}`),
      });
      this.servers.push(m);
      monoliths.push({ id, server: m, http: `http://${HOST}:${m.info.httpPort}`, link: `${HOST}:${m.info.linkPort}` });
    }
    const balancers = [];
    for (let i = 1; i <= 2; i++) {
      const id = `fo-b${i}`;
      const b = await startServer({
        role: `balancer ${id}`,
        script: BALANCER,
        readyName: 'balancer',
        env: {
          ...common,
          BALANCER_HOST: HOST,
          BALANCER_PORT: '0',
          ADMIN_PORT: '0',
          BALANCER_ID: id,
          MONOLITHS: monoliths.map((m) => m.link).join(','),
          MAX_CONNECTIONS: String(clients + 1000),
          MAX_UNAUTHENTICATED: String(clients + 1000),
        },
        onLine: this.collect(`balancer ${id}`),
      });
      this.servers.push(b);
      balancers.push({ id, server: b, url: `ws://${HOST}:${b.info.port}/ws` });
    }
    await Promise.all([
      ...balancers.map((b) => pollReady(HOST, b.server.info.port, '/ready', 20_000, (body) => body?.monoliths >= 3)),
      ...monoliths.map((m) => pollReady(HOST, m.server.info.httpPort, '/ready', 20_000, (body) => body?.ready === true && body.links >= 2)),
    ]);
    return { monoliths, balancers };
  }

  async stop() {
    await killAll(this.servers);
    await this.redis?.stop();
  }

  /** Warning and error lines of each server, grouped by message (counts), for the report. */
  serverMessages() {
    const out = {};
    for (const [label, lines] of this.output) {
      const msgs = {};
      for (const line of lines) {
        let key = line.slice(0, 160);
        try {
          const j = JSON.parse(line);
          if (j.ready) continue;
          key = `${j.level}: ${j.msg}${j.reason ? ` (${j.reason})` : ''}${j.err ? ` (${String(j.err).slice(0, 80)})` : ''}`;
        } catch {}
        msgs[key] = (msgs[key] ?? 0) + 1;
      }
      if (Object.keys(msgs).length) out[label] = msgs;
    }
    return out;
  }
}
