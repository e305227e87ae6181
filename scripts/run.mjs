#!/usr/bin/env node
/**
 * One entry point for `npm start`, `npm test` and `npm run build` on a machine with only Node 20
 * and npm: installs the workspace with a pinned pnpm when needed, builds, then runs the command.
 *
 *   node scripts/run.mjs build
 *   node scripts/run.mjs test [vitest args...]   (CI_RESULTS=<file> also writes vitest JSON there)
 *   node scripts/run.mjs start                   (one monolith + one balancer, dev settings)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEV_JWT_SECRET, DEV_LINK_SECRET } from './dev-env.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const PNPM = 'pnpm@10.20.0';
const bin = (name) => join(root, 'node_modules', '.bin', name);

function needsInstall() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  if (!existsSync(join(root, 'node_modules')) || !existsSync(marker)) return true;
  return statSync(join(root, 'pnpm-lock.yaml')).mtimeMs > statSync(marker).mtimeMs;
}

/** Runs a command to completion with inherited stdio; exits this process if it fails. */
function mustRun(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) {
    process.stderr.write(`run: cannot start ${command}: ${result.error.message}\n`);
    process.exit(1);
  }
  if (result.status !== 0) {
    process.stderr.write(`run: ${[command, ...args].join(' ')} failed (${result.status ?? result.signal})\n`);
    process.exit(result.status || 1);
  }
}

function installAndBuild() {
  if (needsInstall()) mustRun('npx', ['--yes', PNPM, 'install', '--frozen-lockfile']);
  mustRun(bin('tsc'), ['-b', 'protocol', 'server-kit', 'balancer', 'monolith', 'client']);
}

function test(args) {
  // Tests are type-checked like the code (tsconfig.test.json) before they run.
  mustRun(bin('tsc'), ['-p', 'tsconfig.test.json']);
  const extra = [];
  if (process.env.CI_RESULTS) {
    extra.push('--reporter=default', '--reporter=json', `--outputFile.json=${process.env.CI_RESULTS}`);
  }
  const child = spawn(bin('vitest'), ['run', ...extra, ...args], { cwd: root, stdio: 'inherit' });
  // vitest shares our process group, so a terminal's Ctrl-C reaches it directly; only SIGTERM
  // (from a supervisor) needs forwarding.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

/**
 * A child service whose stdout is echoed with a prefix and scanned for its ready line (read by
 * the server kit's parseReadyLine, the reader of what the services' announceReady writes).
 */
function startService(name, script, env, onReady, parseReadyLine) {
  // detached: the child gets its own process group, so a terminal Ctrl-C reaches it once, by our
  // forwarding below, instead of twice.
  const child = spawn(process.execPath, [join(root, script)], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    process.stdout.write(`[${name}] ${line}\n`);
    const ready = parseReadyLine(line, name);
    if (ready) onReady(ready);
  });
  return child;
}

/** Loaded after the build: server-kit's dist does not exist before it on a fresh checkout. */
async function start() {
  const { parseReadyLine } = await import(pathToFileURL(join(root, 'server-kit', 'dist', 'index.js')).href);
  const { startWebServer } = await import('./serve-web.mjs');
  const base = { ...process.env };
  const shared = {
    JWT_SECRET: base.JWT_SECRET ?? DEV_JWT_SECRET,
    LINK_SECRET: base.LINK_SECRET ?? DEV_LINK_SECRET,
  };
  const monolithEnv = {
    HTTP_PORT: '3000',
    LINK_PORT: '3001',
    MONOLITH_ID: 'm1',
    // Embedded mode starts empty: load the demo guilds so a new user can spectate and search at once.
    ...(base.REDIS_URL ? {} : { DEMO_FIXTURE: 'true' }),
    ...base,
    ...shared,
  };
  const balancerEnv = {
    BALANCER_PORT: '8080',
    MONOLITHS: `127.0.0.1:${monolithEnv.LINK_PORT}`,
    ...base,
    ...shared,
  };
  // REDIS_URL reaches the monolith only through `base`, i.e. only when the caller set it.

  const ready = {};
  const children = new Map();
  // The dashboard (web/, scripts/serve-web.mjs) runs in this process; it only serves files and
  // proxies to the monolith, so the stack works without it if its port is taken.
  let web;
  startWebServer({
    port: Number(base.WEB_PORT ?? 8081),
    monolithHttp: `http://127.0.0.1:${monolithEnv.HTTP_PORT}`,
    jwtSecret: shared.JWT_SECRET,
    wsUrl: `ws://127.0.0.1:${balancerEnv.BALANCER_PORT}/ws`,
  }).then(
    (server) => (web = server),
    (err) => process.stderr.write(`run: dashboard not started: ${err.message}\n`),
  );
  let stopping = false;

  const onReady = (name) => (msg) => {
    ready[name] = msg;
    if (!ready.monolith || !ready.balancer) return;
    const port = ready.balancer.port;
    const tokenEnv = shared.JWT_SECRET === DEV_JWT_SECRET ? '' : `JWT_SECRET='${shared.JWT_SECRET}' `;
    process.stdout.write(
      [
        '',
        `gateway ready: monolith ${ready.monolith.id} (http :${ready.monolith.httpPort}, link :${ready.monolith.linkPort}), balancer ${ready.balancer.id}`,
        `  connect:    ws://127.0.0.1:${port}/ws`,
        `  JWT secret: ${shared.JWT_SECRET}`,
        `  dev token:  ${tokenEnv}node scripts/dev-token.mjs alice    (first frame: {"action":"auth","token":"<token>"})`,
        ...(web ? [`  dashboard:  ${web.url}`] : []),
        '',
      ].join('\n') + '\n',
    );
  };

  const stopAll = (signal) => {
    for (const child of children.values()) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, signal);
        } catch {
          // already gone
        }
      }
    }
  };

  let failed = false;
  const onExit = (name) => (code, signal) => {
    children.delete(name);
    if (!stopping) {
      // One service died on its own: the stack is useless without it.
      process.stderr.write(`run: ${name} exited (${code ?? signal}); stopping the other service\n`);
      failed = true;
      stopping = true;
      stopAll('SIGTERM');
    } else if (code !== 0 && code !== null && signal === null) {
      failed = true;
    }
    if (children.size === 0) process.exit(failed ? 1 : 0);
  };

  for (const [name, script, env] of [
    ['monolith', 'monolith/dist/main.js', monolithEnv],
    ['balancer', 'balancer/dist/main.js', balancerEnv],
  ]) {
    const child = startService(name, script, env, onReady(name), parseReadyLine);
    children.set(name, child);
    child.on('exit', onExit(name));
  }

  let kills = 0;
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      stopping = true;
      kills += 1;
      // A second Ctrl-C means "now".
      stopAll(kills > 1 ? 'SIGKILL' : signal);
    });
  }
  // If we go away anyway, do not leave detached services behind.
  process.on('exit', () => stopAll('SIGKILL'));
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'build':
    installAndBuild();
    break;
  case 'test':
    installAndBuild();
    test(rest);
    break;
  case 'start':
    installAndBuild();
    await start();
    break;
  case 'bench': {
    installAndBuild();
    // The benchmark runs as its own process so its exit code and output are its own.
    const child = spawn(process.execPath, [join(root, 'bench', 'run.mjs'), ...rest], { cwd: root, stdio: 'inherit' });
    process.on('SIGINT', () => {});
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    break;
  }
  default:
    process.stderr.write('usage: node scripts/run.mjs build | test [vitest args] | start | bench [--quick]\n');
    process.exit(2);
}
