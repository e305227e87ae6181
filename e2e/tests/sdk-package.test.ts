import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEnv } from '../../testing/config.js';
import { ROOT, startStack, uniq, useHarness, userToken, type Stack } from '../harness/index.js';

/**
 * The SDK as a user outside the repo gets it: `@gateway/protocol` and `@gateway/client` packed
 * with pnpm (as they would be published), installed with npm in an empty project beside `ws` and
 * `typescript` from the registry, a TypeScript program compiled there with strict `tsc` and run
 * with node against a real stack; the SDK samples of docs/sdk.md compile there too.
 */
useHarness();

const PNPM = 'pnpm@10.20.0';
const PACKAGES = ['protocol', 'client'] as const;
/** npm and npx need HOME (their cache and ~/.npmrc); PATH is the one variable tests pass on. */
const ENV = { PATH: testEnv.PATH, HOME: homedir() };

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env: ENV, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} (in ${cwd}): ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The ```ts blocks of docs/sdk.md's "Client SDK" section. */
function readmeSdkSamples(): string[] {
  const readme = readFileSync(join(ROOT, 'docs/sdk.md'), 'utf8');
  const start = readme.indexOf('\n## Client SDK');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** Every module specifier a built file imports or re-exports (the packages emit static ones only). */
const specifiers = (file: string) => [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]!);

/**
 * The bare imports reachable from `entry` through relative ones and the packages in `follow`
 * (resolved to their files by `resolve`): what a browser would have to load.
 */
function bareImports(entry: string, follow: Record<string, string>): string[] {
  const seen = new Set<string>();
  const outside: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of specifiers(file)) {
      if (spec.startsWith('./')) visit(join(dirname(file), spec));
      else if (follow[spec]) visit(follow[spec]);
      else outside.push(`${file.slice(file.indexOf('node_modules'))}: ${spec}`);
    }
  };
  visit(entry);
  return outside;
}

const PROGRAM = `import WebSocket from 'ws';
import { connect, type GatewayError, type State } from '@gateway/client';

const [url, token] = process.argv.slice(2);
if (!url || !token) throw new Error('usage: main.js <url> <token>');
const gw = connect({ url, getToken: () => token, WebSocket });
const states: State[] = [];
gw.on('state', (s) => states.push(s));
gw.on('error', (e: GatewayError) => {
  console.error(\`gateway error \${e.code}: \${e.message}\`);
  process.exit(1);
});
const room: string = await new Promise((resolve) => gw.on('welcome', (w) => resolve(w.room)));
console.log(\`welcome room=\${room} states=\${states.join(',')}\`);
gw.close();
`;

const strict = { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: false };

let stack: Stack;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sdk-package-'));
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the SDK packed, installed and used outside the repo', () => {
  it('installs from its tarballs, compiles under strict tsc, connects and gets its welcome', { timeout: 180_000 }, async () => {
    const packs = join(work, 'packs');
    for (const name of PACKAGES) await run('npx', ['--yes', PNPM, 'pack', '--pack-destination', packs], join(ROOT, name), 60_000);
    const tarballs = Object.fromEntries(PACKAGES.map((name) => [name, join(packs, readdirSync(packs).find((f) => f.startsWith(`gateway-${name}-`))!)]));

    // Only the build, its maps and types, the manifest and the LICENSE: no sources, tests or build info.
    for (const name of PACKAGES) {
      const entries = (await run('tar', ['tzf', tarballs[name]!], work, 10_000)).trim().split('\n');
      expect(entries.filter((e) => !/^package\/(LICENSE|package\.json|dist\/[\w-]+\.(js|js\.map|d\.ts))$/.test(e)), name).toEqual([]);
      expect(entries.filter((e) => /\.test\.|tsbuildinfo/.test(e)), name).toEqual([]);
      expect(entries, name).toContain('package/LICENSE');
    }

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
    await run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarballs.protocol!, tarballs.client!, 'ws@^8.18.3', '@types/ws@^8.18.1', '@types/node@^20.19.0', 'typescript@~5.9.3'],
      app,
      120_000,
    );

    const installed = (name: string) => join(app, 'node_modules', '@gateway', name);
    const manifest = (name: string) => JSON.parse(readFileSync(join(installed(name), 'package.json'), 'utf8')) as Record<string, unknown>;
    const protocol = manifest('protocol');
    const client = manifest('client');
    expect(client.dependencies).toEqual({ '@gateway/protocol': protocol.version });
    for (const m of [protocol, client]) expect(m).toMatchObject({ license: 'MIT', type: 'module', sideEffects: false });
    for (const m of [protocol, client]) expect(m.private).toBeUndefined();
    for (const name of PACKAGES) expect(readFileSync(join(installed(name), 'LICENSE'), 'utf8')).toBe(readFileSync(join(ROOT, 'LICENSE'), 'utf8'));
    // A browser loads the SDK and the protocol's dependency-free entry, and nothing else.
    expect(bareImports(join(installed('client'), 'dist', 'index.js'), { '@gateway/protocol/codes': join(installed('protocol'), 'dist', 'codes.js') })).toEqual([]);

    // The program: Node types only (no DOM lib), emitted and run.
    writeFileSync(join(app, 'main.ts'), PROGRAM);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...strict, noEmit: false, outDir: 'out', lib: ['es2022'], types: ['node'] }, files: ['main.ts'] }));
    const tsc = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], app, 60_000);

    // The samples of docs/sdk.md: browser and Node code in one project, checked, not run.
    const samples = readmeSdkSamples();
    expect(samples.length).toBeGreaterThanOrEqual(2);
    samples.forEach((code, i) => writeFileSync(join(app, `readme-${i + 1}.ts`), code));
    writeFileSync(
      join(app, 'tsconfig.readme.json'),
      JSON.stringify({ compilerOptions: { ...strict, noEmit: true, lib: ['es2022', 'dom', 'dom.iterable'], types: ['node'] }, files: samples.map((_, i) => `readme-${i + 1}.ts`) }),
    );
    await run(process.execPath, [tsc, '-p', 'tsconfig.readme.json'], app, 60_000);

    const sub = uniq('pkg');
    const out = await run(process.execPath, [join(app, 'out', 'main.js'), stack.balancers[0]!.url(), await userToken({ sub })], app, 20_000);
    expect(out.trim()).toBe(`welcome room=user:${sub} states=authenticating,open`);
  });
});
