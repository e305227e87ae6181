import { createPublicKey, type KeyObject } from 'node:crypto';
import { v, type ConfigOf, type Var } from './config-schema.js';

/** Token rules' defaults, shared by `jwtSpec` and `createVerifier` callers that pass no option. */
export const JWT_DEFAULTS = { maxLifetimeS: 86400, clockToleranceS: 5 } as const;

/**
 * The algorithms a public key verifies, by its type; throws for a key of another type. One
 * function for the verifier and the config check, so the config accepts exactly the keys the
 * verifier can use.
 */
export function publicKeyAlgorithms(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512'];
    case 'ec':
      return ['ES256', 'ES384', 'ES512'];
    case 'ed25519':
      return ['EdDSA', 'Ed25519'];
    default:
      throw new Error(`unsupported public key type ${key.asymmetricKeyType}`);
  }
}

/** JWT_PUBLIC_KEY: parsed at start-up, so a bad key is a configuration problem, not a crash. */
function publicKeyVar(help: string): Var<string | undefined> {
  return {
    help,
    default: '',
    parse(raw) {
      if (raw === '') return undefined;
      // createPublicKey derives a public key from a private one; the signing key has no place here.
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(raw)) throw new Error('is a private key: give the public key (the signing key stays with the issuer)');
      let key: KeyObject;
      try {
        key = createPublicKey(raw);
      } catch (err) {
        throw new Error(`must be a PEM public key (its text, not a file name): ${(err as Error).message}`);
      }
      try {
        publicKeyAlgorithms(key);
      } catch {
        throw new Error(`must be an RSA, EC or Ed25519 key, not ${key.asymmetricKeyType}`);
      }
      return raw;
    },
  };
}

/** The token-key variables both services read; spread into each service's spec. */
export const jwtSpec = {
  JWT_SECRET: v.optional('HS256 secret for tokens (the same on every balancer and monolith; at least 16 characters).'),
  JWT_PUBLIC_KEY: publicKeyVar('PEM public key (RSA, EC or Ed25519) for tokens, instead of `JWT_SECRET`.'),
  JWKS_URL: v.url('JWKS endpoint (`http://` or `https://`) for tokens, instead of `JWT_SECRET`.', ['http:', 'https:']),
  JWT_ISSUER: v.optional('Required `iss` claim, when set.'),
  JWT_AUDIENCE: v.optional('Required `aud` claim, when set.'),
  JWT_MAX_LIFETIME_S: v.int('Longest token lifetime accepted: `exp` minus `iat` (or minus now, without `iat`); `exp` itself is required.', JWT_DEFAULTS.maxLifetimeS, 1),
  JWT_CLOCK_TOLERANCE_S: v.int('Clock skew allowed between token issuers and this service when checking `exp`, `nbf`, `iat` and the lifetime.', JWT_DEFAULTS.clockToleranceS, 0, 300),
};
export type JwtConfig = ConfigOf<typeof jwtSpec>;

/**
 * Checks of `jwtSpec` across its variables, which a per-variable parser cannot make; `failed`
 * names the variables already reported bad (a bad key is not reported missing as well).
 */
export function jwtProblems(config: JwtConfig, failed: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const keys = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWKS_URL'] as const;
  if (keys.every((name) => !config[name] && !failed.has(name))) problems.push('JWT_SECRET is required (or JWT_PUBLIC_KEY / JWKS_URL)');
  if (config.JWT_SECRET !== undefined && config.JWT_SECRET.length < 16) problems.push('JWT_SECRET must be at least 16 characters');
  return problems;
}
