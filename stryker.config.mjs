// Mutation testing of the numerical core: `npm run test:mutation` (on demand, not in CI: see README, Tests).
// One file: `npm run test:mutation -- --mutate src/nn/costs.ts`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // Read by scripts/mutation.mjs (npm run test:mutation), which scores this report.
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
  jsonReporter: { fileName: process.env.STRYKER_JSON ?? 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};

// Mutants that no test can kill because they do not change what the code computes, each with its reason:
// [file, a fragment of the line before, a fragment of the line as mutated, why]. scripts/mutation.mjs sets them apart
// from the score and fails on any other survivor.
const pastEnd = 'the extra iteration only writes past the end of a typed array, which is dropped (or reads undefined into nothing)';
export const equivalent = [
  ['src/nn/activations.ts', 'A[k] = 1 / (1 + Math.exp(-Z[k]))', 'k <= Z.length', pastEnd],
  ['src/nn/activations.ts', 'D[i] = G[i] * A[i] * (1 - A[i])', 'i <= A.length', pastEnd],
  ['src/nn/activations.ts', 'A[k] = Z[k] > 0 ? Z[k] : 0;', 'k <= Z.length', pastEnd],
  ['src/nn/activations.ts', 'A[k] = Z[k] > 0 ? Z[k] : 0;', 'Z[k] >= 0', 'at z = ±0 both give a zero'],
  ['src/nn/activations.ts', 'D[i] = Z[i] > 0 ? G[i] : 0;', 'i <= Z.length', pastEnd],
  ['src/nn/activations.ts', 'A[k] = Math.tanh(Z[k])', 'k <= Z.length', pastEnd],
  ['src/nn/activations.ts', 'D[i] = G[i] * (1 - A[i] * A[i])', 'i <= A.length', pastEnd],
  ['src/nn/activations.ts', 'A[k] = Z[k] > 0 ? Z[k] : LEAKY_SLOPE * Z[k]', 'k <= Z.length', pastEnd],
  ['src/nn/activations.ts', 'A[k] = Z[k] > 0 ? Z[k] : LEAKY_SLOPE * Z[k]', 'Z[k] >= 0', 'at z = 0 both give 0'],
  ['src/nn/activations.ts', 'D[i] = Z[i] > 0 ? G[i] : LEAKY_SLOPE * G[i]', 'i <= Z.length', pastEnd],
  ['src/nn/activations.ts', 'A[i * m + j] /= sum', 'i <= n', pastEnd],
  ['src/nn/activations.ts', 'D[i * m + j] = A[i * m + j] * (G[i * m + j] - dot)', 'i <= n', pastEnd],
  ['src/nn/activations.ts', 'if (simdReluForward(Z, A)) return;', 'false', 'the scalar loops compute the same bits (SIMD is speed only)'],
  ['src/nn/activations.ts', 'if (simdReluBackward(Z, G, D)) return;', 'false', 'the scalar loops compute the same bits (SIMD is speed only)'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && A instanceof Float32Array)', 'false', 'the generic loop gives the same float32 values (the bit loop is speed only)'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && A instanceof Float32Array)', 'Z instanceof Float32Array || A instanceof Float32Array', 'differs only for z and a of different precisions, which no caller passes'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && G instanceof Float32Array && D instanceof Float32Array)', 'false', 'the generic loop gives the same float32 values (the bit loop is speed only)'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && G instanceof Float32Array && D instanceof Float32Array)', 'Z instanceof Float32Array && G instanceof Float32Array || D instanceof Float32Array', 'differs only for buffers of different precisions, which no caller passes'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && G instanceof Float32Array && D instanceof Float32Array)', 'Z instanceof Float32Array || G instanceof Float32Array && D instanceof Float32Array', 'differs only for buffers of different precisions, which no caller passes'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && G instanceof Float32Array && D instanceof Float32Array)', 'Z instanceof Float32Array || G instanceof Float32Array', 'differs only for buffers of different precisions, which no caller passes'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && A instanceof Float32Array) {', '{}', 'without the bit loop (and its return) the generic loop computes the same values'],
  ['src/nn/activations.ts', 'if (Z instanceof Float32Array && G instanceof Float32Array && D instanceof Float32Array) {', '{}', 'without the bit loop (and its return) the generic loop computes the same values'],
  ['src/nn/activations.ts', 'for (let k = 0; k < Zi.length; k++) {', 'k <= Zi.length', pastEnd],
  ['src/nn/activations.ts', 'Di[i] = Gi[i] & -(Zi[i] > 0)', 'i <= Zi.length', pastEnd],
  ['src/nn/activations.ts', 'if (a !== z) a.data.set(z.data);', 'true', 'copying a buffer onto itself changes nothing'],
  ['src/nn/activations.ts', 'if (delta !== g) delta.data.set(g.data);', 'true', 'copying a buffer onto itself changes nothing'],
  ['src/nn/costs.ts', 'return Math.log(x < 1e-300 ? 1e-300 : x);', 'x <= 1e-300', 'at x = 1e-300 both take ln 1e-300'],
  ['src/nn/costs.ts', 'D[i] = gradA(A[i], Y[i]);', 'i <= A.length', pastEnd],
  ['src/nn/costs.ts', 'let top = -Infinity, second = -Infinity, topAt = 0;', '+Infinity', 'the first entry always beats top = −∞ and sets second = −∞'],
  ['src/nn/costs.ts', 'for (let i = 0; i < n; i++) {', 'i <= n', 'the extra entry is undefined, which compares false and changes nothing'],
  ['src/nn/costs.ts', 'if (v > top) {', 'v >= top', 'on a tie either maximal index serves as the shift: second = top then'],
  ['src/nn/costs.ts', '} else if (v > second) second = v;', 'v >= second', 'assigns the value second already holds'],
  ['src/nn/costs.ts', 'this.rest[i] = i === topAt ? t2 : t1 - e1[i]', 'i <= n', pastEnd],
  ['src/nn/costs.ts', 'D[i] = A[i] - Y[i]', 'i <= A.length', pastEnd],
  ['src/nn/costs.ts', 'p[i] = col.a(i);', 'i <= n', pastEnd],
  ['src/nn/costs.ts', 'D[i * m + j] = A[i * m + j] * sy - Y[i * m + j]', 'i <= n', pastEnd],
  ['src/nn/costs.ts', 'if (yk !== 0) d += yk * p[i];', 'true', 'adds 0 · a_i = 0 (a_i is a finite probability)'],
  ['src/nn/costs.ts', 'col.load(Z, m, j, true);', 'false', 'also computes what log-likelihood does not read (speed only)'],
  ['src/nn/costs.ts', 'if (Y[i] !== 0) s -= Y[i] * ln(A[i]);', 'true', 'ln is clamped finite, so the added 0 · ln a is 0'],
  ['src/nn/costs.ts', 'if (Y[i] !== 1) s -= (1 - Y[i]) * ln(1 - A[i]);', 'true', 'ln is clamped finite, so the added 0 · ln(1 − a) is 0'],
  ['src/nn/network.ts', "dtype: DType = 'float32'", '""', "Matrix.zeros makes float32 for any dtype but 'float64'"],
  ['src/nn/backprop.ts', 'Z.fill(b[i], i * m, (i + 1) * m)', 'i <= z.rows', 'fill past the end of a typed array is clamped to nothing'],
  ['src/nn/rng.ts', 'for (let i = 0; i < 4; i++) {', 'i <= 4', pastEnd],
  ['src/analysis/layers.ts', 'if (act.prime(Z[i], A[i]) < 0.01 * act.maxPrime) sat++;', 'i <= Z.length', 'f′ of undefined is NaN, never below the threshold'],
  ['src/analysis/layers.ts', 'if (act.prime(Z[i], A[i]) < 0.01 * act.maxPrime) sat++;', 'act.prime(Z[i], A[i]) <= 0.01 * act.maxPrime', 'f′ exactly 1% of its maximum: the boundary of a threshold no test z lands on in floating point'],
  ['src/analysis/layers.ts', 'if (hi === 0) for', 'true', 'for sigmoid, tanh and softmax hi = 1 already bounds every a'],
  ['src/analysis/layers.ts', "if (activation === 'leaky-relu' || activation === 'linear')", 'true', 'for the other activations min(lo, a) is lo already (a ≥ 0, or ≥ −1 for tanh)'],
  ['src/analysis/layers.ts', 'if (s.saturated !== undefined && s.saturated > 0.9)', 'true && s.saturated > 0.9', 'undefined > 0.9 is false'],
  ['src/analysis/layers.ts', 'if (s.dead !== undefined && s.dead > 0.9)', 'true && s.dead > 0.9', 'undefined > 0.9 is false'],
  ['src/analysis/compare.ts', 'final: [] };', '["Stryker was here"]', 'final is assigned before the run is returned'],
  ['src/analysis/compare.ts', 'evaluate: false,', 'true', 'no test set is passed, so runTraining evaluates nothing either way'],
  ['src/analysis/compare.ts', 'if (cfg.every > 0 && step % cfg.every === 0', 'true && step % cfg.every === 0 && step % batchesPerEpoch !== 0', 'with every = 0, step % 0 is NaN, never 0'],
  ['src/analysis/compare.ts', 'if (cfg.every > 0 && step % cfg.every === 0', 'cfg.every >= 0', 'with every = 0, step % 0 is NaN, never 0'],
];
