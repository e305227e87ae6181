import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { readConfig, type Env } from '@gateway/server-kit';
import { readRedisTopology, redisSpec } from '@gateway/server-kit/redis';
import { balancerSpec, loadConfig as loadBalancerConfig } from '../../balancer/dist/config.js';
import { monolithSpec, loadConfig as loadMonolithConfig } from '../../monolith/dist/config.js';

// The deploy recipes (deploy/) cannot run on a machine without a Docker engine or a cluster, so
// this reads them the way their runtimes would and checks them against the built services: every
// container environment loads with the service's own loadConfig (no problem and no warning, and
// no name the service does not read), every probe and port names a port that environment
// configures and a path served there, and the image holds every file a command names.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

type Kind = 'balancer' | 'monolith' | 'script';
/** A port a container's configuration opens; `internal` ones are never published. */
interface Port {
  port: number;
  variable: string;
  paths: readonly string[];
  internal?: boolean;
}
interface Target {
  kind: Kind;
  ports: Port[];
  drainMs: number;
  config: Record<string, unknown>;
}

/** Read outside the specs, straight from the environment (server-kit/src/log.ts). */

/** What each port serves, from the README's HTTP section; the link port answers only `/link`. */
const SERVICES = {
  balancer: {
    main: 'balancer/dist/main.js',
    names: Object.keys(balancerSpec),
    load: (env: Env, warn: (line: string) => void) => {
      const c = loadBalancerConfig(env, warn);
      const ports: Port[] = [
        { port: c.BALANCER_PORT, variable: 'BALANCER_PORT', paths: ['/ws', '/health', '/ready'] },
        { port: c.ADMIN_PORT, variable: 'ADMIN_PORT', paths: ['/health', '/ready', '/metrics'], internal: true },
      ];
      return { ports, drainMs: c.DRAIN_WINDOW_MS, config: c };
    },
  },
  monolith: {
    main: 'monolith/dist/main.js',
    names: Object.keys(monolithSpec),
    load: (env: Env, warn: (line: string) => void) => {
      const c = loadMonolithConfig(env, warn);
      const ports: Port[] = [
        { port: c.MONOLITH_HTTP_PORT, variable: 'MONOLITH_HTTP_PORT', paths: ['/health', '/ready', '/metrics'] },
        { port: c.MONOLITH_LINK_PORT, variable: 'MONOLITH_LINK_PORT', paths: ['/link'], internal: true },
      ];
      return { ports, drainMs: c.DRAIN_TIMEOUT_MS, config: c };
    },
  },
};

/**
 * A script's environment: the fixture loader reads the monoliths' Redis settings (as they read
 * them); another script, the variables it names (`process.env.NAME`). The dashboard serves WEB_PORT.
 */
function loadScript(file: string, env: Env, where: string, problems: string[]): Target {
  const fixture = file === 'scripts/load-fixture.mjs';
  const reads = new Set(fixture ? Object.keys(redisSpec) : [...read(file).matchAll(/process\.env\.([A-Z0-9_]+)/g)].map((m) => m[1]!));
  for (const name of Object.keys(env)) if (!reads.has(name)) problems.push(`${where}: ${name} is not read by ${file}`);
  if (fixture) {
    const found: string[] = [];
    try {
      if (!readRedisTopology(readConfig(redisSpec, env), env, found)) found.push('no Redis topology');
    } catch (err) {
      found.push(...((err as { problems?: string[] }).problems ?? [(err as Error).message]));
    }
    problems.push(...found.map((p) => `${where}: ${p}`));
  }
  const ports = env.WEB_PORT === undefined ? [] : [{ port: Number(env.WEB_PORT), variable: 'WEB_PORT', paths: ['/', '/config.json'] }];
  return { kind: 'script', ports, drainMs: 0, config: env };
}

