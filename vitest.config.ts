import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files run in parallel workers; each file starts its own servers on free ports.
    fileParallelism: true,
    maxWorkers: 2,
    teardownTimeout: 30_000,
  },
});
