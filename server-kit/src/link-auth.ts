import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Link authentication (DESIGN §3): each side proves it holds LINK_SECRET without sending it.
 *
 *   balancer → monolith  upgrade with `x-link-nonce: Nb`, `x-balancer-id: B` (no secret)
 *   monolith → balancer  `init {id: M, nonce: Nm, token: proof("monolith")}`
 *   balancer → monolith  `hello {token: proof("balancer")}` (only if the init proof verified)
 *
 * A proof is an HMAC-SHA256 under the secret over the role, both nonces and both ids. Each side's
 * proof binds the other side's fresh nonce, so a recorded proof is useless on another link; the
 * role label keeps one side's proof from ever being valid as the other's. A peer without the
 * secret learns only an HMAC over its own chosen input, which reveals nothing of the key.
 *
 * What this does not stop on plain `ws://`: an on-path relay between two honest ends (it passes
 * both proofs through and then reads the link). Links that cross machines run over TLS with
 * mutual certificates (LINK_TLS_*), which is the production setting.
 */
export type LinkRole = 'monolith' | 'balancer';

export interface LinkHandshake {
  balancerNonce: string;
  monolithNonce: string;
  balancerId: string;
  monolithId: string;
}

export function linkProof(secret: string, role: LinkRole, h: LinkHandshake): string {
  return createHmac('sha256', secret)
    .update(`gateway-link-v2\n${role}\n${h.balancerNonce}\n${h.monolithNonce}\n${h.balancerId}\n${h.monolithId}`)
    .digest('base64url');
}

/** Constant-time string comparison for secrets and MACs. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
