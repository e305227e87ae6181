#!/usr/bin/env node
/**
 * A container health check: `node deploy/probe.mjs <url>` exits 0 when GET <url> answers 2xx
 * within 2 s, else 1 (2 without a URL). node:20-bookworm-slim has neither curl nor wget, and a
 * probe in Node needs nothing more in the image.
 */
const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node deploy/probe.mjs <url>\n');
  process.exit(2);
}
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  if (!res.ok) process.stderr.write(`probe ${url}: ${res.status}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stderr.write(`probe ${url}: ${err.cause?.code ?? err.name}\n`);
  process.exit(1);
}
