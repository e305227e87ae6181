/**
 * A service that dies with the process that started it, when that process asks for it (`npm start`,
 * scripts/run.mjs). Node has no PR_SET_PDEATHSIG, so the parent gives the child a stdin pipe and
 * sets the variable below: the kernel closes the parent's end of the pipe however the parent ends,
 * SIGKILL included, and the child's stdin then reads end-of-file.
 */
import type { Readable } from 'node:stream';

/** The variable a parent sets to `1` when it gives the service a stdin pipe to watch. */
export const EXIT_WITH_PARENT_ENV = 'GATEWAY_EXIT_WITH_PARENT';

export interface ExitWithParentOptions {
  /** The pipe to watch; `process.stdin` unless a test passes its own. */
  stdin?: Readable;
  /** Runs once when the pipe closes; by default the service's own SIGINT path (what Ctrl-C does). */
  onParentGone?: () => void;
}

/**
 * When `enabled` (GATEWAY_EXIT_WITH_PARENT in the service's config), runs `onParentGone` once stdin ends, closes or
 * fails; nothing is read from it and nothing is ever written back. Otherwise stdin is left alone:
 * under systemd or docker it is /dev/null or a terminal, and end-of-file there means nothing.
 * Returns whether it is watching.
 */
export function exitWithParent(enabled: boolean, opts: ExitWithParentOptions = {}): boolean {
  if (!enabled) return false;
  const stdin = opts.stdin ?? process.stdin;
  const onParentGone = opts.onParentGone ?? (() => process.kill(process.pid, 'SIGINT'));
  let gone = false;
  const once = (): void => {
    if (gone) return;
    gone = true;
    onParentGone();
  };
  stdin.once('end', once).once('close', once).once('error', once);
  // Flowing mode, data dropped: end-of-file is only seen by a stream that is read.
  stdin.resume();
  return true;
}
