/**
 * Which uWebSockets.js build the balancer can load on a given Node.js and C library. Pure: the
 * loader (uws.ts) reads the running process and loads the binary this chooses.
 */

/** The C library of the running process, as Node's diagnostic report shows it. */
export type CLibrary = { family: 'glibc'; version: string } | { family: 'musl' } | { family: 'none' };

/** What decides whether a prebuilt uWS binary loads: its file name and the libc it links. */
export interface UwsHost {
  platform: string;
  arch: string;
  /** `process.versions.node`, for messages. */
  node: string;
  /** `process.versions.modules`: the Node ABI a `.node` binary is built for. */
  abi: string;
  libc: CLibrary;
}

/** One uWS package the balancer depends on, pinned to `version` in balancer/package.json. */
export interface UwsBuild {
  readonly name: string;
  readonly version: string;
  /** Node ABI -> Node major, for each ABI it ships a binary for that this project supports. */
  readonly nodes: Readonly<Record<string, number>>;
  /** `${platform}-${arch}` pairs it ships binaries for. */
  readonly targets: readonly string[];
  /** The newest GLIBC_ symbol version any of its Linux binaries needs (a test reads the files). */
  readonly glibc: string;
  /** Where its `uws_<platform>_<arch>_<abi>.node` files sit, relative to its main entry. */
  readonly dir: string;
}

/**
 * Newest first. The first is upstream's v20.56.0 binaries branch republished unchanged (its
 * `source_commit` names the upstream commit); it needs glibc 2.38, newer than Debian 12's 2.36. The
 * second needs glibc 2.28 (as Node 20 itself does), and Node 20 is the only ABI of it this project
 * supports. Its own entry point falls back to a slow pure-JS shim; the loader never calls it.
 */
export const UWS_BUILDS: readonly UwsBuild[] = [
  {
    name: '@btc-vision/uwebsockets.js',
    version: '20.56.0',
    nodes: { '115': 20, '127': 22, '137': 24, '141': 25 },
    targets: ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'],
    glibc: '2.38',
    dir: '.',
  },
  {
    name: '@trufflesuite/uws-js-unofficial',
    version: '20.30.0-unofficial.0',
    nodes: { '115': 20 },
    targets: ['linux-x64', 'linux-arm64', 'linux-arm', 'darwin-x64', 'darwin-arm64', 'win32-x64'],
    glibc: '2.28',
    dir: '../binaries',
  },
];

export interface UwsCandidate {
  build: UwsBuild;
  /** The binary's file name inside `build.dir`. */
  file: string;
}

export interface UwsChoice {
  /** Builds whose binary should load on this host, newest first: the loader tries them in order. */
  candidates: UwsCandidate[];
  /** One line per other build: what it would need. */
  refused: string[];
}

/** The builds that fit `host`, newest first, and what each of the others would need. */
export function chooseUwsBuilds(host: UwsHost, builds: readonly UwsBuild[] = UWS_BUILDS): UwsChoice {
  const target = `${host.platform}-${host.arch}`;
  const candidates: UwsCandidate[] = [];
  const refused: string[] = [];
  for (const build of builds) {
    const id = `${build.name}@${build.version}`;
    if (!build.targets.includes(target)) {
      refused.push(`${id} ships no ${target} binary`);
      continue;
    }
    const needs: string[] = [];
    if (!(host.abi in build.nodes)) needs.push(`Node ${listOr(Object.values(build.nodes).map(String))}`);
    // Outside Linux the binaries link the system's own C library, which every release has.
    if (host.platform === 'linux' && !(host.libc.family === 'glibc' && compareVersions(host.libc.version, build.glibc) >= 0)) {
      needs.push(`glibc >= ${build.glibc}`);
    }
    if (needs.length) refused.push(`${id} would load with ${needs.join(' and ')}`);
    else candidates.push({ build, file: `uws_${host.platform}_${host.arch}_${host.abi}.node` });
  }
  return { candidates, refused };
}

/** The error when no build loads: the host as found, what each build needs, and any load errors. */
export function noUwsMessage(host: UwsHost, refused: readonly string[], loadErrors: readonly string[] = []): string {
  return [
    `uWebSockets.js: no native binary loads on Node ${host.node} (ABI ${host.abi}) on ${host.platform}-${host.arch}${host.platform === 'linux' ? ` with ${describeLibc(host.libc)}` : ''}.`,
    ...refused.map((line) => `  ${line}`),
    ...loadErrors.map((line) => `  ${line}`),
    'Refusing to start on the slow pure-JS fallback.',
  ].join('\n');
}

/** Reads the C library off a Node diagnostic report (`process.report.getReport()`). */
export function cLibraryOf(report: { header?: { glibcVersionRuntime?: string }; sharedObjects?: string[] }): CLibrary {
  const glibc = report.header?.glibcVersionRuntime;
  if (glibc) return { family: 'glibc', version: glibc };
  // The report has no musl field; musl's dynamic loader among the process's objects shows it.
  if (report.sharedObjects?.some((path) => /(^|\/)ld-musl-[^/]+$/.test(path))) return { family: 'musl' };
  return { family: 'none' };
}

function describeLibc(libc: CLibrary): string {
  if (libc.family === 'glibc') return `glibc ${libc.version}`;
  if (libc.family === 'musl') return 'musl libc (no uWS build links musl)';
  return 'no glibc found (process.report names none)';
}

/** Compares dotted numeric versions: "2.38" > "2.9". */
function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function listOr(items: readonly string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} or ${items.at(-1)}` : (items[0] ?? '');
}
