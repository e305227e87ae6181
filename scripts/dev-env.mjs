/** Development-only secrets shared by `scripts/run.mjs start` and `scripts/dev-token.mjs`. */
export const DEV_JWT_SECRET = 'dev-jwt-secret-change-me-0123456789';
export const DEV_LINK_SECRET = 'dev-link-secret-change-me-0123';
