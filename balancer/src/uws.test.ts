import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@gateway/server-kit';
import { freePort } from '../../testing/redis.js';
import { UWS_BUILDS, chooseUwsBuilds, type UwsBuild } from './uws-builds.js';
import { currentUwsHost, listenOn, loadUws, loadedUws } from './uws.js';

const require = createRequire(import.meta.url);
const balancerPackage = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
};
const binariesOf = (build: UwsBuild) => join(dirname(require.resolve(build.name)), build.dir);

describe('loadUws', () => {
  it('loads a native binary on this machine, the first build chosen for it, never the JS shim', () => {
    const uws = loadUws();
    const first = chooseUwsBuilds(currentUwsHost()).candidates[0]!;
    expect(loadedUws()).toEqual({ build: first.build, path: join(binariesOf(first.build), first.file) });
    // The binary is mapped into this process, and App is a C++ function.
    expect((process.report.getReport() as { sharedObjects: string[] }).sharedObjects).toContain(loadedUws()!.path);
    expect(Function.prototype.toString.call(uws.App)).toContain('[native code]');
  });
});

describe('UWS_BUILDS against the installed packages', () => {
  for (const build of UWS_BUILDS) {
    it(`${build.name}: pinned and installed at ${build.version}, ships each listed binary, needs glibc ${build.glibc}`, () => {
      expect(balancerPackage.dependencies[build.name]).toBe(build.version);
      let root = dirname(require.resolve(build.name));
      while (!existsSync(join(root, 'package.json'))) root = dirname(root);
      expect((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version).toBe(build.version);

      const files = readdirSync(binariesOf(build));
      const listed = build.targets.flatMap((target) => Object.keys(build.nodes).map((abi) => `uws_${target.replace('-', '_')}_${abi}.node`));
      expect(listed.filter((file) => !files.includes(file))).toEqual([]);
      // Every ABI of Node 20 (115) or later it ships is listed, so a newer Node is not refused.
      const shipped = new Set(files.flatMap((file) => /^uws_linux_x64_(\d+)\.node$/.exec(file)?.[1] ?? []).filter((abi) => Number(abi) >= 115));
      expect([...shipped].sort()).toEqual(Object.keys(build.nodes).sort());

      const glibc = listed
        .filter((file) => file.startsWith('uws_linux_'))
        .flatMap((file) => readFileSync(join(binariesOf(build), file)).toString('latin1').match(/GLIBC_\d+(\.\d+)+/g) ?? [])
        .map((symbol) => symbol.slice('GLIBC_'.length))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .at(-1);
      expect(glibc).toBe(build.glibc);
    });
  }

  it("balancer/package.json's engines are the Node majors some build loads on", () => {
    const majors = [...new Set(UWS_BUILDS.flatMap((build) => Object.values(build.nodes)))].sort((a, b) => a - b);
    expect(balancerPackage.engines.node).toBe(majors.map((major) => `^${major}`).join(' || '));
  });
});

describe('listenOn', () => {
  // A fixed port: uSockets sets SO_REUSEPORT only for a port other than 0, so by default a
  // second app on it would bind too.
  const at = (port: number) => ({ hostVar: 'BALANCER_HOST', host: '127.0.0.1', portVar: 'BALANCER_PORT', port });
  const inUse = (port: number) => `BALANCER_PORT ${port} is already in use on 127.0.0.1 (BALANCER_HOST): another process listens there; stop it or choose another port`;

  it('refuses a port another uWS app holds (no SO_REUSEPORT), naming the variable', async () => {
    const uws = loadUws();
    const port = await freePort();
    const first = await listenOn(uws.App(), at(port));
    try {
      const error = await listenOn(uws.App(), at(port)).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([inUse(port)]);
      // Asking to share does not get in beside an exclusive holder either.
      const shared = await listenOn(uws.App(), at(port), { reusePort: true }).catch((err: unknown) => err);
      expect((shared as ConfigError).problems).toEqual([`${inUse(port)} (sharing a port needs BALANCER_REUSE_PORT=true in every process on it)`]);
    } finally {
      uws.us_listen_socket_close(first);
    }
  });

  it('with reusePort, apps that all ask share the port; one that does not ask is refused', async () => {
    const uws = loadUws();
    const port = await freePort();
    const sockets = [await listenOn(uws.App(), at(port), { reusePort: true }), await listenOn(uws.App(), at(port), { reusePort: true })];
    try {
      expect(sockets.map((s) => uws.us_socket_local_port(s))).toEqual([port, port]);
      const error = await listenOn(uws.App(), at(port)).catch((err: unknown) => err);
      expect((error as ConfigError).problems).toEqual([inUse(port)]);
    } finally {
      for (const s of sockets) uws.us_listen_socket_close(s);
    }
  });
});
