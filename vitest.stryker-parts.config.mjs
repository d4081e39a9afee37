import { defineConfig } from 'vitest/config';

// The in-process unit tests of src/io, src/data and src/learners, for Stryker, one part at a time (STRYKER_PART):
//   STRYKER_VITEST=vitest.stryker-parts.config.mjs STRYKER_PART=io npm run test:mutation -- --mutate 'src/io/**/*.ts' --force
// As in vitest.stryker.config.ts, not the CLI tests: they run dist/, which Stryker does not mutate. Each part runs the
// tests that import its modules, so that the first (unmutated) run stays short. (.mjs: no tsconfig needs to list it.)
const parts = {
  // Not test/io/fuzz.test.ts: its 400 random corruptions per property run to their 20 s limit under many mutants.
  io: ['test/io/checkpoint.test.ts', 'test/io/provenance.test.ts', 'test/io/safetensors.test.ts', 'test/io/tfjs-export.test.ts'],
  // The download tests (servers that answer 429/503 with Retry-After, slow bodies) apart: they wait seconds by design.
  data: [
    'test/data/augment.test.ts',
    'test/data/catalog-mnist.test.ts',
    'test/data/catalog-verify.test.ts',
    'test/data/csv.test.ts',
    'test/data/dataset.test.ts',
    'test/data/idx.test.ts',
    'test/data/image.test.ts',
    'test/data/limits.test.ts',
    'test/train/augment.test.ts',
  ],
  // The unit tests of the small readers alone (a short first run, for a quick score of those files).
  'data-readers': ['test/data/csv.test.ts', 'test/data/dataset.test.ts', 'test/data/image.test.ts', 'test/data/limits.test.ts', 'test/data/idx.test.ts'],
  // One module's tests at a time (the part named for it), for a short first run: --mutate that module alone.
  'data-val': ['test/data/val-data.test.ts'],
  'data-augment': ['test/data/augment.test.ts', 'test/train/augment.test.ts'],
  'data-catalog': ['test/data/catalog.test.ts', 'test/data/catalog-mnist.test.ts', 'test/data/catalog-verify.test.ts', 'test/data/load.test.ts'],
  'data-load': ['test/data/load.test.ts', 'test/data/catalog-verify.test.ts'],
  'data-fetch': ['test/data/fetch-retry.test.ts', 'test/data/fetch-file.test.ts'],
  // The fast tests of the learners' own code; ga, ntk and rbm (tests of a minute each once instrumented) apart.
  learners: [
    'test/learners/harness.test.ts',
    'test/learners/sgd.test.ts',
    'test/learners/finite.test.ts',
    'test/learners/study.test.ts',
    'test/learners/ode-solvers.test.ts',
    'test/learners/ode.test.ts',
    'test/learners/progress.test.ts',
    'test/learners/memory.test.ts',
  ],
  // One learner's own tests (a whole run of the three parts below is about 3 h on 2 cores: the part above, 1119
  // mutants, was estimated at 2 h 55 min after 123 of them, as each survivor runs every fit that covers it).
  'learners-ga': ['test/learners/ga.test.ts', 'test/learners/finite.test.ts', 'test/learners/memory.test.ts', 'test/learners/progress.test.ts'],
  'learners-ntk': ['test/learners/ntk.test.ts', 'test/learners/finite.test.ts', 'test/learners/solve.test.ts', 'test/learners/progress.test.ts'],
  'learners-rbm': ['test/learners/rbm.test.ts', 'test/learners/finite.test.ts'],
  // The GA, the NTK and the RBM, with the tests of the harness, progress and memory that run them.
  'learners-models': [
    'test/learners/ga.test.ts',
    'test/learners/ntk.test.ts',
    'test/learners/rbm.test.ts',
    'test/learners/solve.test.ts',
    'test/learners/harness.test.ts',
    'test/learners/progress.test.ts',
    'test/learners/memory.test.ts',
  ],
};
const part = process.env.STRYKER_PART ?? '';
if (!(part in parts)) throw new Error(`STRYKER_PART must be one of ${Object.keys(parts).join(', ')} (got '${part}')`);
export default defineConfig({
  test: {
    include: parts[part],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
