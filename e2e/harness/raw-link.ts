import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { LINK_BALANCER_HEADER, LINK_NONCE_HEADER, linkFrames } from '@gateway/protocol';
import { linkProof } from '@gateway/server-kit';
import { LINK_SECRET } from './stack.js';

export interface RawLink {
  readonly ws: WebSocket;
  /** Every frame the monolith sent after `init`, parsed. */
  readonly frames: Array<Record<string, unknown>>;
  /** The `init` frame (its proof is checked unless `verifyInit` is false). */
  readonly init: Record<string, unknown>;
  /** The `hello` token this link sent (to replay it elsewhere). */
  readonly helloToken: string;
  send(frame: object): void;
  /** Resolves with the close code once the monolith closes the link. */
  closed(): Promise<number>;
}

/**
 * A balancer link from a test, doing the real challenge-response handshake (or a wrong one:
 * `secret` other than the stack's, or `proof` to send a chosen `hello` token).
 */
export async function rawLink(
  linkAddress: string,
  opts: { secret?: string; balancerId?: string; proof?: (init: Record<string, unknown>) => string } = {},
): Promise<RawLink> {
  const secret = opts.secret ?? LINK_SECRET;
  const balancerId = opts.balancerId ?? `test-${randomBytes(3).toString('hex')}`;
  const balancerNonce = randomBytes(18).toString('base64url');
  const ws = new WebSocket(`ws://${linkAddress}/link`, { headers: { [LINK_NONCE_HEADER]: balancerNonce, [LINK_BALANCER_HEADER]: balancerId } });
  const frames: Array<Record<string, unknown>> = [];
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const init = await new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString('utf8')) as Record<string, unknown>));
  });
  // Link protocol 3: one message may hold several frames.
  ws.on('message', (data: Buffer) => {
    for (const text of linkFrames(data.toString('utf8'))) frames.push(JSON.parse(text) as Record<string, unknown>);
  });
  const handshake = { balancerNonce, monolithNonce: String(init.nonce), balancerId, monolithId: String(init.id) };
  const helloToken = opts.proof ? opts.proof(init) : linkProof(secret, 'balancer', handshake);
  ws.send(JSON.stringify({ type: 'hello', token: helloToken }));
  return { ws, frames, init, helloToken, send: (frame) => ws.send(JSON.stringify(frame)), closed: () => closed };
}
