import { describe, expect, it } from 'vitest';
import { cLibraryOf, chooseUwsBuilds, noUwsMessage, type CLibrary, type UwsHost } from './uws-builds.js';

const NEW = '@btc-vision/uwebsockets.js@20.56.0';
const OLD = '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';
const NODES = { '20': ['20.20.2', '115'], '22': ['22.23.5', '127'], '24': ['24.22.3', '137'], '25': ['25.2.1', '141'] } as const;
const LIBCS: Record<string, CLibrary> = {
  'glibc 2.36': { family: 'glibc', version: '2.36' },
  'glibc 2.38': { family: 'glibc', version: '2.38' },
  musl: { family: 'musl' },
  none: { family: 'none' },
};

const linux = (major: keyof typeof NODES, libc: CLibrary): UwsHost => ({ platform: 'linux', arch: 'x64', node: NODES[major][0], abi: NODES[major][1], libc });
const chosen = (host: UwsHost) => chooseUwsBuilds(host).candidates.map(({ build }) => `${build.name}@${build.version}`);

describe('chooseUwsBuilds on linux-x64', () => {
  // Node major x C library -> the builds that load, in the order the loader tries them.
  const expected: Record<string, Record<keyof typeof NODES, string[]>> = {
    'glibc 2.36': { '20': [OLD], '22': [], '24': [], '25': [] },
    'glibc 2.38': { '20': [NEW, OLD], '22': [NEW], '24': [NEW], '25': [NEW] },
    musl: { '20': [], '22': [], '24': [], '25': [] },
    none: { '20': [], '22': [], '24': [], '25': [] },
  };
  for (const [libcName, byNode] of Object.entries(expected)) {
    for (const [major, builds] of Object.entries(byNode) as [keyof typeof NODES, string[]][]) {
      it(`Node ${major} with ${libcName}: ${builds.length ? builds.join(', then ') : 'none'}`, () => {
        expect(chosen(linux(major, LIBCS[libcName]!))).toEqual(builds);
      });
    }
  }

  it('picks the binary for the running ABI', () => {
    expect(chooseUwsBuilds(linux('24', LIBCS['glibc 2.38']!)).candidates[0]?.file).toBe('uws_linux_x64_137.node');
  });

  it('compares glibc versions as numbers (2.100 is newer than 2.38)', () => {
    expect(chosen(linux('24', { family: 'glibc', version: '2.100' }))).toEqual([NEW]);
    expect(chosen(linux('24', { family: 'glibc', version: '2.4' }))).toEqual([]);
    expect(chosen(linux('24', { family: 'glibc', version: '3.0' }))).toEqual([NEW]);
  });
});

describe('chooseUwsBuilds elsewhere', () => {
  it('needs no glibc outside Linux', () => {
    expect(chosen({ platform: 'darwin', arch: 'arm64', node: '24.22.3', abi: '137', libc: LIBCS.none! })).toEqual([NEW]);
    expect(chosen({ platform: 'win32', arch: 'x64', node: '20.20.2', abi: '115', libc: LIBCS.none! })).toEqual([NEW, OLD]);
  });

  it('refuses an unsupported Node (26) or a platform without binaries', () => {
    expect(chosen({ ...linux('24', LIBCS['glibc 2.38']!), node: '26.0.0', abi: '147' })).toEqual([]);
    const ppc = chooseUwsBuilds({ platform: 'linux', arch: 'ppc64', node: '24.22.3', abi: '137', libc: LIBCS['glibc 2.38']! });
    expect(ppc.candidates).toEqual([]);
    expect(ppc.refused).toEqual([`${NEW} ships no linux-ppc64 binary`, `${OLD} ships no linux-ppc64 binary`]);
  });
});

describe('noUwsMessage', () => {
  const message = (host: UwsHost) => noUwsMessage(host, chooseUwsBuilds(host).refused);

  it('Node 24 on Debian 12: names the Node and glibc found and what each build would need', () => {
    expect(message(linux('24', LIBCS['glibc 2.36']!))).toBe(
      [
        'uWebSockets.js: no native binary loads on Node 24.22.3 (ABI 137) on linux-x64 with glibc 2.36.',
        `  ${NEW} would load with glibc >= 2.38`,
        `  ${OLD} would load with Node 20`,
        'Refusing to start on the slow pure-JS fallback.',
      ].join('\n'),
    );
  });

  it('musl, or no C library found: every build needs glibc', () => {
    expect(message(linux('22', LIBCS.musl!))).toBe(
      [
        'uWebSockets.js: no native binary loads on Node 22.23.5 (ABI 127) on linux-x64 with musl libc (no uWS build links musl).',
        `  ${NEW} would load with glibc >= 2.38`,
        `  ${OLD} would load with Node 20 and glibc >= 2.28`,
        'Refusing to start on the slow pure-JS fallback.',
      ].join('\n'),
    );
    expect(message(linux('20', LIBCS.none!))).toContain('on linux-x64 with no glibc found (process.report names none).');
  });

  it('lists the load errors of builds that were chosen but did not load', () => {
    const host = linux('20', LIBCS['glibc 2.38']!);
    expect(noUwsMessage(host, [], [`${NEW} did not load: GLIBC_2.38 not found`])).toContain(`\n  ${NEW} did not load: GLIBC_2.38 not found\n`);
  });
});

describe('cLibraryOf', () => {
  it('reads glibc off the report header', () => {
    expect(cLibraryOf({ header: { glibcVersionRuntime: '2.36' }, sharedObjects: ['/lib/x86_64-linux-gnu/libc.so.6'] })).toEqual(LIBCS['glibc 2.36']);
  });

  it("finds musl by its dynamic loader among the process's objects", () => {
    expect(cLibraryOf({ header: {}, sharedObjects: ['/usr/lib/libstdc++.so.6', '/lib/ld-musl-x86_64.so.1'] })).toEqual(LIBCS.musl);
    expect(cLibraryOf({ header: {}, sharedObjects: ['/lib/ld-musl-aarch64.so.1'] })).toEqual(LIBCS.musl);
  });

  it('is none without either', () => {
    expect(cLibraryOf({ header: {}, sharedObjects: ['/usr/lib/libSystem.B.dylib'] })).toEqual(LIBCS.none);
    expect(cLibraryOf({})).toEqual(LIBCS.none);
  });
});
