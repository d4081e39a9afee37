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
    // Not yet src/learners: its tests (the NTK at width 4096, the GA) take minutes per mutant once instrumented.
  ],
  // Two cores shared with others: one mutant at a time.
  concurrency: 1,
  timeoutMS: 5_000,
  // Mutants in code that runs when a module loads (tables, constants) are covered by no single test, so each would
  // rerun every test: not run, and counted apart in the README (the tables are each used by tests that would fail).
  ignoreStatic: true,
  // Re-tests only mutants whose code or covering tests changed since the last run (the file is not committed: it is a cache).
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
