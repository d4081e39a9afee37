import { defineConfig } from 'vitest/config';

// The unit tests aimed at src/linalg/js.ts, kernels.ts, accelerated.ts, simd.ts and src/autodiff, for Stryker:
//   STRYKER_VITEST=vitest.stryker-kernels.config.mjs npm run test:mutation -- --mutate 'src/linalg/js.ts,src/linalg/kernels.ts'
// Nearly every test in vitest.stryker.config.ts multiplies matrices, so under its perTest coverage each mutant of the
// js kernels reruns most of them (more than an hour). These modules are judged by their own tests alone, which makes
// their score conservative: a mutant only the other tests would kill counts as surviving here. (.mjs: no tsconfig
// needs to list it for the type-aware lint.)
export default defineConfig({
  test: {
    include: ['test/linalg/js.test.ts', 'test/linalg/kernels.test.ts', 'test/linalg/accelerated.test.ts', 'test/linalg/simd.test.ts', 'test/autodiff/**/*.test.ts', 'test/nn/backprop.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
