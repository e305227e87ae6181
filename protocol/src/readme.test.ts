import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloseCode, CloseReason, isTerminal } from './close-codes.js';
import { ErrorCode, ErrorHuman } from './errors.js';

/**
 * Keeps the README's catalogue tables in step with the code (STYLE rule 1). The tables are
 * compared by content, not layout; regenerate them with `node scripts/readme-tables.mjs --write`.
 */
const README = new URL('../../README.md', import.meta.url);
const FIX = 'regenerate with: npm run build && node scripts/readme-tables.mjs --write';

/** The body rows of the first table under `## <title>`, as trimmed cells without backticks. */
function tableRows(markdown: string, title: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  if (start < 0) return [];
  const rows: string[][] = [];
  for (let i = start + 1; i < lines.length && !/^#{1,2} /.test(lines[i]!); i++) {
    const line = lines[i]!.trim();
    if (!line.startsWith('|')) {
      if (rows.length) break; // the first table has ended
      continue;
    }
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim().replace(/^`(.*)`$/, '$1').replace(/\\\|/g, '|'));
    rows.push(cells);
  }
  // drop the header row and the |---| separator
  return rows.filter((r) => !r.every((c) => /^:?-+:?$/.test(c))).slice(1);
}

describe('README.md', () => {
  const readme = readFileSync(README, 'utf8');

  it('has a close code table equal to the CloseCode catalogue', () => {
    const expected = Object.entries(CloseCode).map(([name, code]) => [
      name,
      String(code),
      isTerminal(code) ? 'terminal' : 'reconnect',
      CloseReason[name as keyof typeof CloseReason],
    ]);
    expect(tableRows(readme, 'Close codes'), FIX).toEqual(expected);
  });

  it('has an error code table equal to ErrorCode / ErrorHuman', () => {
    const expected = Object.entries(ErrorCode).map(([name, code]) => [code, name, ErrorHuman[code]]);
    expect(tableRows(readme, 'Error codes'), FIX).toEqual(expected);
  });
});
