/** Node-only parts of the protocol package (crypto, stderr); the index stays browser-safe. */
export * from './jwt.js';
export * from './link-auth.js';
export * from './log.js';
export * from './source-key.js';
export * from './link-tls.js';
export * from './link-writer.js';
export * from './ready-line.js';
