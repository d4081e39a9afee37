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
      'test/nn/activations.test.ts',
      'test/nn/costs.test.ts',
      'test/nn/network.test.ts',
      'test/nn/dropout.test.ts',
      'test/nn/conv.test.ts',
      'test/nn/batchnorm.test.ts',
      'test/nn/smoothing.test.ts',
      'test/base/rng.test.ts',
      'test/analysis/**/*.test.ts',
      'test/autodiff/**/*.test.ts',
      'test/check/**/*.test.ts',
      'test/linalg/js.test.ts',
      'test/linalg/kernels.test.ts',
      'test/train/sgd.test.ts',
      'test/train/session.test.ts',
      'test/train/metrics.test.ts',
      'test/train/diagnose.test.ts',
      'test/train/optimizers.test.ts',
      'test/train/early-stop.test.ts',
      'test/train/schedule.test.ts',
      'test/train/run-log.test.ts',
      'test/train/run-log-names.test.ts',
      'test/train/run.test.ts',
      'test/train/settings.test.ts',
      'test/train/init-from.test.ts',
      'test/train/lr-find.test.ts',
      'test/train/augment.test.ts',
      'test/cli/advice.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
