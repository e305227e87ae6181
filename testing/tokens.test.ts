import { describe, expect, it } from 'vitest';
import { createVerifier } from '@gateway/server-kit';
import {
  JWT_SECRET, adminToken, badSignatureToken, expiredToken, guestToken, noneToken, nowS, respellSignature, rs256Token, userToken,
} from './tokens.js';

// The token helpers mint with server-kit's mintToken where a library can, by hand where none would;
// these pin that the gateway's verifier accepts what they mean to be valid, that the times land
// where asked, and that each deliberately broken token is refused for its own reason.
const verify = createVerifier({ secret: JWT_SECRET, maxLifetimeS: 86_400 });

describe('testing/tokens', () => {
  it('mints HS256 user, guest and admin tokens the gateway verifier accepts with their claims', async () => {
    const user = await verify(await userToken({ sub: 'alice', guilds: { '123456789012345678': 3 } }));
    expect(user).toMatchObject({ ok: true, claims: { sub: 'alice', guilds: { '123456789012345678': 3 } } });
    const guest = await verify(await guestToken({ jti: 'gabc' }));
    expect(guest).toMatchObject({ ok: true, claims: { guest: true, jti: 'gabc' } });
    expect(guest.ok && 'sub' in guest.claims).toBe(false);
    expect(await verify(await adminToken())).toMatchObject({ ok: true, claims: { sub: 'backend', admin: true } });
  });

  it('puts iat and exp where they are asked, and leaves either out when told', async () => {
    const payload = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload(await userToken({ sub: 'at', iat: 1_000, exp: 5_000 }))).toMatchObject({ sub: 'at', iat: 1_000, exp: 5_000 });
    const now = nowS();
    const defaults = payload(await userToken());
    expect(defaults.exp).toBe((defaults.iat as number) + 3600);
    expect(Math.abs((defaults.iat as number) - now)).toBeLessThanOrEqual(1);
    expect(payload(await userToken({ exp: null }))).not.toHaveProperty('exp');
    expect(payload(await userToken({ iat: null }))).not.toHaveProperty('iat');
  });

  it('mints HS384 and HS512, which an HS256 gateway refuses for the algorithm (not the signature)', async () => {
    for (const alg of ['HS384', 'HS512'] as const) {
      const token = await userToken({ alg });
      expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg, typ: 'JWT' });
      expect(await verify(token)).toMatchObject({ ok: false, reason: 'algorithm' });
    }
  });

  it('mints broken tokens the verifier refuses', async () => {
    expect(await verify(await badSignatureToken())).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await verify(await expiredToken())).toMatchObject({ ok: false, reason: 'expired' });
    expect((await verify(noneToken())).ok).toBe(false);
    expect((await verify(await rs256Token())).ok).toBe(false);
    expect((await verify(await userToken({ exp: null }))).ok).toBe(false);
    const good = await userToken();
    for (const how of ['padding', 'alphabet', 'bits'] as const) expect((await verify(respellSignature(good, how))).ok).toBe(false);
  });
});
