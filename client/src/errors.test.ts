import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@gateway/protocol';
import { ClientErrorCode } from './errors.js';

describe('ClientErrorCode', () => {
  it('never takes a server error code, so GatewayError.code says which side failed', () => {
    const server = new Set<string>(Object.values(ErrorCode));
    for (const code of Object.values(ClientErrorCode)) expect(server.has(code), code).toBe(false);
  });

  it('is the list docs/sdk.md gives', () => {
    const readme = readFileSync(new URL('../../docs/sdk.md', import.meta.url), 'utf8');
    const paragraph = readme.slice(readme.indexOf("A `GatewayError`'s `code`"), readme.indexOf('Browser:', readme.indexOf("A `GatewayError`'s `code`")));
    const listed = [...paragraph.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter((w) => w !== 'code' && w !== 'closeCode');
    expect(listed.sort()).toEqual(Object.values(ClientErrorCode).sort());
  });
});
