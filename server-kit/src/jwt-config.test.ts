import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from './config-schema.js';
import { jwtProblems, jwtSpec } from './jwt-config.js';
import { createVerifier } from './jwt.js';

const pem = (type: 'rsa' | 'ec' | 'ed25519' | 'x25519') => {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync(type as 'ed25519');
  return {
    publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    readConfig(jwtSpec, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('JWT_PUBLIC_KEY', () => {
  it.each(['rsa', 'ec', 'ed25519'] as const)('accepts a %s public key, which the verifier then takes', (type) => {
    const { publicKey } = pem(type);
    expect(readConfig(jwtSpec, { JWT_PUBLIC_KEY: publicKey }).JWT_PUBLIC_KEY).toBe(publicKey);
    expect(() => createVerifier({ publicKey })).not.toThrow();
  });

  it('refuses text that is not a PEM key, naming the variable', () => {
    expect(problemsOf({ JWT_PUBLIC_KEY: 'not a key' })).toEqual([expect.stringMatching(/^JWT_PUBLIC_KEY must be a PEM public key \(its text, not a file name\)/)]);
    expect(problemsOf({ JWT_PUBLIC_KEY: '/etc/gateway/jwt.pub' })).toEqual([expect.stringMatching(/^JWT_PUBLIC_KEY must be a PEM public key/)]);
  });

  it('refuses a private key (node would derive its public key)', () => {
    expect(problemsOf({ JWT_PUBLIC_KEY: pem('ed25519').privateKey })).toEqual([expect.stringMatching(/^JWT_PUBLIC_KEY is a private key/)]);
  });

  it('refuses a key type no token algorithm uses', () => {
    expect(problemsOf({ JWT_PUBLIC_KEY: pem('x25519').publicKey })).toEqual(['JWT_PUBLIC_KEY must be an RSA, EC or Ed25519 key, not x25519']);
  });
});

describe('JWKS_URL', () => {
  it('takes an http(s) URL and refuses anything else', () => {
    expect(readConfig(jwtSpec, { JWKS_URL: 'https://issuer.example/jwks.json' }).JWKS_URL).toBe('https://issuer.example/jwks.json');
    expect(problemsOf({ JWKS_URL: 'issuer.example/jwks.json' })).toEqual(['JWKS_URL must be a URL starting with http:// or https://, got "issuer.example/jwks.json"']);
  });
});

describe('jwtProblems', () => {
  const config = readConfig(jwtSpec, {});
  it('wants one of the three keys', () => {
    expect(jwtProblems(config)).toEqual(['JWT_SECRET is required (or JWT_PUBLIC_KEY / JWKS_URL)']);
  });
  it('does not call a key missing when it was reported bad', () => {
    expect(jwtProblems(config, new Set(['JWT_PUBLIC_KEY']))).toEqual([]);
  });
});
