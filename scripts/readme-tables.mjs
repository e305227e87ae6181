#!/usr/bin/env node
/**
 * Prints the README's "Close codes" and "Error codes" sections from the protocol catalogues
 * (built protocol/dist), ready to paste; protocol/src/readme.test.ts fails when they differ.
 *
 *   npm run build && node scripts/readme-tables.mjs           print both sections
 *   npm run build && node scripts/readme-tables.mjs --write   replace them in README.md
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cell = (s) => String(s).replace(/\|/g, '\\|');

/** `## Close codes`: one sentence on the ranges, then one row per catalogue entry. */
export function closeCodeSection({ CloseCode, CloseReason, isTerminal, RECONNECT_RANGE, TERMINAL_RANGE }) {
  const rows = Object.entries(CloseCode).map(
    ([name, code]) => `| \`${name}\` | ${code} | ${isTerminal(code) ? 'terminal' : 'reconnect'} | ${cell(CloseReason[name])} |`,
  );
  return [
    '## Close codes',
    '',
    `Codes ${RECONNECT_RANGE.min}-${RECONNECT_RANGE.max} mean reconnect (with full-jitter backoff), ` +
      `${TERMINAL_RANGE.min}-${TERMINAL_RANGE.max} are terminal (the client stops and surfaces the error), ` +
      'and standard codes below 4000 follow RFC 6455 (1000, 1003, 1007, 1008 and 1009 terminal, the rest reconnect).',
    '',
    '| Name | Code | Client action | Reason sent |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** `## Error codes`: one sentence, then one row per error code with its human text. */
export function errorCodeSection({ ErrorCode, ErrorHuman }) {
  const rows = Object.entries(ErrorCode).map(([name, code]) => `| \`${code}\` | \`${name}\` | ${cell(ErrorHuman[code])} |`);
  return [
    '## Error codes',
    '',
    'An `error` event carries one of these codes and its `human` text (shown to users as is); ' +
      'it answers one request and never ends the session.',
    '',
    '| Code | Name | Human text |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** Replaces the section that starts at `## <title>` (up to the next `## ` heading), or appends it. */
export function replaceSection(readme, title, section) {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  if (start < 0) return readme.replace(/\n*$/, '\n\n') + section;
  let end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  if (end < 0) end = lines.length;
  return [...lines.slice(0, start), ...section.replace(/\n$/, '').split('\n'), '', ...lines.slice(end)].join('\n').replace(/\n*$/, '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dist = join(root, 'protocol', 'dist');
  if (!existsSync(join(dist, 'index.js'))) {
    process.stderr.write('readme-tables: protocol/dist is missing; run `npm run build` first\n');
    process.exit(1);
  }
  const protocol = await import(pathToFileURL(join(dist, 'index.js')).href);
  const close = closeCodeSection(protocol);
  const errors = errorCodeSection(protocol);
  if (process.argv.includes('--write')) {
    const file = join(root, 'README.md');
    let readme = existsSync(file) ? readFileSync(file, 'utf8') : '# Realtime gateway\n';
    readme = replaceSection(readme, 'Close codes', close);
    readme = replaceSection(readme, 'Error codes', errors);
    writeFileSync(file, readme);
    process.stdout.write(`updated ${file}\n`);
  } else {
    process.stdout.write(`${close}\n${errors}`);
  }
}
