#!/usr/bin/env node
// The wasm GEMM kernel with and without fused multiply-add (assets/gemm-fma.wasm,
// assets/gemm.wasm), on 1 and 2 threads, alternated: GFLOPS of `backprop info`'s
// product (256×784 · 784×128, every product on all threads), 5 rounds: the best
// (what the cores do when no other job holds them), the median, and all.
//
//   npm run build && node bench/wasm-fma.mjs
import { loadWasm } from '../dist/linalg/wasm.js';
import { measureGflops } from '../dist/cli/info.js';

const out = {};
for (let round = 0; round < 5; round++)
  for (const fma of [false, true])
    for (const threads of [1, 2]) {
      const r = await loadWasm(threads, fma, 0);
      if ('error' in r) throw new Error(r.error);
      (out[`${fma ? 'FMA   ' : 'no FMA'} ${threads} thread${threads > 1 ? 's' : ' '}`] ??= []).push(measureGflops(r.kernels));
    }
for (const [k, v] of Object.entries(out)) {
  const sorted = [...v].sort((a, b) => a - b);
  console.log(`${k}  best ${sorted[4].toFixed(1).padStart(5)}  median ${sorted[2].toFixed(1).padStart(5)} GFLOPS  (${v.map((x) => x.toFixed(1)).join(', ')})`);
}
process.exit(0);
