import { defineConfig } from 'vitest/config';

// The in-process unit tests of the numerical core, for Stryker (npm run test:mutation).
// Not the CLI test files: they spawn bin/backprop, which loads dist/, and Stryker
// mutates src/, so they cannot kill a mutant (the few CLI tests inside the files
// below cover no mutant and run only in Stryker's first, unmutated run). Not
// test/nn/combinations.test.ts: its trainings take 30 s once instrumented, for
// every mutant they cover (nearly all of src/nn).
export default defineConfig({
  test: {
    include: [
      'test/nn/backprop.test.ts',
      'test/nn/mutants.test.ts',
      'test/nn/dropout.test.ts',
      'test/analysis/**/*.test.ts',
      'test/autodiff/**/*.test.ts',
      'test/check/**/*.test.ts',
      'test/linalg/js.test.ts',
      'test/train/sgd.test.ts',
      'test/train/diagnose.test.ts',
      'test/**/mutants.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
