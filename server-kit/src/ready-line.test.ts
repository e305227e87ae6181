import { afterEach, describe, expect, it, vi } from 'vitest';
import { announceReady, parseReadyLine } from './ready-line.js';

describe('ready line', () => {
  afterEach(() => vi.restoreAllMocks());

  it('what announceReady writes, parseReadyLine reads back for that service only', () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    announceReady('monolith', { id: 'm1', httpPort: 3000, linkPort: 3001 });
    expect(written).toEqual(['{"ready":"monolith","id":"m1","httpPort":3000,"linkPort":3001}\n']);
    const line = written[0]!.trimEnd();
    expect(parseReadyLine(line, 'monolith')).toEqual({ ready: 'monolith', id: 'm1', httpPort: 3000, linkPort: 3001 });
    expect(parseReadyLine(line, 'balancer')).toBeUndefined();
  });

  it('ignores log lines and broken JSON', () => {
    expect(parseReadyLine('{"level":"info","msg":"monolith listening"}', 'monolith')).toBeUndefined();
    expect(parseReadyLine('{"ready":"monolith",', 'monolith')).toBeUndefined();
    expect(parseReadyLine('monolith ready', 'monolith')).toBeUndefined();
  });
});
