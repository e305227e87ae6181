import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, errorBody } from '@gateway/protocol';
import type { Hub } from '../hub/hub.js';

/** Header making a retried publication land once (per stream, for IDEMPOTENCY_TTL_MS). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,128}$/;

/**
 * Stores and publishes one message for an HTTP publisher: answers `status` with
 * `{...extra, stream, offset, epoch, duplicate?}` only once the broker stored it, 503 with
 * `unavailable` when it could not (nothing was acknowledged: the publisher retries, ideally
 * with an `Idempotency-Key`). Returns false when it already answered with an error.
 */
export async function publishFor(
  req: FastifyRequest,
  reply: FastifyReply,
  hub: Hub,
  stream: string,
  messageJson: string,
  status: number,
  extra: Record<string, unknown>,
): Promise<FastifyReply> {
  const key = req.headers[IDEMPOTENCY_HEADER];
  if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
    return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'Idempotency-Key must be 1-128 visible ASCII characters'));
  }
  try {
    const at = await hub.publish(stream, messageJson, key);
    return reply.code(status).send({ ...extra, stream, offset: at.offset, epoch: at.epoch, ...(at.duplicate ? { duplicate: true } : {}) });
  } catch (err) {
    return reply.code(503).send(errorBody(ErrorCode.UNAVAILABLE, `not stored, retry: ${(err as Error).message}`));
  }
}
