import { isIP } from 'node:net';

/**
 * Typed environment configuration shared by both services (STYLE rule 6): each service declares
 * its variables once with a default, a parser and a help text (the README tables are generated
 * from them); `loadSpec` parses them all, then runs the service's cross-variable, file and
 * topology checks whatever the parsing found, and throws one `ConfigError` with every problem,
 * each naming its variable, or returns a frozen object.
 *
 * Why no library: env-schema (ajv over JSON Schema, so over TypeBox schemas) and envalid both
 * parse, default and report every bad variable of a run at once, which this module does in a
 * hundred lines without a dependency. Neither does what else the services need: checks across
 * variables worded for an operator (JSON Schema's if/then would answer in ajv's messages), TLS
 * files read and keys parsed at start-up, former names still read with a warning, a warning for
 * an unknown variable with the project's prefixes, and the README tables. Those would stay
 * custom code around either library, which would replace only the parsers in `v`.
 */
export interface Var<T> {
  help: string;
  /** Text shown in docs; undefined means required. */
  default: string | undefined;
  parse(raw: string): T;
  /** The variable's former name: still read while the new one is unset, with a warning. */
  formerly?: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Receives one line per warning (a deprecated name, an unknown variable). */
export type Warn = (line: string) => void;

/** Writes `<service>: warning: <line>` on stderr: warnings come before the log exists, as errors do. */
export function warnOnStderr(service: string): Warn {
  return (line) => process.stderr.write(`${service}: warning: ${line}\n`);
}

export type Env = Record<string, string | undefined>;

function fail(message: string): never {
  throw new Error(message);
}

// RFC 1123 labels: letters, digits and inner hyphens, 1-63 characters; 253 in all.
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

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
  /** An address to listen on: an IP literal (IPv6 without brackets) or a host name. */
  host(help: string, def: string): Var<string> {
    return {
      help,
      default: def,
      parse(raw) {
        // A dotted run of digits that is not an IPv4 address is a typo, not a host name.
        if (isIP(raw) || (HOST_NAME.test(raw) && !/^[\d.]+$/.test(raw))) return raw;
        return fail(`must be an IP address or a host name, got "${raw}"`);
      },
    };
  },
  /** An optional URL with one of `protocols` (`https:`). */
  url(help: string, protocols: readonly string[]): Var<string | undefined> {
    return {
      help,
      default: '',
      parse(raw) {
        if (raw === '') return undefined;
        const url = URL.canParse(raw) ? new URL(raw) : undefined;
        if (!url || !protocols.includes(url.protocol)) fail(`must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${raw}"`);
        return raw;
      },
    };
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
  /** `variable`, renamed from `formerly`: the old name is read while the new one is unset, with a warning. */
  renamed<T>(formerly: string, variable: Var<T>): Var<T> {
    return { ...variable, formerly };
  },
};

export type Spec = Record<string, Var<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Var<infer T> ? T : never };

/**
 * Parses every variable, pushing a problem naming each missing or bad one and warning of each
 * former name in use. A variable with a problem takes its default's value (undefined when it has
 * none), so the checks that come after still run and see it as if it were unset.
 */
function parseSpec<S extends Spec>(spec: S, env: Env, problems: string[], warn: Warn, failed = new Set<string>()): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(spec)) {
    let raw = env[name];
    let shown = name;
    const old = variable.formerly;
    if (old !== undefined && env[old] !== undefined) {
      if (raw === undefined) {
        warn(`${old} is deprecated: rename it ${name} (${old} is still read for now)`);
        raw = env[old];
        shown = `${name} (set as ${old})`;
      } else {
        warn(`${old} is deprecated and ignored: ${name} is set`);
      }
    }
    raw ??= variable.default;
    out[name] = variable.default === undefined ? undefined : variable.parse(variable.default);
    if (raw === undefined) {
      problems.push(`${name} is required: ${variable.help}`);
      failed.add(name);
      continue;
    }
    try {
      out[name] = variable.parse(raw);
    } catch (err) {
      problems.push(`${shown} ${(err as Error).message}`);
      failed.add(name);
    }
  }
  return out as ConfigOf<S>;
}

