#!/usr/bin/env node
/**
 * One entry point for `npm start`, `npm test` and `npm run build` on a machine with only Node 20
 * and npm: installs the workspace with a pinned pnpm when needed, builds, then runs the command.
 *
 *   node scripts/run.mjs build
 *   node scripts/run.mjs test [vitest args...]   (CI_RESULTS=<file> also writes vitest JSON there)
 *   node scripts/run.mjs start                   (one monolith + one balancer, dev settings, loopback only)
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

/**
 * What the tests need from the system besides Node: redis-server (the harness starts its own),
 * openssl (a throwaway CA for the link TLS tests) and Debian's chromium (the browser tests). As
 * root on Debian, the missing ones are installed with apt, as `.ci/run` does; otherwise the run
 * stops with the command to run.
 */
function ensureSystemTools() {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  const missing = [
    ['redis-server', 'redis-server', () => commandExists('redis-server')],
    ['openssl', 'openssl', () => commandExists('openssl')],
    ['chromium', chromium, () => existsSync(chromium)],
  ].filter(([, , present]) => !present());
  if (!missing.length) return;
  const packages = missing.map(([pkg]) => pkg);
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!asRoot || !commandExists('apt-get')) {
    process.stderr.write(`run: the tests need ${missing.map(([, what]) => what).join(', ')}; install them (Debian: sudo apt-get install -y ${packages.join(' ')}) or set CHROMIUM_PATH\n`);
    process.exit(1);
  }
  process.stderr.write(`run: installing ${packages.join(', ')} with apt (the tests need them)\n`);
  mustRun('apt-get', ['update']);
  mustRun('apt-get', ['install', '-y', ...packages]);
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function test(args) {
  // The whole suite needs them; a run of chosen files is the caller's business.
  if (args.length === 0) ensureSystemTools();
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

/** Every address `npm start` listens on: it runs with development secrets the README publishes. */
const LOOPBACK = '127.0.0.1';
/** The host variables the environment may hold that the stack overrides with LOOPBACK. */
const HOST_VARS = ['MONOLITH_HOST', 'HOST', 'BALANCER_HOST', 'ADMIN_HOST'];
/** The ports the stack listens on, checked before anything starts (the dashboard's is optional). */
const PORT_VARS = { monolith: ['MONOLITH_HTTP_PORT', 'MONOLITH_LINK_PORT'], balancer: ['BALANCER_PORT', 'ADMIN_PORT'] };
/** How long both `/ready` endpoints may take to answer 200 once both ready lines are in. */
const READY_TIMEOUT_MS = 15_000;
/** After SIGHUP nobody is left to press Ctrl-C twice: a service still up this much later is killed. */
const HANGUP_KILL_MS = 5_000;

/**
 * A child service whose stdout is echoed with a prefix and scanned for its ready line (read by
 * the server kit's parseReadyLine, the reader of what the services' announceReady writes).
 */
function startService(name, script, env, onReady, parseReadyLine) {
  // detached: the child gets its own process group, so a terminal Ctrl-C reaches it once, by our
  // forwarding below, instead of twice. stdin is a pipe nothing is written to: its end, when this
  // process dies however it dies (SIGKILL too), stops the service (exitWithParent in server-kit).
  const child = spawn(process.execPath, [join(root, script)], {
    cwd: root,
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
    detached: true,
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    process.stdout.write(`[${name}] ${line}\n`);
    const ready = parseReadyLine(line, name);
    if (ready) onReady(ready);
  });
  return child;
}

/** One line per port of `ports` ([variable, value]) that cannot be bound on loopback now. */
async function takenPorts(ports) {
  const { describeHolder, probePort } = await import('./port-holder.mjs');
  const problems = [];
  for (const [name, value] of ports) {
    const port = Number(value);
    // 0 picks a free port; a value that is not a port is the service's to report.
    if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
    const code = await probePort(LOOPBACK, port);
    if (code === 'EADDRINUSE') problems.push(`run: port ${port} (${name}) is in use by ${describeHolder(port)}`);
    else if (code) problems.push(`run: port ${port} (${name}) cannot be bound on ${LOOPBACK}: ${code}`);
  }
  return problems;
}

/**
 * Resolves undefined once every url answers 200, or with what the others answered at the deadline
 * (or when `stopped()` turns true).
 */
async function awaitServing(urls, timeoutMs, stopped) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answers = await Promise.all(
      urls.map((url) =>
        fetch(url, { signal: AbortSignal.timeout(1000) }).then(
          async (res) => (await res.arrayBuffer(), res.status),
          (err) => err.cause?.code ?? err.name,
        ),
      ),
    );
    const failing = urls.flatMap((url, i) => (answers[i] === 200 ? [] : [`${url} answered ${answers[i]}`]));
    if (failing.length === 0) return undefined;
    if (stopped() || Date.now() >= deadline) return failing.join(', ');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Loaded after the build: server-kit's dist does not exist before it on a fresh checkout. */
async function start() {
  const { parseReadyLine, EXIT_WITH_PARENT_ENV } = await import(pathToFileURL(join(root, 'server-kit', 'dist', 'index.js')).href);
  const { startWebServer } = await import('./serve-web.mjs');
  const base = { ...process.env };
  const shared = {
    JWT_SECRET: base.JWT_SECRET ?? DEV_JWT_SECRET,
    LINK_SECRET: base.LINK_SECRET ?? DEV_LINK_SECRET,
  };
  // The well-known dev secret may be printed; one the user supplied never is.
  const builtInSecret = shared.JWT_SECRET === DEV_JWT_SECRET;
  // Set after `base`: HOST=0.0.0.0 from a shell or a container image must not put the dev secrets
  // on the network. To listen elsewhere, run the services yourself with your own secrets.
  for (const name of HOST_VARS) {
    if (base[name] && base[name] !== LOOPBACK) process.stderr.write(`run: ignoring ${name}=${base[name]}: npm start listens on ${LOOPBACK} only\n`);
  }
  // Logs for people (a shell's GATEWAY_LOG_FORMAT=json still wins), and the services die with us.
  const own = { GATEWAY_LOG_FORMAT: base.GATEWAY_LOG_FORMAT ?? 'pretty', [EXIT_WITH_PARENT_ENV]: '1' };
  const monolithEnv = {
    MONOLITH_HTTP_PORT: '3000',
    MONOLITH_LINK_PORT: '3001',
    MONOLITH_ID: 'm1',
    // Embedded mode starts empty: load the demo guilds so a new user can spectate and search at once.
    ...(base.REDIS_URL ? {} : { DEMO_FIXTURE: 'true' }),
    ...base,
    ...shared,
    ...own,
    MONOLITH_HOST: LOOPBACK,
  };
  const balancerEnv = {
    BALANCER_PORT: '8080',
    ADMIN_PORT: '9090',
    MONOLITHS: `127.0.0.1:${monolithEnv.MONOLITH_LINK_PORT}`,
    ...base,
    ...shared,
    ...own,
    BALANCER_HOST: LOOPBACK,
    ADMIN_HOST: LOOPBACK,
  };
  // REDIS_URL reaches the monolith only through `base`, i.e. only when the caller set it.

  // Start nothing while a previous stack (or anything else) holds a port: the services would die
  // with a bare EADDRINUSE, or, for the balancer (uWS binds with SO_REUSEPORT), share it silently.
  const taken = await takenPorts([
    ...PORT_VARS.monolith.map((name) => [name, monolithEnv[name]]),
    ...PORT_VARS.balancer.map((name) => [name, balancerEnv[name]]),
  ]);
  if (taken.length) {
    const vars = [...PORT_VARS.monolith, ...PORT_VARS.balancer, 'WEB_PORT'].join(', ');
    process.stderr.write(`${taken.join('\n')}\nrun: nothing started; stop what holds the port (a previous npm start?) or choose other ports (${vars})\n`);
    process.exit(2);
  }

  const ready = {};
  const children = new Map();
  // The dashboard (web/, scripts/serve-web.mjs) runs in this process; it only serves files and
  // proxies to the monolith, so the stack works without it if its port is taken.
  let web;
  startWebServer({
    port: Number(base.WEB_PORT ?? 8081),
    monolithHttp: `http://127.0.0.1:${monolithEnv.MONOLITH_HTTP_PORT}`,
    jwtSecret: shared.JWT_SECRET,
    wsUrl: `ws://127.0.0.1:${balancerEnv.BALANCER_PORT}/ws`,
  }).then(
    (server) => (web = server),
    (err) => process.stderr.write(`run: dashboard not started: ${err.message}\n`),
  );
  let stopping = false;

  const printBanner = () => {
    const { monolith, balancer } = ready;
    const secret = builtInSecret
      ? `${DEV_JWT_SECRET}   (the built-in development secret from the README: loopback only, never in production)`
      : 'yours, from JWT_SECRET (not printed)';
    const tokenEnv = builtInSecret ? '' : 'JWT_SECRET=<yours> ';
    process.stdout.write(
      [
        '',
        `gateway ready: monolith ${monolith.id} (http :${monolith.httpPort}, link :${monolith.linkPort}), balancer ${balancer.id}`,
        `  connect:    ws://127.0.0.1:${balancer.port}/ws`,
        `  http api:   http://127.0.0.1:${monolith.httpPort}/api/...`,
        `  JWT secret: ${secret}`,
        `  dev token:  ${tokenEnv}node scripts/dev-token.mjs alice    (first frame: {"action":"auth","token":"<token>"})`,
        ...(web ? [`  dashboard:  ${web.url}`] : []),
        '',
      ].join('\n') + '\n',
    );
  };

  const onReady = (name) => (msg) => {
    ready[name] = msg;
    if (!ready.monolith || !ready.balancer) return;
    // A ready line means "listening"; /ready means serving (the balancer: a monolith linked).
    const urls = [`http://127.0.0.1:${ready.monolith.httpPort}/ready`, `http://127.0.0.1:${ready.balancer.port}/ready`];
    void awaitServing(urls, READY_TIMEOUT_MS, () => stopping).then((failing) => {
      if (stopping) return;
      if (!failing) return printBanner();
      process.stderr.write(`run: not ready within ${READY_TIMEOUT_MS / 1000} s (${failing}); stopping\n`);
      failed = true;
      stopping = true;
      stopAll('SIGINT');
    });
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

  // After SIGHUP the terminal is gone and writing to it fails (EIO): the echo is lost, but this
  // process must live on until the services have exited.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  let kills = 0;
  // SIGHUP (the terminal closed) stops like Ctrl-C: there is nobody left to drain for.
  for (const [signal, forward] of [['SIGINT', 'SIGINT'], ['SIGTERM', 'SIGTERM'], ['SIGHUP', 'SIGINT']]) {
    process.on(signal, () => {
      stopping = true;
      kills += 1;
      // A second Ctrl-C means "now".
      stopAll(kills > 1 ? 'SIGKILL' : forward);
      if (signal === 'SIGHUP') setTimeout(() => stopAll('SIGKILL'), HANGUP_KILL_MS).unref();
    });
  }
  // If we go away anyway, do not leave detached services behind (a SIGKILL skips this: then the
  // services see their stdin pipe close).
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
