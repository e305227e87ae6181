/**
 * The benchmark scenarios, each driving one started system through a worker pool and returning
 * plain numbers for the results JSON. Server CPU is every server-side process plus Redis (from
 * /proc); generator CPU is the workers plus this process (the publisher).
 *
 * ctx: { pool, handle (adapter.start() result), system (adapter), cfg, redisPid (or redisPids: every
 *        node of a cluster), redis (INFO commandstats source, optional), log(text) }
 */
export { bytesPerConn, median, rssAfterGc, withTimeout } from './measure.mjs';
export { connect } from './connect-scenario.mjs';
export { fanout, fanoutHistory } from './fanout-scenarios.mjs';
export { requestResponse } from './request-response-scenario.mjs';
export { recoveryStorm, storm } from './storm-scenarios.mjs';
