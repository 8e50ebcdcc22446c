import { defineConfig } from 'vitest/config';
import { scaled } from './test/support/time-scale.js';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx', 'test/kernel/**/*.test.ts'],
    pool: 'forks',
    // Kernel tests share one kernel: running them one file at a time keeps their workloads apart.
    fileParallelism: false,
    // Longer only under emulation (scripts/test-on-kernel; see test/support/time-scale.ts).
    testTimeout: scaled(30_000),
    hookTimeout: scaled(30_000),
  },
});