/** Loads `env` as the service in `command` does at start-up; every problem and warning goes to `problems`. */
function loadTarget(command: unknown, env: Env, where: string, problems: string[]): Target | undefined {
  const file = Array.isArray(command) && command[0] === 'node' ? String(command[1]) : undefined;
  // commandProblems reports a command that is not `node <file>` or names a missing file.
  if (!file || !existsSync(`${ROOT}${file}`)) return undefined;
  const kind = file === SERVICES.balancer.main ? 'balancer' : file === SERVICES.monolith.main ? 'monolith' : undefined;
  if (!kind) return loadScript(file, env, where, problems);
  const known = new Set(SERVICES[kind].names);
  for (const name of Object.keys(env)) if (!known.has(name)) problems.push(`${where}: ${name} is not a ${kind} setting`);
  const warnings: string[] = [];
  try {
    return { kind, ...SERVICES[kind].load(env, (line) => warnings.push(line)) };
  } catch (err) {
    const list = (err as { problems?: string[] }).problems ?? [(err as Error).message];
    problems.push(...list.map((p) => `${where}: ${p}`));
    return undefined;
  } finally {
    problems.push(...warnings.map((w) => `${where}: warning: ${w}`));
  }
}

function portProblem(target: Target, port: number, path: string | undefined, what: string): string[] {
  const open = target.ports.find((p) => p.port === port);
  if (!open) return [`${what}: port ${port} is none of ${target.ports.map((p) => `${p.variable}=${p.port}`).join(', ') || 'the configured ports'}`];
  if (path !== undefined && !open.paths.includes(path)) return [`${what}: ${open.variable} (${port}) does not serve ${path}`];
  return [];
}

function drainProblem(target: Target, graceMs: number | undefined, what: string, pauseMs = 0): string[] {
  if (target.kind === 'script') return [];
  if (graceMs === undefined) return [`${what}: no grace period (the drain needs more than ${target.drainMs} ms)`];
  return graceMs > target.drainMs + pauseMs ? [] : [`${what}: grace ${graceMs} ms is not more than the drain window ${target.drainMs} ms${pauseMs ? ` plus preStop ${pauseMs} ms` : ''}`];
}

/** The same token rules, nesting limit and link secret on every side. */
function agreementProblems(targets: Target[], what: string): string[] {
  const services = targets.filter((t) => t.kind !== 'script');
  return ['JWT_SECRET', 'LINK_SECRET', 'JWT_MAX_LIFETIME_S', 'JWT_CLOCK_TOLERANCE_S', 'MAX_JSON_DEPTH']
    .filter((name) => new Set(services.map((t) => JSON.stringify(t.config[name]))).size > 1)
    .map((name) => `${what}: ${name} differs between services`);
}

// ---- Dockerfile -------------------------------------------------------------------------------

/** Paths in an image (relative to its WORKDIR /app): files, directories ending in '/', '/' for all. */
type ImageFiles = string[];
/** Each stage's files by name; `default` is the last stage, what a build without --target makes. */
interface Images {
  stages: Map<string, ImageFiles>;
  default: string;
}

function checkDockerfile(text: string): { problems: string[]; images: Images } {
  const problems: string[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Array<{ name: string; lines: string[]; files: ImageFiles; user: string | undefined }> = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const stage = stages.at(-1);
    if (op === 'ARG' && !stage) {
      const [name = '', value = ''] = rest.join(' ').split('=');
      args.set(name, value);
    } else if (op === 'FROM') {
      const [from = '', , name = `stage${stages.length}`] = rest.map((w) => w.replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? ''));
      const parent = stages.find((s) => s.name === from);
      if (!parent && from !== 'node:20-bookworm-slim') problems.push(`FROM ${from}: the pinned uWebSockets.js needs node:20-bookworm-slim`);
      stages.push({ name, lines: [], files: [...(parent?.files ?? [])], user: parent?.user });
    } else if (stage) {
      stage.lines.push(line);
      if (op === 'USER') stage.user = rest[0];
      if (op === 'COPY') problems.push(...copied(rest, stage.files));
      if (op === 'CMD') {
        if (!stage.user || /^(root|0)(:|$)/.test(stage.user)) problems.push(`stage ${stage.name} runs as ${stage.user ?? 'root'}`);
        problems.push(...commandProblems(JSON.parse(rest.join(' ')), stage.files, `Dockerfile ${stage.name} CMD`));
      }
    }
  }
  const pnpm = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager.replace('pnpm@', '');
  const runs = [...text.matchAll(/npx --yes pnpm@(\S+)/g)].map((m) => m[1]);
  if (!runs.length || runs.some((v) => v !== pnpm)) problems.push(`pnpm must run as \`npx --yes pnpm@${pnpm}\` (package.json), found ${runs.join(', ') || 'none'}`);
  // --frozen-lockfile compares the lockfile with every workspace package's manifest.
  for (const pkg of (parse(read('pnpm-workspace.yaml')) as { packages: string[] }).packages) {
    if (!text.includes(`COPY ${pkg}/package.json `)) problems.push(`the install stages do not copy ${pkg}/package.json (a workspace package)`);
  }
  const runtime = stages.at(-1);
  if (!runtime?.lines.includes('ENV NODE_ENV=production')) problems.push('the runtime stage does not set NODE_ENV=production');
  if (!runtime?.lines.some((l) => l.startsWith('CMD '))) problems.push('the runtime stage has no CMD');
  return { problems, images: { stages: new Map(stages.map((s) => [s.name, s.files])), default: runtime?.name ?? '' } };
}

