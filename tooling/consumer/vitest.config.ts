import { defineConfig } from 'vitest/config';

// Packing and `npm install` from the registry take a while on a busy machine: generous safety nets only.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
