import { createHmac, timingSafeEqual } from 'node:crypto';

/** The init token a monolith sends: proof it holds LINK_SECRET, bound to the dialer's nonce. */
export function linkInitToken(secret: string, nonce: string, monolithId: string): string {
  return createHmac('sha256', secret).update(`${nonce}\n${monolithId}`).digest('base64url');
}

/** Constant-time string comparison for secrets and MACs. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
