import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM file paths of a throwaway link PKI: one CA, a monolith server cert, a balancer client cert. */
export interface LinkPki {
  dir: string;
  ca: string;
  monolithCert: string;
  monolithKey: string;
  balancerCert: string;
  balancerKey: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('the link TLS tests need the openssl command (Debian: apt-get install -y openssl; .ci/run installs it)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** Creates a CA named `name` and certificates it signs (the monolith's for 127.0.0.1). */
export function makeLinkPki(name = 'gateway-link-test-ca'): LinkPki {
  const dir = mkdtempSync(join(tmpdir(), 'link-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`], dir);
  const leaf = (base: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${base}.ext`), ext);
    openssl(['req', ...ec, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${base}.pem`, '-days', '2', '-extfile', `${base}.ext`], dir);
  };
  leaf('monolith', 'monolith', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('balancer', 'balancer', 'extendedKeyUsage=clientAuth\n');
  const at = (f: string) => join(dir, f);
  return { dir, ca: at('ca.pem'), monolithCert: at('monolith.pem'), monolithKey: at('monolith.key'), balancerCert: at('balancer.pem'), balancerKey: at('balancer.key') };
}