/** Adds what a COPY (its words after COPY) puts in a stage to `files`; a problem per missing source. */
function copied(words: string[], files: ImageFiles): string[] {
  const from = words.find((w) => w.startsWith('--from='))?.slice(7);
  // prod-deps holds the manifests and production node_modules, as this checkout does.
  if (from === 'prod-deps') return [];
  const problems: string[] = [];
  const srcs = words.filter((w) => !w.startsWith('--'));
  const dest = srcs.pop() ?? '';
  const into = posix.normalize(dest).replace(/^\.\/?/, '').replace(/\/$/, '');
  for (const src of srcs) {
    // The build stage's /app is this checkout after `npm run build`.
    const path = from ? src.replace(/^\/app\/?/, '') || '.' : src;
    if (!existsSync(`${ROOT}${path}`)) {
      problems.push(`COPY ${from ? `--from=${from} ` : ''}${src}: ${path} does not exist here (after the build)`);
      continue;
    }
    // A directory's contents land in dest; a file lands in dest/ by its name, or as dest.
    if (statSync(`${ROOT}${path}`).isDirectory()) files.push(`${into}/`);
    else files.push(srcs.length > 1 || dest.endsWith('/') ? posix.join(into, basename(path)) : into);
  }
  return problems;
}

/** Paths a script imports relatively (static and dynamic), from ROOT. */
function imports(file: string): string[] {
  return [...read(file).matchAll(/(?:from|import\()\s*'(\.\.?\/[^']+)'/g)].map((m) => posix.normalize(posix.join(posix.dirname(file), m[1]!)));
}

/** The file a `node <file>` command runs exists after the build and is in the image, with what it imports. */
function commandProblems(command: unknown, image: ImageFiles, what: string): string[] {
  if (!Array.isArray(command) || command[0] !== 'node' || typeof command[1] !== 'string') return [`${what}: ${JSON.stringify(command)} is not \`node <file>\``];
  const problems: string[] = [];
  const inImage = (path: string) => image.some((p) => p === '/' || p === path || (p.endsWith('/') && path.startsWith(p)));
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!existsSync(`${ROOT}${file}`)) return void problems.push(`${what}: ${file} does not exist (after the build)`);
    if (!inImage(file)) problems.push(`${what}: ${file} is not copied into the image`);
    if (file.endsWith('.mjs')) imports(file).forEach(visit);
  };
  visit(command[1]);
  return problems;
}

// ---- compose ----------------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: { target?: string };
  command?: unknown;
  environment?: Record<string, string | number | boolean | null>;
  ports?: string[];
  expose?: string[];
  networks?: string[];
  healthcheck?: { test?: string[] };
  restart?: string;
  stop_grace_period?: string;
  depends_on?: Record<string, unknown>;
}
interface Compose {
  services: Record<string, ComposeService>;
}

