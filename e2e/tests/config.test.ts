import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BALANCER_MAIN, JWT_SECRET, LINK_SECRET, MONOLITH_MAIN, ROOT, freePort, spawnProc, startBalancer, startMonolith, useHarness, type Proc } from '../harness/index.js';

useHarness();

const monolithEnv = { MONOLITH_HOST: '127.0.0.1', MONOLITH_HTTP_PORT: '0', MONOLITH_LINK_PORT: '0', MONOLITH_ID: 'cfg-m', JWT_SECRET, LINK_SECRET };
const balancerEnv = {
  BALANCER_HOST: '127.0.0.1',
  BALANCER_PORT: '0',
  ADMIN_PORT: '0',
  BALANCER_ID: 'cfg-b',
  MONOLITHS: '127.0.0.1:1',
  JWT_SECRET,
  LINK_SECRET,
};

/** Runs a service with `env` and resolves with its exit code and output; it must exit by itself. */
async function runToExit(kind: 'monolith' | 'balancer', env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = spawnProc(`${kind} (config)`, process.execPath, [kind === 'monolith' ? MONOLITH_MAIN : BALANCER_MAIN], env, ROOT);
  // 'close' comes once stdout and stderr have ended too ('exit' may come before their last lines).
  const closed = new Promise((resolve) => proc.child.once('close', resolve));
  const timer = setTimeout(() => void proc.kill(), 15_000);
  const status = await proc.exited;
  await closed;
  clearTimeout(timer);
  return { code: status.code, stderr: proc.output('stderr'), stdout: proc.output('stdout') };
}

/** The problem lines of a ConfigError's output (`<service>: invalid configuration:` then one per line). */
function problemLines(stderr: string): string[] {
  const at = stderr.indexOf('invalid configuration:\n');
  if (at < 0) return [];
  return stderr
    .slice(at)
    .split('\n')
    .slice(1)
    .filter((line) => line.startsWith('  '))
    .map((line) => line.trim());
}

/** Waits for a stderr line of `proc` that starts with `start` and returns it. */
function stderrLine(proc: Proc, start: string): Promise<string> {
  return proc.waitForLine((line) => (line.stream === 'stderr' && line.text.startsWith(start) ? line.text : undefined), 5000, `stderr line "${start}"`);
}

function without<T extends Record<string, string>>(env: T, name: keyof T): Record<string, string> {
  const copy: Record<string, string> = { ...env };
  delete copy[name as string];
  return copy;
}

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const truncatedPem = publicKey.export({ type: 'spki', format: 'pem' }).toString().replace(/\n[^\n]+\n-----END/, '\n-----END');

/** Cases both services refuse the same way: [name, variable values, the variable named]. */
const sharedCases: Array<[string, Record<string, string>, string]> = [
  ['JWT_PUBLIC_KEY not PEM', { JWT_PUBLIC_KEY: 'not-a-key' }, 'JWT_PUBLIC_KEY'],
  ['JWT_PUBLIC_KEY truncated', { JWT_PUBLIC_KEY: truncatedPem }, 'JWT_PUBLIC_KEY'],
  ['JWT_PUBLIC_KEY a private key', { JWT_PUBLIC_KEY: privatePem }, 'JWT_PUBLIC_KEY'],
  ['JWKS_URL without a scheme', { JWKS_URL: 'issuer.example/.well-known/jwks.json' }, 'JWKS_URL'],
  ['JWKS_URL not http(s)', { JWKS_URL: 'file:///etc/jwks.json' }, 'JWKS_URL'],
];

