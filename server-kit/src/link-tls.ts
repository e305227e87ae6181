import { readFileSync } from 'node:fs';
import { v, type ConfigOf } from './config-schema.js';

/**
 * TLS for balancer ↔ monolith links that cross machines (the production setting, DESIGN §3):
 * the same three variables on both sides. The monolith serves `wss://` with its certificate and,
 * given a CA, requires balancers to present a certificate it signed; the balancer dials
 * `wss://`, verifies the monolith against the CA and presents its own certificate.
 */
export const linkTlsSpec = {
  LINK_TLS_CA: v.optional('PEM file of the CA that signs link certificates. Balancer: set it to dial `wss://` and verify monoliths. Monolith: set it to require balancer client certificates.'),
  LINK_TLS_CERT: v.optional('PEM certificate file for the link (monolith: its server certificate, which turns on `wss://`; balancer: its client certificate).'),
  LINK_TLS_KEY: v.optional('PEM private key file for `LINK_TLS_CERT`.'),
};
export type LinkTlsConfig = ConfigOf<typeof linkTlsSpec>;

/** PEM contents read from the configured files. */
export interface LinkTlsFiles {
  ca: string | undefined;
  cert: string | undefined;
  key: string | undefined;
}

/** Reads the files; pushes a problem naming the variable for each one that is missing or unreadable. */
export function readLinkTls(config: LinkTlsConfig, problems: string[]): LinkTlsFiles {
  const read = (name: keyof LinkTlsConfig): string | undefined => {
    const path = config[name];
    if (path === undefined) return undefined;
    try {
      const text = readFileSync(path, 'utf8');
      if (!text.includes('-----BEGIN ')) problems.push(`${name} file ${path} is not PEM`);
      return text;
    } catch (err) {
      problems.push(`${name} cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
  };
  const files = { ca: read('LINK_TLS_CA'), cert: read('LINK_TLS_CERT'), key: read('LINK_TLS_KEY') };
  if ((config.LINK_TLS_CERT === undefined) !== (config.LINK_TLS_KEY === undefined)) problems.push('LINK_TLS_CERT and LINK_TLS_KEY must be set together');
  return files;
}
