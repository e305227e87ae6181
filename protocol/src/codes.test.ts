import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** Every module specifier `file` imports or re-exports (static imports only: the package has no other). */
function specifiers(file: URL): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]!);
}

describe('@gateway/protocol/codes', () => {
  it('imports nothing but its own files, so a browser can load it without a bundler', () => {
    const seen = new Set<string>();
    const outside: string[] = [];
    const visit = (file: URL) => {
      if (seen.has(file.href)) return;
      seen.add(file.href);
      for (const spec of specifiers(file)) {
        if (!spec.startsWith('./')) outside.push(`${file.pathname.split('/').pop()}: ${spec}`);
        else visit(new URL(spec.replace(/\.js$/, '.ts'), file));
      }
    };
    visit(new URL('./codes.ts', import.meta.url));
    expect(seen.size).toBeGreaterThan(4);
    expect(outside).toEqual([]);
  });
});
