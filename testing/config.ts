/**
 * The only place the test helpers read the environment (STYLE rule 6), once, at import:
 * `REDIS_URL` makes every test use that Redis instead of starting its own; `PATH` is the one
 * variable spawned processes inherit.
 */
export const testEnv = Object.freeze({
  REDIS_URL: process.env.REDIS_URL || undefined,
  PATH: process.env.PATH ?? '/usr/bin:/bin',
});
