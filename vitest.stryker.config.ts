import { defineConfig } from 'vitest/config';

// The in-process unit tests of the numerical core, for Stryker (npm run test:mutation).
// The CLI tests spawn bin/backprop, which loads dist/: Stryker mutates src/, so
// they could not kill a mutant and would only make every run slower.
export default defineConfig({
  test: {
    include: [
      'test/nn/**/*.test.ts',
      'test/analysis/**/*.test.ts',
      'test/autodiff/**/*.test.ts',
      'test/check/**/*.test.ts',
      'test/linalg/js.test.ts',
      'test/train/sgd.test.ts',
      'test/train/diagnose.test.ts',
      'test/learners/ga.test.ts',
      'test/learners/ntk.test.ts',
      'test/learners/solve.test.ts',
      'test/mutation/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
