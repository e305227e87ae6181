/**
 * The bench's clock: process.hrtime (CLOCK_MONOTONIC), so times taken in the load-generator
 * processes and in the orchestrator compare.
 */

/** Nanoseconds, as a Number. */
export const nowNs = () => Number(process.hrtime.bigint());

/** Milliseconds, as a Number. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
