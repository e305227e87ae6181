// Moved to testing/ so unit tests share it without reaching into e2e/ (STYLE layout).
export * from '../../testing/redis.js';
