import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx', 'test/kernel/**/*.test.ts'],
    pool: 'forks',
    // Kernel tests share one kernel: running them one file at a time keeps their workloads apart.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
