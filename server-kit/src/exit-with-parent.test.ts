import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { exitWithParent } from './exit-with-parent.js';

describe('exitWithParent', () => {
  it('leaves stdin alone when not enabled', () => {
    const stdin = new PassThrough();
    const onParentGone = vi.fn();
    expect(exitWithParent(false, { stdin, onParentGone })).toBe(false);
    stdin.end();
    // A stream nobody reads never reports its end: it is not consumed at all.
    expect(stdin.readableFlowing).toBeNull();
    expect(onParentGone).not.toHaveBeenCalled();
  });

  it('calls onParentGone once when the pipe ends, ignoring what is written to it', async () => {
    const stdin = new PassThrough();
    const onParentGone = vi.fn();
    expect(exitWithParent(true, { stdin, onParentGone })).toBe(true);
    stdin.write('anything\n');
    await new Promise((resolve) => setImmediate(resolve));
    expect(onParentGone).not.toHaveBeenCalled();
    const closed = new Promise((resolve) => stdin.once('close', resolve));
    stdin.end();
    await closed;
    expect(onParentGone).toHaveBeenCalledTimes(1);
  });

  it('treats a failing pipe as a gone parent', () => {
    const stdin = new PassThrough();
    const onParentGone = vi.fn();
    exitWithParent(true, { stdin, onParentGone });
    stdin.destroy(new Error('EIO'));
    return new Promise<void>((resolve) =>
      stdin.once('close', () => {
        expect(onParentGone).toHaveBeenCalledTimes(1);
        resolve();
      }),
    );
  });
});