/** Asserts a refused start: status 2, the variable named in a problem line, no ready line, no stack trace. */
function expectRefused(result: { code: number | null; stderr: string; stdout: string }, variable: string): void {
  expect(result.code, result.stderr).toBe(2);
  expect(problemLines(result.stderr).some((line) => line.startsWith(variable))).toBe(true);
  expect(result.stdout).not.toContain('"ready"');
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('balancer configuration errors exit with code 2 and name the variable', () => {
  it.each([
    ['LINK_SECRET missing', without(balancerEnv, 'LINK_SECRET'), 'LINK_SECRET'],
    ['LINK_SECRET too short', { ...balancerEnv, LINK_SECRET: 'short' }, 'LINK_SECRET'],
    ['JWT_SECRET missing', without(balancerEnv, 'JWT_SECRET'), 'JWT_SECRET'],
    ['JWT_SECRET too short', { ...balancerEnv, JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['MONOLITHS missing', without(balancerEnv, 'MONOLITHS'), 'MONOLITHS'],
    ['MONOLITHS entry not host:port', { ...balancerEnv, MONOLITHS: 'just-a-host' }, 'MONOLITHS'],
    ['BALANCER_PORT not a number', { ...balancerEnv, BALANCER_PORT: 'eighty' }, 'BALANCER_PORT'],
    ['AUTH_TIMEOUT_MS not an integer', { ...balancerEnv, AUTH_TIMEOUT_MS: '1.5s' }, 'AUTH_TIMEOUT_MS'],
    ['MAX_PAYLOAD_BYTES below its minimum', { ...balancerEnv, MAX_PAYLOAD_BYTES: '10' }, 'MAX_PAYLOAD_BYTES'],
    ['BALANCER_HOST not a host', { ...balancerEnv, BALANCER_HOST: 'not a host' }, 'BALANCER_HOST'],
    ['ADMIN_HOST with a port', { ...balancerEnv, ADMIN_HOST: '127.0.0.1:9090' }, 'ADMIN_HOST'],
    ['ADMIN_PORT equal to BALANCER_PORT', { ...balancerEnv, BALANCER_PORT: '18080', ADMIN_PORT: '18080' }, 'ADMIN_PORT'],
    ['BALANCER_HOST not on this machine', { ...balancerEnv, BALANCER_HOST: '192.0.2.1' }, 'BALANCER_HOST'],
    ...sharedCases.map(([name, values, variable]): [string, Record<string, string>, string] => [name, { ...balancerEnv, ...values }, variable]),
  ])('%s', async (_name, env, variable) => {
    expectRefused(await runToExit('balancer', env), variable);
  });

  it('an empty environment names every missing variable in one run', async () => {
    const result = await runToExit('balancer', {});
    expect(result.code).toBe(2);
    expect(problemLines(result.stderr).map((line) => line.split(' ')[0])).toEqual(['LINK_SECRET', 'JWT_SECRET', 'MONOLITHS']);
  });

  it('names every bad variable at once, per-variable and cross-variable problems alike', async () => {
    const { code, stderr } = await runToExit('balancer', {
      ...without(balancerEnv, 'LINK_SECRET'),
      BALANCER_PORT: '70000',
      BALANCER_HOST: 'bad host',
      JWKS_URL: 'ftp://x',
      MONOLITHS: 'no-port',
      LINK_TLS_KEY: '/nonexistent/key.pem',
    });
    expect(code).toBe(2);
    expect(problemLines(stderr).map((line) => line.split(' ')[0])).toEqual(['BALANCER_HOST', 'BALANCER_PORT', 'JWKS_URL', 'LINK_SECRET', 'MONOLITHS', 'LINK_TLS_KEY', 'LINK_TLS_CERT']);
  });

  // A fixed port, as in production: uSockets would bind a second one with SO_REUSEPORT.
  it.each(['BALANCER_PORT', 'ADMIN_PORT'])('a second balancer on a taken %s exits 2 naming it', async (variable) => {
    const ports = { BALANCER_PORT: String(await freePort()), ADMIN_PORT: String(await freePort()) };
    const first = await startBalancer({ monoliths: ['127.0.0.1:1'], waitForMonoliths: 0, env: ports });
    const second = await runToExit('balancer', { ...balancerEnv, [variable]: ports[variable as keyof typeof ports] });
    expectRefused(second, variable);
    expect(problemLines(second.stderr)).toEqual([`${variable} ${ports[variable as keyof typeof ports]} is already in use on 127.0.0.1 (${variable === 'ADMIN_PORT' ? 'ADMIN_HOST' : 'BALANCER_HOST'}): another process listens there; stop it or choose another port`]);
    // The first still serves its clients alone.
    expect((await fetch(`${first.http}/health`)).status).toBe(200);
    await first.stop();
  });

  it('LOG_LEVEL still works, with a warning naming BALANCER_LOG_LEVEL', async () => {
    const b = await startBalancer({ monoliths: ['127.0.0.1:1'], waitForMonoliths: 0, env: { LOG_LEVEL: 'warn', BALANCER_LINK_TYPO: '1' } });
    expect(await stderrLine(b.proc, 'balancer: warning: LOG_LEVEL')).toBe('balancer: warning: LOG_LEVEL is deprecated: rename it BALANCER_LOG_LEVEL (LOG_LEVEL is still read for now)');
    expect(await stderrLine(b.proc, 'balancer: warning: BALANCER_')).toBe('balancer: warning: BALANCER_LINK_TYPO is not a balancer setting; ignored (misspelt?)');
    // The old name took effect: at warn, the info line "balancer listening" (written before the ready line) is not.
    expect(b.proc.output('stderr')).not.toContain('balancer listening');
    await b.stop();
  });
});

describe('monolith configuration errors exit with code 2 and name the variable', () => {
  it.each([
    ['JWT_SECRET missing', without(monolithEnv, 'JWT_SECRET'), 'JWT_SECRET'],
    ['JWT_SECRET too short', { ...monolithEnv, JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['LINK_SECRET missing', without(monolithEnv, 'LINK_SECRET'), 'LINK_SECRET'],
    ['MONOLITH_HTTP_PORT out of range', { ...monolithEnv, MONOLITH_HTTP_PORT: '65536' }, 'MONOLITH_HTTP_PORT'],
    ['REDIS_URL not a redis URL', { ...monolithEnv, REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
    ['MONOLITH_ID with a slash', { ...monolithEnv, MONOLITH_ID: 'a/b' }, 'MONOLITH_ID'],
    ['MONOLITH_HOST not a host', { ...monolithEnv, MONOLITH_HOST: 'my host' }, 'MONOLITH_HOST'],
    ['MONOLITH_HOST not on this machine', { ...monolithEnv, MONOLITH_HOST: '192.0.2.1' }, 'MONOLITH_HOST'],
    ['HOST (deprecated) not a host', { ...without(monolithEnv, 'MONOLITH_HOST'), HOST: '300.1.1.1' }, 'MONOLITH_HOST (set as HOST)'],
    ['MONOLITH_LINK_PORT equal to MONOLITH_HTTP_PORT', { ...monolithEnv, MONOLITH_HTTP_PORT: '13000', MONOLITH_LINK_PORT: '13000' }, 'MONOLITH_LINK_PORT'],
    ...sharedCases.map(([name, values, variable]): [string, Record<string, string>, string] => [name, { ...monolithEnv, ...values }, variable]),
  ])('%s', async (_name, env, variable) => {
    expectRefused(await runToExit('monolith', env), variable);
  });

  it('an empty environment names every missing variable in one run', async () => {
    const result = await runToExit('monolith', {});
    expect(result.code).toBe(2);
    expect(problemLines(result.stderr).map((line) => line.split(' ')[0])).toEqual(['LINK_SECRET', 'JWT_SECRET']);
  });

  it.each(['MONOLITH_HTTP_PORT', 'MONOLITH_LINK_PORT'] as const)('a second monolith on a taken %s exits 2 naming it', async (variable) => {
    const first = await startMonolith();
    const port = variable === 'MONOLITH_HTTP_PORT' ? first.httpPort : first.linkPort;
    const second = await runToExit('monolith', { ...monolithEnv, MONOLITH_ID: 'cfg-m2', [variable]: String(port) });
    expectRefused(second, variable);
    expect(problemLines(second.stderr)).toEqual([`${variable} ${port} is already in use on 127.0.0.1 (MONOLITH_HOST): another process listens there; stop it or choose another port`]);
    await first.stop();
  });

  it('HOST, HTTP_PORT, LINK_PORT and LOG_LEVEL still work, with one warning each naming the new name', async () => {
    const [httpPort, linkPort] = [await freePort(), await freePort()];
    const m = await startMonolith({
      omit: ['MONOLITH_HOST', 'MONOLITH_HTTP_PORT', 'MONOLITH_LINK_PORT'],
      env: { HOST: '127.0.0.1', HTTP_PORT: String(httpPort), LINK_PORT: String(linkPort), LOG_LEVEL: 'warn' },
    });
    expect([m.httpPort, m.linkPort]).toEqual([httpPort, linkPort]);
    for (const [old, renamed] of [['HOST', 'MONOLITH_HOST'], ['HTTP_PORT', 'MONOLITH_HTTP_PORT'], ['LINK_PORT', 'MONOLITH_LINK_PORT'], ['LOG_LEVEL', 'MONOLITH_LOG_LEVEL']]) {
      expect(await stderrLine(m.proc, `monolith: warning: ${old} `)).toBe(`monolith: warning: ${old} is deprecated: rename it ${renamed} (${old} is still read for now)`);
    }
    expect(m.proc.output('stderr').split('\n').filter((line) => line.startsWith('monolith: warning:'))).toHaveLength(4);
    // At warn, the info line "monolith listening" is not written.
    expect(m.proc.output('stderr')).not.toContain('monolith listening');
    await m.stop();
  });
});