/** KEY=value lines, as compose reads deploy/.env and kubectl an --from-env-file. */
function dotenv(text: string): Map<string, string> {
  return new Map(text.split('\n').filter((l) => /^[A-Z_][A-Z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Compose interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:?error}`. */
function interpolate(value: string, vars: Map<string, string>, what: string, problems: string[]): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)/g, (all, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (all === '$$') return '$';
    const name = (braced ?? bare)!;
    const set = vars.get(name);
    if (set !== undefined && (set !== '' || !op?.startsWith(':'))) return set;
    if (op?.endsWith('-')) return arg ?? '';
    problems.push(`${what}: \${${name}} is not set in .env.example`);
    return '';
  });
}

function durationMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  return parts.reduce((sum, m) => sum + Number(m[1]) * units[m[2]!]!, 0);
}

function checkCompose(compose: Compose, vars: Map<string, string>, images: Images): string[] {
  const problems: string[] = [];
  const targets = new Map<string, Target>();
  for (const [name, svc] of Object.entries(compose.services)) {
    const where = `compose ${name}`;
    if (svc.image?.startsWith('redis:')) {
      if (!/^redis:7(\.|-|$)/.test(svc.image)) problems.push(`${where}: ${svc.image} is not Redis 7.x`);
      continue;
    }
    const image = images.stages.get(svc.build?.target ?? images.default);
    if (!image) {
      problems.push(`${where}: build target ${svc.build?.target} is no stage of the Dockerfile`);
      continue;
    }
    const env: Env = {};
    for (const [key, value] of Object.entries(svc.environment ?? {})) env[key] = interpolate(String(value ?? ''), vars, `${where} ${key}`, problems);
    problems.push(...commandProblems(svc.command, image, where));
    const target = loadTarget(svc.command, env, where, problems);
    if (!target) continue;
    targets.set(name, target);
    for (const spec of svc.ports ?? []) {
      const port = Number(spec.split(':').at(-1)!.replace(/\/\w+$/, ''));
      problems.push(...portProblem(target, port, undefined, `${where} ports ${spec}`));
      const open = target.ports.find((p) => p.port === port);
      if (open?.internal) problems.push(`${where}: ${open.variable} (${port}) is published; it must stay inside the network`);
    }
    for (const port of svc.expose ?? []) problems.push(...portProblem(target, Number(port), undefined, `${where} expose ${port}`));
    const test = svc.healthcheck?.test;
    const url = test?.[1] === 'node' && test[2] === 'deploy/probe.mjs' ? new URL(String(test[3])) : undefined;
    const oneShot = svc.restart === 'no' && !svc.healthcheck; // the fixture loader: runs, exits
    if (!url && !oneShot) problems.push(`${where}: healthcheck is not \`node deploy/probe.mjs <url>\``);
    else if (url) {
      problems.push(...commandProblems(test?.slice(1), image, `${where} healthcheck`));
      if (!['127.0.0.1', 'localhost'].includes(url.hostname)) problems.push(`${where}: healthcheck ${url} is not this container's`);
      if (target.kind !== 'script' && url.pathname !== '/ready') problems.push(`${where}: healthcheck ${url} is not /ready`);
      problems.push(...portProblem(target, Number(url.port), url.pathname, `${where} healthcheck`));
    }
    problems.push(...drainProblem(target, durationMs(svc.stop_grace_period), `${where} stop_grace_period`));
    for (const dep of Object.keys(svc.depends_on ?? {})) if (!compose.services[dep]) problems.push(`${where}: depends_on ${dep}, which does not exist`);
  }
  // Every address one container dials is another's, on a network they share, at a port it opens.
  const reach = (from: string, host: string, port: number, kind: Kind | 'redis', path: string | undefined, what: string) => {
    const to = compose.services[host];
    const shared = (compose.services[from]?.networks ?? []).some((n) => to?.networks?.includes(n));
    const target = targets.get(host);
    if (!to || !shared) problems.push(`${what}: ${host} is not a service on a network ${from} is on`);
    else if (kind === 'redis') {
      if (!to.image?.startsWith('redis:') || port !== 6379) problems.push(`${what}: ${host}:${port} is not Redis`);
    } else if (target?.kind !== kind) problems.push(`${what}: ${host} is not a ${kind}`);
    else problems.push(...portProblem(target, port, path, what));
  };
  for (const [name, t] of targets) {
    const c = t.config;
    for (const address of (c.MONOLITHS as string[] | undefined) ?? []) {
      const [host = '', port = ''] = address.split(':');
      reach(name, host, Number(port), 'monolith', '/link', `compose ${name} MONOLITHS ${address}`);
    }
    for (const key of ['REDIS_URL', 'MONOLITH_HTTP']) {
      if (typeof c[key] !== 'string') continue;
      const url = new URL(c[key]);
      reach(name, url.hostname, Number(url.port), key === 'REDIS_URL' ? 'redis' : 'monolith', key === 'REDIS_URL' ? undefined : '/health', `compose ${name} ${key}`);
    }
    // WS_URL is the browser's: a balancer port published on this host.
    for (const ws of typeof c.WS_URL === 'string' ? c.WS_URL.split(',') : []) {
      const url = new URL(ws);
      const published = Object.entries(compose.services).flatMap(([host, s]) => (s.ports ?? []).map((p) => ({ host, parts: p.split(':') })));
      const hit = published.find((p) => p.parts.at(-2) === url.port);
      const target = hit && targets.get(hit.host);
      if (!target || target.kind !== 'balancer') problems.push(`compose ${name} WS_URL ${ws}: no balancer publishes port ${url.port}`);
      else problems.push(...portProblem(target, Number(hit.parts.at(-1)), url.pathname, `compose ${name} WS_URL ${ws}`));
    }
  }
  problems.push(...agreementProblems([...targets.values()], 'compose'));
  return problems;
}

