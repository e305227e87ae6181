// Room epochs moved to coordination/ (issue 10: no `instanceof RedisBus`). Re-exported only for
// rooms.ts and rooms.test.ts, which other work is rewriting now: once they import from
// coordination/, delete this file.
export type { EpochSource } from '../coordination/coordination.js';
export { memoryEpochs } from '../coordination/memory-coordination.js';
