import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Vitest's default is one worker fewer than the cores: one worker on CI's 2 cores, where most files spend their time
    // waiting on a spawned bin/backprop, a server's Retry-After or a signal. Two workers keep both cores busy.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default', './test/skipped-reporter.ts'],
  },
});