// ---- Kubernetes -------------------------------------------------------------------------------

type Labels = Record<string, string>;
interface ContainerPort {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}
interface Container {
  name: string;
  command?: unknown;
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
}
interface K8sDoc {
  kind: string;
  metadata: { name: string; annotations?: Labels };
  data?: Record<string, unknown>;
  spec?: {
    type?: string;
    clusterIP?: string;
    selector?: Labels & { matchLabels?: Labels };
    podSelector?: { matchLabels?: Labels };
    ports?: Array<{ port: number; targetPort?: string | number }>;
    ingress?: Array<{ ports?: Array<{ port?: string | number }> }>;
    template?: { metadata: { labels: Labels; annotations?: Labels }; spec: { terminationGracePeriodSeconds?: number; containers: Container[] } };
  };
}
interface Pod {
  name: string;
  labels: Labels;
  container: Container;
  target: Target;
}

const selects = (selector: Labels | undefined, labels: Labels) => !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A probe's or Service's port (a number or a container port's name) as a number. */
function resolvePort(pod: Pod, port: string | number | undefined): number {
  return typeof port === 'number' ? port : (pod.container.ports?.find((p) => p.name === port)?.containerPort ?? Number.NaN);
}

/** `secrets`: the keys of each Secret by name (from the env files its generator reads). */
function checkK8s(docs: K8sDoc[], secrets: Map<string, Map<string, string>>, images: Images): string[] {
  const problems: string[] = [];
  const image = images.stages.get(images.default)!;
  // ConfigMaps and Secrets by name, each a map of key to value.
  const sources = new Map<string, Map<string, string>>();
  for (const d of docs.filter((doc) => doc.kind === 'ConfigMap')) {
    for (const [key, value] of Object.entries(d.data ?? {})) if (typeof value !== 'string') problems.push(`k8s ConfigMap ${d.metadata.name}: ${key} must be a string (quote it)`);
    sources.set(`ConfigMap/${d.metadata.name}`, new Map(Object.entries(d.data ?? {}).map(([k, v]) => [k, String(v)])));
  }
  for (const [name, keys] of secrets) sources.set(`Secret/${name}`, keys);
  const pods: Pod[] = [];
  for (const d of docs.filter((doc) => doc.kind === 'Deployment')) {
    const where = `k8s ${d.metadata.name}`;
    const template = d.spec!.template!;
    for (const container of template.spec.containers) {
      const env: Env = {};
      for (const e of container.envFrom ?? []) {
        const ref = e.configMapRef ? `ConfigMap/${e.configMapRef.name}` : `Secret/${e.secretRef?.name}`;
        const source = sources.get(ref);
        if (source) Object.assign(env, Object.fromEntries(source));
        else problems.push(`${where}: envFrom ${ref} does not exist`);
      }
      for (const e of container.env ?? []) {
        const { secretKeyRef, configMapKeyRef, fieldRef } = e.valueFrom ?? {};
        const ref = secretKeyRef ? { ...secretKeyRef, kind: 'Secret' } : configMapKeyRef && { ...configMapKeyRef, kind: 'ConfigMap' };
        // The values the kubelet would give: a pod name of this Deployment, a pod address.
        const field = fieldRef?.fieldPath === 'metadata.name' ? `${d.metadata.name}-6d4cf56db6-x2x7q` : fieldRef?.fieldPath === 'status.podIP' ? '10.1.2.3' : undefined;
        const value = e.value ?? field ?? (ref && sources.get(`${ref.kind}/${ref.name}`)?.get(ref.key));
        if (value !== undefined) env[e.name] = value;
        else if (!ref?.optional) problems.push(`${where}: ${e.name} refers to ${ref ? `${ref.name}/${ref.key}` : JSON.stringify(e.valueFrom)}, which does not exist`);
      }
      problems.push(...commandProblems(container.command, image, where));
      const target = loadTarget(container.command, env, where, problems);
      if (!target) continue;
      const pod = { name: d.metadata.name, labels: template.metadata.labels, container, target };
      pods.push(pod);
      for (const p of container.ports ?? []) problems.push(...portProblem(target, p.containerPort, undefined, `${where} containerPort ${p.name ?? p.containerPort}`));
      for (const [probe, path] of [['readinessProbe', '/ready'], ['livenessProbe', '/health']] as const) {
        const get = container[probe]?.httpGet;
        if (get?.path !== path) problems.push(`${where}: ${probe} is not GET ${path}`);
        else problems.push(...portProblem(target, resolvePort(pod, get.port), path, `${where} ${probe} port ${get.port}`));
      }
      const stop = container.lifecycle?.preStop;
      const pauseS = stop?.sleep?.seconds ?? (stop?.exec?.command?.[0] === 'sleep' ? Number(stop.exec.command[1]) : 0);
      const grace = template.spec.terminationGracePeriodSeconds;
      problems.push(...drainProblem(target, grace === undefined ? undefined : grace * 1000, `${where} terminationGracePeriodSeconds`, pauseS * 1000));
      const a = template.metadata.annotations ?? {};
      if (a['prometheus.io/scrape'] === 'true') problems.push(...portProblem(target, Number(a['prometheus.io/port']), a['prometheus.io/path'] ?? '/metrics', `${where} prometheus.io annotations`));
      const r = container.resources;
      if (!r?.requests?.cpu || !r.requests.memory || !r.limits?.memory) problems.push(`${where}: resources need cpu and memory requests and a memory limit`);
    }
    if (!docs.some((p) => p.kind === 'PodDisruptionBudget' && selects(p.spec?.selector?.matchLabels, template.metadata.labels))) problems.push(`${where}: no PodDisruptionBudget`);
  }
  for (const s of docs.filter((d) => d.kind === 'Service' || d.kind === 'NetworkPolicy')) {
    const where = `k8s ${s.kind} ${s.metadata.name}`;
    const selector = s.kind === 'Service' ? s.spec?.selector : s.spec?.podSelector?.matchLabels;
    const selected = pods.filter((p) => selects(selector, p.labels));
    if (!selected.length) problems.push(`${where}: selects no Deployment's pods`);
    const ports = s.kind === 'Service' ? (s.spec?.ports ?? []).map((p) => p.targetPort ?? p.port) : (s.spec?.ingress ?? []).flatMap((i) => (i.ports ?? []).map((p) => p.port));
    for (const pod of selected) {
      for (const port of ports) {
        const number = resolvePort(pod, port);
        problems.push(...portProblem(pod.target, number, undefined, `${where} port ${port} on ${pod.name}`));
        const exposed = s.spec?.type === 'LoadBalancer' || s.spec?.type === 'NodePort';
        if (exposed && pod.target.ports.find((p) => p.port === number)?.internal) problems.push(`${where}: exposes ${pod.name}'s internal port ${port} outside the cluster`);
      }
    }
  }
  // MONOLITH_DNS names a headless Service of the monoliths, at their link port (pod A records).
  for (const b of pods.filter((p) => typeof p.target.config.MONOLITH_DNS === 'string')) {
    const [host = '', port = ''] = String(b.target.config.MONOLITH_DNS).split(':');
    const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === host);
    const monoliths = pods.filter((p) => p.target.kind === 'monolith' && selects(svc?.spec?.selector, p.labels));
    if (svc?.spec?.clusterIP !== 'None' || !monoliths.length) problems.push(`k8s ${b.name} MONOLITH_DNS: ${host} is not a headless Service of the monoliths`);
    for (const m of monoliths) problems.push(...portProblem(m.target, Number(port), '/link', `k8s ${b.name} MONOLITH_DNS ${host}:${port}`));
  }
  problems.push(...agreementProblems(pods.map((p) => p.target), 'k8s'));
  return problems;
}

