import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Unit tests run on the shared packages' sources, so they never depend on a stale dist/.
    // Exact-match patterns: `@gateway/protocol` must not swallow `@gateway/protocol/codes`.
    alias: [
      { find: /^@gateway\/protocol$/, replacement: here('./protocol/src/index.ts') },
      { find: /^@gateway\/server-kit$/, replacement: here('./server-kit/src/index.ts') },
      { find: /^@gateway\/server-kit\/redis$/, replacement: here('./server-kit/src/redis.ts') },
      // The SDK's import (client/src): without it the client's unit tests would run protocol/dist.
      { find: /^@gateway\/protocol\/codes$/, replacement: here('./protocol/src/codes.ts') },
    ],
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'protocol/src/**/*.test.ts',
            'server-kit/src/**/*.test.ts',
            'balancer/src/**/*.test.ts',
            'monolith/src/**/*.test.ts',
            'figures/**/*.test.ts',
            'scripts/**/*.test.ts',
            'bench/**/*.test.ts',
            'client/src/**/*.test.ts',
            'testing/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['e2e/tests/**/*.test.ts'],
          // e2e starts the built balancer and monolith (dist/) as real processes.
          testTimeout: 30_000,
          hookTimeout: 60_000,
          // Each file spawns several processes; on a 2-core CI box running files side by side
          // turns timing margins into flakes.
          fileParallelism: false,
        },
      },
    ],
  },
});
