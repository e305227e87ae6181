import { ConfigError } from '@gateway/server-kit';

/**
 * The problems a service's `loadConfig` reports for `env` (warnings silenced); [] when it loads.
 * Any other error is rethrown: a config check must fail as a ConfigError, never a crash.
 */
export function configProblems(load: (env: Record<string, string>, warn: () => void) => unknown, env: Record<string, string>): string[] {
  try {
    load(env, () => {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

/** The variable each problem names first (problems start with the variable's name). */
export const namedIn = (problems: string[]): string[] => problems.map((p) => p.split(' ')[0]!);
