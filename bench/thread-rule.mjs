#!/usr/bin/env node
// Measures the thread policy's rule (src/linalg/threads.ts): for gemm shapes
// of growing size m·n·k, the µs of one product on 1 thread and on all
// threads, for OpenBLAS and the wasm kernel, alternated in short bursts so that
// drift in a shared machine's load hits both alike. Prints the minimum (the
// product's cost when the cores are free) and the median of each.
//
//   npm run build && node bench/thread-rule.mjs [--rounds 15] [--only C64]
import { loadBlas } from '../dist/linalg/blas.js';
import { loadWasm } from '../dist/linalg/wasm.js';
import { Matrix } from '../dist/linalg/index.js';
import { availableParallelism } from 'node:os';

const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const rounds = Number(arg('--rounds')) || 15;
// --only TEXT: the shapes whose label contains TEXT (e.g. --only C64)
const only = arg('--only');
const all = availableParallelism();
// [label, transA, transB, m, n, k]: the products of W (784-256-128-10, batch 128) and squares between
const SHAPES = [
  ['W l3 forward', false, false, 10, 128, 128],
  ['square 64', false, false, 64, 64, 64],
  ['square 96', false, false, 96, 96, 96],
  ['square 128', false, false, 128, 128, 128],
  ['W l2 forward', false, false, 128, 128, 256],
  ['W l2 δ·Aᵀ', false, true, 128, 256, 128],
  ['W l2 Wᵀ·δ', true, false, 256, 128, 128],
  ['square 192', false, false, 192, 192, 192],
  ['square 256', false, false, 256, 256, 256],
  ['W l1 forward', false, false, 256, 128, 784],
  ['W l1 δ·Aᵀ', false, true, 256, 784, 128],
  ['square 384', false, false, 384, 384, 384],
  // the conv net of bench's C10 and C64 (conv5x5x20,pool2,conv5x5x40,pool2,100,10; m·P columns, K = c_in·kh·kw)
  ['C10 l1 forward', false, false, 20, 5760, 25],
  ['C10 l1 δ·colsᵀ', false, true, 20, 25, 5760],
  ['C10 l2 forward', false, false, 40, 640, 500],
  ['C10 l2 Wᵀ·δ', true, false, 500, 640, 40],
  ['C10 l2 δ·colsᵀ', false, true, 40, 500, 640],
  ['C64 l1 forward', false, false, 20, 36864, 25],
  ['C64 l1 δ·colsᵀ', false, true, 20, 25, 36864],
  ['C64 l2 forward', false, false, 40, 4096, 500],
  ['C64 l2 Wᵀ·δ', true, false, 500, 4096, 40],
  ['C64 l2 δ·colsᵀ', false, true, 40, 500, 4096],
  // 2^24 multiply-adds over outputs (m·n) of growing size, and short inner dimensions
  ['out 2^10', false, true, 32, 32, 16384],
  ['out 2^12', false, true, 64, 64, 4096],
  ['out 2^14', false, true, 128, 128, 1024],
  ['out 2^16', false, true, 256, 256, 256],
  ['out 2^18 k 64', false, false, 512, 512, 64],
  ['out 2^20 k 16', false, false, 1024, 1024, 16],
];
// With the rule off (every product on all threads), the blas provider never
// sets OpenBLAS's threads itself: this script sets them around each burst
// (one library, loaded once, so one kernels object for both counts).
process.env.BACKPROP_PARALLEL_WORK = '0';
const blas = loadBlas();
if ('error' in blas) throw new Error(blas.error);
const providers = {
  blas: [blas.kernels, blas.kernels],
  wasm: [(await loadWasm(1)).kernels, (await loadWasm(all, undefined, 0)).kernels],
};
const { default: koffi } = await import('koffi');
const lib = koffi.load(blas.path);
const setThreads = lib.func('void openblas_set_num_threads(int n)');

const fill = (x, f) => (x.data.forEach((_, i) => (x.data[i] = f(i))), x);
const timeBurst = (k, tA, tB, a, b, c, calls) => {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) k.gemm(tA, tB, 1, a, b, 0, c);
  return ((performance.now() - t0) * 1000) / calls;
};
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
console.log(`${all} threads; ${rounds} alternating bursts each; µs per product, min / median`);
console.log('shape'.padEnd(16) + 'm·n·k'.padStart(10) + 'm·n'.padStart(9) + '  blas 1'.padStart(16) + `  blas ${all}`.padStart(16) + '  wasm 1'.padStart(16) + `  wasm ${all}`.padStart(16));
for (const [label, tA, tB, m, n, k] of SHAPES.filter(([label]) => !only || label.includes(only))) {
  const a = fill(tA ? Matrix.zeros(k, m) : Matrix.zeros(m, k), Math.sin),
    b = fill(tB ? Matrix.zeros(n, k) : Matrix.zeros(k, n), Math.cos),
    c = Matrix.zeros(m, n);
  const calls = Math.max(1, Math.round(2e6 / (m * n * k)));
  const cols = [];
  for (const [name, [one, many]] of Object.entries(providers)) {
    const t1 = [],
      tn = [];
    for (let r = 0; r < rounds; r++) {
      if (name === 'blas') setThreads(1);
      timeBurst(one, tA, tB, a, b, c, 1);
      t1.push(timeBurst(one, tA, tB, a, b, c, calls));
      if (name === 'blas') setThreads(all);
      timeBurst(many, tA, tB, a, b, c, 1);
      tn.push(timeBurst(many, tA, tB, a, b, c, calls));
    }
    cols.push(t1, tn);
  }
  console.log(label.padEnd(16) + String(m * n * k).padStart(10) + String(m * n).padStart(9) + cols.map((t) => `${Math.min(...t).toFixed(0)} / ${med(t).toFixed(0)}`.padStart(16)).join(''));
}
process.exit(0);