// ---- the recipes ------------------------------------------------------------------------------

function recipes() {
  const dockerfile = read('deploy/Dockerfile');
  const compose = parse(read('deploy/compose.yaml'), { merge: true }) as Compose;
  const kustomization = parse(read('deploy/k8s/kustomization.yaml')) as { resources: string[]; secretGenerator: Array<{ name: string; envs: string[] }> };
  const docs = kustomization.resources.flatMap((file) => parseAllDocuments(read(`deploy/k8s/${file}`)).map((doc) => doc.toJS() as K8sDoc));
  // The secrets an operator copies from the example files: the compose .env, the generated Secret.
  const secrets = new Map(kustomization.secretGenerator.map((g) => [g.name, new Map(g.envs.flatMap((f) => [...dotenv(read(`deploy/k8s/${f}.example`))]))]));
  return { dockerfile, compose, vars: dotenv(read('deploy/.env.example')), docs, secrets };
}

describe('deploy recipes (deploy/): read as their runtimes would, checked against the built services', () => {
  it('the Dockerfile builds on the pinned Node and pnpm, runs as non-root, and its CMD is a built file', () => {
    const { problems } = checkDockerfile(recipes().dockerfile);
    expect(problems).toEqual([]);
    const ignored = read('deploy/Dockerfile.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '**/.env', '**/*.env']));
  });

  it('compose: every environment loads, every port, health check and address is one a service opens', () => {
    const r = recipes();
    expect(checkCompose(r.compose, r.vars, checkDockerfile(r.dockerfile).images)).toEqual([]);
    expect(Object.keys(r.compose.services).filter((n) => /^(monolith|balancer)-/.test(n))).toHaveLength(4);
  });

  it('Kubernetes: every Deployment loads, probes, Services, policies and grace periods match it', () => {
    const r = recipes();
    expect(checkK8s(r.docs, r.secrets, checkDockerfile(r.dockerfile).images)).toEqual([]);
    const kinds = r.docs.map((d) => d.kind);
    expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'PodDisruptionBudget')).toHaveLength(2);
  });

  it('each Redis topology in deploy/README.md loads in the monolith\'s Kubernetes environment', () => {
    const readme = read('deploy/README.md');
    const section = readme.slice(readme.indexOf('\n## Redis'), readme.indexOf('\n## ', readme.indexOf('\n## Redis') + 1));
    const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1]!) as Labels);
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const r = recipes();
    for (const block of blocks) {
      const docs = structuredClone(r.docs);
      const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'gateway-monolith')!;
      cm.data = { ...Object.fromEntries(Object.entries(cm.data!).filter(([k]) => !k.startsWith('REDIS_'))), ...block };
      expect(checkK8s(docs, r.secrets, checkDockerfile(r.dockerfile).images), JSON.stringify(block)).toEqual([]);
    }
  });

  // The checks above pass on the real files; these show they would fail on a broken one.
  it('catches a misspelt variable, an unknown one, a wrong port, a short grace period and a missing file', () => {
    const r = recipes();
    const images = checkDockerfile(r.dockerfile).images;
    const broken = (edit: (c: Compose, docs: K8sDoc[]) => void) => {
      const compose = structuredClone(r.compose);
      const docs = structuredClone(r.docs);
      edit(compose, docs);
      return [...checkCompose(compose, r.vars, images), ...checkK8s(docs, r.secrets, images)].join('\n');
    };
    const svc = (c: Compose, name: string) => c.services[name]!;
    const doc = (docs: K8sDoc[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
    const container = (docs: K8sDoc[], name: string) => doc(docs, 'Deployment', name).spec!.template!.spec.containers[0]!;
    // Unprefixed: loadConfig ignores it silently, so only the name check sees it.
    expect(broken((c) => (svc(c, 'balancer-1').environment!.DRAIN_WINDOW = '5000'))).toContain('compose balancer-1: DRAIN_WINDOW is not a balancer setting');
    expect(broken((_, d) => (doc(d, 'ConfigMap', 'gateway-balancer').data!.BALANCER_PROT = '8080'))).toContain('warning: BALANCER_PROT is not a balancer setting');
    expect(broken((c) => (svc(c, 'monolith-1').environment!.REDIS_URL = 'redis://redis:6380'))).toContain('redis:6380 is not Redis');
    expect(broken((c) => (svc(c, 'balancer-2').environment!.MONOLITHS = 'monolith-1:3000'))).toContain('MONOLITH_HTTP_PORT (3000) does not serve /link');
    expect(broken((c) => (svc(c, 'balancer-1').ports = ['9090:9090']))).toContain('ADMIN_PORT (9090) is published');
    expect(broken((c) => (svc(c, 'monolith-2').stop_grace_period = '10s'))).toContain('grace 10000 ms is not more than the drain window 10000 ms');
    expect(broken((_, d) => (container(d, 'gateway-balancer').readinessProbe!.httpGet!.port = 9091))).toContain('port 9091 is none of BALANCER_PORT=8080, ADMIN_PORT=9090');
    expect(broken((_, d) => (doc(d, 'Service', 'gateway-monolith-api').spec!.ports![0]!.targetPort = 3002))).toContain('port 3002 is none of');
    expect(broken((_, d) => (doc(d, 'ConfigMap', 'gateway-balancer').data!.MONOLITH_DNS = 'gateway-monolith-api:3001'))).toContain('is not a headless Service of the monoliths');
    expect(broken((_, d) => (doc(d, 'Deployment', 'gateway-balancer').spec!.template!.spec.terminationGracePeriodSeconds = 12))).toContain('plus preStop 5000 ms');
    expect(broken((_, d) => (container(d, 'gateway-monolith').env![1]!.valueFrom!.secretKeyRef!.key = 'JWT'))).toContain('gateway-secrets/JWT, which does not exist');
    expect(broken((_, d) => (container(d, 'gateway-monolith').command = ['node', 'monolith/dist/server.js']))).toContain('monolith/dist/server.js does not exist');
    const withoutProbe = checkDockerfile(r.dockerfile.replace('COPY deploy/probe.mjs deploy/', '')).images;
    expect(checkCompose(r.compose, r.vars, withoutProbe).join('\n')).toContain('compose balancer-1 healthcheck: deploy/probe.mjs is not copied into the image');
    expect(checkDockerfile(r.dockerfile.replaceAll('USER 1000:1000', 'USER root')).problems).toContain('stage runtime runs as root');
    expect(checkDockerfile(r.dockerfile.replace('COPY bench/package.json bench/', '')).problems).toContain('the install stages do not copy bench/package.json (a workspace package)');
  });
});

describe('deploy/probe.mjs (the containers\' health check)', () => {
  const probe = (url: string) =>
    new Promise<number | null>((resolve) => execFile(process.execPath, [`${ROOT}deploy/probe.mjs`, url], (err) => resolve(err ? ((err as { code?: number }).code ?? null) : 0)));

  it('exits 0 on a 2xx, 1 on a 503 or a refused connection', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/ready' ? 200 : 503).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await probe(`http://127.0.0.1:${port}/ready`)).toBe(0);
      expect(await probe(`http://127.0.0.1:${port}/draining`)).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await probe(`http://127.0.0.1:${port}/ready`)).toBe(1);
  });
});
