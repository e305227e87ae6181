import { describe, expect, it } from 'vitest';
import { createVerifier } from '@gateway/server-kit';
// @ts-expect-error plain .mjs script without type declarations
import { devToken } from './dev-token.mjs';
// @ts-expect-error plain .mjs script without type declarations
import { DEV_JWT_SECRET } from './dev-env.mjs';

describe('scripts/dev-token.mjs', () => {
  it('mints a token the gateway verifier accepts, with the dev guild permissions', async () => {
    const token: string = await devToken({ sub: 'alice' });
    const result = await createVerifier({ secret: DEV_JWT_SECRET })(token);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.subject).toBe('alice');
    expect(result.claims.name).toBe('alice');
    expect(result.claims.guilds).toEqual({ '1234567890': 0x207 });
    const hours = (result.expMs - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
  });

  it('is refused under another secret', async () => {
    const token: string = await devToken({ sub: 'bob', secret: 'another-secret-0123456789abcdef' });
    const result = await createVerifier({ secret: DEV_JWT_SECRET })(token);
    expect(result).toMatchObject({ ok: false, reason: 'invalid' });
  });
});
