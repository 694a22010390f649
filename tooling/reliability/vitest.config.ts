import { defineConfig } from 'vitest/config';

// One file at a time: the scenarios start daemons, labs and thousands of connections, and on a
// 2-core CI machine running them side by side would measure contention, not reliability.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
