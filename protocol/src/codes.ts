/**
 * The dependency-free part of the protocol for browsers and the client SDK: close and error
 * catalogues, event names, back-off, id and room patterns. No TypeBox, no Node built-ins
 * (codes.test.ts checks the imports).
 */
export * from './close-codes.js';
export * from './errors.js';
export * from './events.js';
export * from './backoff.js';
export * from './ids.js';
