/**
 * Typed environment configuration shared by both services (STYLE rule 6): each service declares
 * its variables once with a default and a parser; `readConfig` validates them all, throws one
 * `ConfigError` naming every bad variable, and returns a frozen object.
 */
export interface Var<T> {
  help: string;
  /** Text shown in docs; undefined means required. */
  default: string | undefined;
  parse(raw: string): T;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

function fail(message: string): never {
  throw new Error(message);
}

export const v = {
  string(help: string, def?: string, opts: { minLength?: number } = {}): Var<string> {
    return {
      help,
      default: def,
      parse(raw) {
        if (raw.length < (opts.minLength ?? 0)) fail(`must be at least ${opts.minLength} characters`);
        return raw;
      },
    };
  },
  optional(help: string): Var<string | undefined> {
    return { help, default: '', parse: (raw) => (raw === '' ? undefined : raw) };
  },
  int(help: string, def: number | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): Var<number> {
    return {
      help,
      default: def === undefined ? undefined : String(def),
      parse(raw) {
        if (!/^-?\d+$/.test(raw.trim())) fail(`must be an integer, got "${raw}"`);
        const n = Number(raw);
        if (n < min || n > max) fail(`must be between ${min} and ${max}, got ${n}`);
        return n;
      },
    };
  },
  port(help: string, def: number): Var<number> {
    return v.int(help, def, 0, 65535);
  },
  list(help: string, def = ''): Var<string[]> {
    return { help, default: def, parse: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean) };
  },
  bool(help: string, def: boolean): Var<boolean> {
    return {
      help,
      default: String(def),
      parse(raw) {
        if (/^(1|true|yes)$/i.test(raw)) return true;
        if (/^(0|false|no)$/i.test(raw)) return false;
        return fail(`must be true or false, got "${raw}"`);
      },
    };
  },
  oneOf<T extends string>(help: string, def: T, values: readonly T[]): Var<T> {
    return {
      help,
      default: def,
      parse(raw) {
        if (!values.includes(raw as T)) fail(`must be one of ${values.join(', ')}, got "${raw}"`);
        return raw as T;
      },
    };
  },
};

export type Spec = Record<string, Var<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Var<infer T> ? T : never };

export function readConfig<S extends Spec>(spec: S, env: Record<string, string | undefined>): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, variable] of Object.entries(spec)) {
    const raw = env[name] ?? variable.default;
    if (raw === undefined) {
      problems.push(`${name} is required: ${variable.help}`);
      continue;
    }
    try {
      out[name] = variable.parse(raw);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(out) as ConfigOf<S>;
}

/** Markdown rows `| NAME | default | help |` for the README's configuration table. */
export function configTable(spec: Spec): string[] {
  return Object.entries(spec).map(([name, variable]) => {
    const def = variable.default === undefined ? '*(required)*' : variable.default === '' ? '*(unset)*' : `\`${variable.default}\``;
    return `| \`${name}\` | ${def} | ${variable.help} |`;
  });
}

/** Token rules' defaults, shared by `jwtSpec` and `createVerifier` callers that pass no option. */
export const JWT_DEFAULTS = { maxLifetimeS: 86400, clockToleranceS: 5 } as const;

/** The token-key variables both services read; spread into each service's spec. */
export const jwtSpec = {
  JWT_SECRET: v.optional('HS256 secret for tokens (the same on every balancer and monolith; at least 16 characters).'),
  JWT_PUBLIC_KEY: v.optional('PEM public key (RSA, EC or Ed25519) for tokens, instead of `JWT_SECRET`.'),
  JWKS_URL: v.optional('JWKS endpoint for tokens, instead of `JWT_SECRET`.'),
  JWT_ISSUER: v.optional('Required `iss` claim, when set.'),
  JWT_AUDIENCE: v.optional('Required `aud` claim, when set.'),
  JWT_MAX_LIFETIME_S: v.int('Longest token lifetime accepted: `exp` minus `iat` (or minus now, without `iat`); `exp` itself is required.', JWT_DEFAULTS.maxLifetimeS, 1),
  JWT_CLOCK_TOLERANCE_S: v.int('Clock skew allowed between token issuers and this service when checking `exp`, `nbf`, `iat` and the lifetime.', JWT_DEFAULTS.clockToleranceS, 0, 300),
};
export type JwtConfig = ConfigOf<typeof jwtSpec>;

/** Cross-variable checks of `jwtSpec` that a per-variable parser cannot make. */
export function jwtProblems(config: JwtConfig): string[] {
  const problems: string[] = [];
  if (!config.JWT_SECRET && !config.JWT_PUBLIC_KEY && !config.JWKS_URL) problems.push('JWT_SECRET is required (or JWT_PUBLIC_KEY / JWKS_URL)');
  if (config.JWT_SECRET !== undefined && config.JWT_SECRET.length < 16) problems.push('JWT_SECRET must be at least 16 characters');
  return problems;
}