/** Parses `spec` alone and throws a ConfigError naming every bad variable (tests, shared specs). */
export function readConfig<S extends Spec>(spec: S, env: Env): ConfigOf<S> {
  const problems: string[] = [];
  const config = parseSpec(spec, env, problems, () => {});
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Prefixes of this project's variables: one no setting knows is most likely misspelt. */
/** How both services run under a supervisor; spread into each service's spec. */
export const runtimeSpec = {
  GATEWAY_LOG_FORMAT: v.oneOf('`json` (one line per event, for log shippers) or `pretty` (for people; `npm start` sets it).', 'json', ['json', 'pretty'] as const),
  GATEWAY_EXIT_WITH_PARENT: v.bool('Exit when stdin closes: set by `npm start`, which gives each service a stdin pipe, so the services die with the runner however it ends.', false),
};

export const PROJECT_PREFIXES = ['MONOLITH_', 'BALANCER_', 'LINK_', 'JWT_', 'GATEWAY_'] as const;

/**
 * The prefixed settings only one of the two services has. A balancer and a monolith often share
 * one environment (`npm start`, one env file for both), so a name the other service reads is no
 * typo. scripts/config-names.test.ts keeps it equal to the two specs.
 */
export const ONE_SERVICE_SETTINGS: readonly string[] = [
  ...['BALANCER_HOST', 'BALANCER_PORT', 'BALANCER_ID', 'BALANCER_LOG_LEVEL', 'BALANCER_AUTH_COOKIE', 'BALANCER_REUSE_PORT', 'BALANCER_WORKERS', 'MONOLITH_DNS', 'MONOLITH_REGISTRY', 'LINK_BACKOFF_MIN_MS', 'LINK_BACKOFF_MAX_MS'],
  ...['MONOLITH_HOST', 'MONOLITH_HTTP_PORT', 'MONOLITH_LINK_PORT', 'MONOLITH_ID', 'MONOLITH_LOG_LEVEL', 'MONOLITH_CORS_ORIGINS', 'MONOLITH_EVENTS_MODULE'],
];


/**
 * One warning per variable in `env` with a project prefix that no setting knows: not `spec`'s,
 * nor a former name, nor the other service's.
 */
export function unknownVariables(service: string, spec: Spec, env: Env): string[] {
  const known = new Set([...Object.keys(spec), ...Object.values(spec).flatMap((variable) => variable.formerly ?? []), ...ONE_SERVICE_SETTINGS]);
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && PROJECT_PREFIXES.some((prefix) => name.startsWith(prefix)) && !known.has(name))
    .map((name) => `${name} is not a ${service} setting; ignored (misspelt?)`);
}

/**
 * Reads a service's configuration: parses `spec`, warns of former names and unknown prefixed
 * variables, then runs `check` (the checks across variables, files and topologies, pushing
 * problems) even when parsing found problems, so one run reports every problem; `failed` names
 * the variables parsing reported. Throws one ConfigError with them all; otherwise returns what
 * `check` built, frozen.
 */
export function loadSpec<S extends Spec, R extends object>(
  service: string,
  spec: S,
  env: Env,
  warn: Warn,
  check: (config: ConfigOf<S>, problems: string[], failed: ReadonlySet<string>) => R,
): Readonly<R> {
  const problems: string[] = [];
  const failed = new Set<string>();
  const config = parseSpec(spec, env, problems, warn, failed);
  for (const line of unknownVariables(service, spec, env)) warn(line);
  const result = check(config, problems, failed);
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(result);
}

/**
 * A problem when two port variables name the same port, unless one is already reported bad;
 * 0 picks a free port for each, so it never clashes.
 */
export function samePortProblem<A extends string, B extends string>(config: Readonly<Record<A | B, number>>, a: A, b: B, failed: ReadonlySet<string>): string[] {
  const port = config[a];
  return port !== 0 && port === config[b] && !failed.has(a) && !failed.has(b) ? [`${b} must differ from ${a} (both are ${port})`] : [];
}

/** Markdown rows `| NAME | default | help |` for the README's configuration table. */
export function configTable(spec: Spec): string[] {
  return Object.entries(spec).map(([name, variable]) => {
    const def = variable.default === undefined ? '*(required)*' : variable.default === '' ? '*(unset)*' : `\`${variable.default}\``;
    const formerly = variable.formerly ? ` Formerly \`${variable.formerly}\`, still read (with a warning) while \`${name}\` is unset.` : '';
    return `| \`${name}\` | ${def} | ${variable.help}${formerly} |`;
  });
}
