// Mutation testing of the numerical core: `npm run test:mutation` (on demand, not in CI: see README, Tests).
// One file: `npm run test:mutation -- --mutate src/nn/costs.ts`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/nn/**/*.ts',
    'src/linalg/js.ts',
    'src/linalg/kernels.ts',
    'src/autodiff/**/*.ts',
    'src/check/**/*.ts',
    'src/analysis/**/*.ts',
    'src/train/**/*.ts',
    'src/learners/**/*.ts',
  ],
  // Two cores shared with others: one mutant at a time.
  concurrency: 1,
  timeoutMS: 30_000,
  // Re-tests only mutants whose code or covering tests changed since the last run (the file is not committed: it is a cache).
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
