/**
 * The dependency-free part of the protocol for browsers and the client SDK: close and error
 * catalogues, back-off, id and room patterns. No TypeBox, no Node built-ins.
 */
export * from './close-codes.js';
export * from './errors.js';
export * from './backoff.js';
export * from './ids.js';
