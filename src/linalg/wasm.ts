import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Kernels } from './kernels.js';
import { acceleratedKernels } from './accelerated.js';
import type { Matrix } from './matrix.js';
import { relaxedSimd, wasmModule } from './simd.js';
import { parallelWork, threadsFor, type ThreadPolicy, type ThreadRule } from './threads.js';

/** Below this many multiply-adds (m·n·k) the copies into wasm memory cost more than the js loops. */
export const WASM_MIN_WORK = 32_768;
/** A product runs on all the pool's threads from 2^24 multiply-adds, 2^14 outputs and an inner dimension of 2^5, else on one (threads.ts; measured in docs/guide/performance.md). */
export const WASM_THREAD_RULE: ThreadRule = { parallelWork: 1 << 24, minOutput: 1 << 14, minInner: 1 << 5 };
/** The micro-kernel's tile (scripts/wasm-kernels.mjs): rows of A (MR, MR_FMA) and columns of B per step. */
const MR = 4;
const MR_FMA = 4;
const NR = 8;
const MAX_THREADS = 16;

// The control block shared with the workers (Int32 slots of a SharedArrayBuffer).
const SEQ = 0; // job number, bumped by the main thread to start a job
const DONE = 1; // workers that finished the current job
const FAILED = 2; // set by a worker whose kernel threw
const N = 3,
  K = 4,
  ARS = 5,
  ACS = 6,
  B = 7,
  LDB = 8,
  LDC = 9,
  ALPHA = 10,
  BETA = 11; // the job (ALPHA, BETA as float32)
const SLOT = 16; // worker w's rows: [SLOT + 3w] = row count, then A and C addresses
const CONTROL_INTS = SLOT + 3 * MAX_THREADS;
/** Iterations a waiting thread polls before it sleeps in Atomics.wait (tens of µs). */
const SPIN = 20_000;

/**
 * The pool thread: instantiates the kernel on the shared memory, then runs
 * its slice of every job. It blocks in Atomics.wait between jobs and never
 * returns; the main thread unrefs it, so it does not keep the process alive.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
const { nn } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const I = new Int32Array(control), F = new Float32Array(control);
const s = ${SLOT} + 3 * index;
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  for (let spin = 0; Atomics.load(I, ${SEQ}) === seen; spin++) if (spin > ${SPIN}) Atomics.wait(I, ${SEQ}, seen);
  seen = Atomics.load(I, ${SEQ});
  try {
    if (I[s] > 0) nn(I[s], I[${N}], I[${K}], I[s + 1], I[${ARS}], I[${ACS}], I[${B}], I[${LDB}], I[s + 2], I[${LDC}], F[${ALPHA}], F[${BETA}]);
  } catch (e) {
    Atomics.store(I, ${FAILED}, 1);
  }
  Atomics.add(I, ${DONE}, 1);
  Atomics.notify(I, ${DONE});
}
`;

interface Gemm {
  /** C ← alpha·A·B + beta·C with A(i, p) at a + i·ars + p·acs; see scripts/wasm-kernels.mjs. */
  nn(m: number, n: number, k: number, a: number, ars: number, acs: number, b: number, ldb: number, c: number, ldc: number, alpha: number, beta: number): void;
  /** dst(j, i) ← src(i, j). */
  transpose(src: number, rows: number, cols: number, lds: number, dst: number, ldd: number): void;
}

/**
 * The wasm provider: our own float32 GEMM kernel in WebAssembly SIMD
 * (assets/gemm.wasm, assembled from scripts/wasm-kernels.mjs), run on the main
 * thread plus worker_threads over one shared WebAssembly.Memory. Nothing is
 * downloaded or compiled at install; any Node with wasm SIMD runs it.
 *
 * Threads: $BACKPROP_WASM_THREADS, else the machine's available parallelism.
 * Kernel: assets/gemm-fma.wasm (f32x4.relaxed_madd) where the engine has
 * relaxed SIMD (relaxedSimd()) and $BACKPROP_WASM_FMA is not 0, else
 * assets/gemm.wasm (f32x4.mul, f32x4.add).
 */
export async function loadWasm(threads?: number, fma?: boolean, minParallel?: number): Promise<WasmLoaded | { error: string }> {
  const want = threads === undefined ? wasmThreads() : { threads };
  if ('error' in want) return want;
  const work = minParallel === undefined ? parallelWork(WASM_THREAD_RULE) : { parallelWork: minParallel };
  if ('error' in work) return work;
  const policy: ThreadPolicy = { max: want.threads, ...work };
  const relaxed = relaxedSimd();
  let useFma = fma ?? (relaxed.available && process.env.BACKPROP_WASM_FMA !== '0');
  let why = fma === false ? 'asked for without FMA' : !relaxed.available ? relaxed.how : useFma ? relaxed.how : 'BACKPROP_WASM_FMA=0';
  if (useFma && !relaxed.available) return { error: `the FMA kernel needs relaxed SIMD: ${relaxed.how}` };
  let compiled = wasmModule(useFma ? 'gemm-fma.wasm' : 'gemm.wasm');
  if (useFma && 'error' in compiled && fma === undefined) {
    why = `assets/gemm-fma.wasm does not compile (${compiled.error})`;
    useFma = false;
    compiled = wasmModule('gemm.wasm');
  }
  if ('error' in compiled) return { error: `the wasm GEMM kernel does not compile here (WebAssembly SIMD and threads are needed): ${compiled.error}` };
  const { module } = compiled;
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const gemm = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Gemm;
  const control = new SharedArrayBuffer(4 * CONTROL_INTS);
  const workers: Worker[] = [];
  try {
    for (let index = 1; index < want.threads; index++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control, index } });
      workers.push(w);
      await new Promise<void>((resolve, reject) => {
        w.once('message', () => resolve());
        w.once('error', reject);
      });
      w.unref();
    }
  } catch (e) {
    for (const w of workers) void w.terminate();
    return { error: `wasm worker threads do not start: ${(e as Error).message.split('\n')[0]}` };
  }
  return {
    kernels: wasmKernels(gemm, memory, control, policy, useFma ? MR_FMA : MR),
    threads: want.threads,
    policy,
    fma: useFma,
    kernel: useFma ? `fused multiply-add (assets/gemm-fma.wasm, f32x4.relaxed_madd; ${why})` : `multiply then add (assets/gemm.wasm; ${why})`,
  };
}

export interface WasmLoaded {
  kernels: Kernels;
  threads: number;
  /** How many of the threads a product runs on. */
  policy: ThreadPolicy;
  /** Whether the kernel is the fused multiply-add one. */
  fma: boolean;
  /** Which kernel runs and why, for `backprop info` and provenance. */
  kernel: string;
}

/** The thread count asked for by $BACKPROP_WASM_THREADS, or the machine's parallelism. */
export function wasmThreads(env: NodeJS.ProcessEnv = process.env): { threads: number } | { error: string } {
  const v = env.BACKPROP_WASM_THREADS;
  if (v === undefined || v === '') return { threads: Math.min(MAX_THREADS, availableParallelism()) };
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) return { error: `BACKPROP_WASM_THREADS=${v}: expected a whole number from 1 to ${MAX_THREADS}` };
  return { threads: n };
}

const roundUp = (x: number, r: number) => Math.ceil(x / r) * r;

/**
 * gemm: A and B are copied into wasm memory (A's rows padded to a multiple
 * of 4 and B's columns to a multiple of 8 with zeros), C too when beta ≠ 0;
 * a transposed A is read in place through its strides, a transposed B is
 * transposed there by the kernel module; the rows of C are split between
 * the threads; C is copied back.
 */
function wasmKernels(kernel: Gemm, memory: WebAssembly.Memory, control: SharedArrayBuffer, policy: ThreadPolicy, MR: number): Kernels {
  const threads = policy.max;
  const I = new Int32Array(control),
    F = new Float32Array(control);
  let heap = new Float32Array(memory.buffer);
  /** Makes room for `floats` float32 values at address 0 and returns a view of all of memory. */
  const reserve = (floats: number): Float32Array => {
    const bytes = floats * 4;
    if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
    if (heap.length * 4 !== memory.buffer.byteLength) heap = new Float32Array(memory.buffer);
    return heap;
  };
  let seq = 0;
  return acceleratedKernels('wasm', { minWork: WASM_MIN_WORK, float64: false }, (transA, transB, alpha, a, b, beta, c, { m, n, k }) => {
    const mp = roundUp(m, MR),
      np = roundUp(n, NR);
    // Float offsets, 16-byte aligned: A (mp × k, or k × mp when transposed),
    // op(B) (k × np), C (mp × np), and B as given when it is to be transposed.
    const oa = 0,
      ob = roundUp(mp * k, 4),
      oc = ob + roundUp(k * np, 4),
      os = oc + roundUp(mp * np, 4);
    const H = reserve(transB ? os + n * k : os);
    // A(i, p) at oa + i·ars + p·acs (in floats here)
    let ars: number, acs: number;
    if (transA) {
      copyIn(a, H, oa, mp); // k × m, rows padded to mp
      ars = 1;
      acs = mp;
    } else {
      copyIn(a, H, oa, k);
      if (mp > m) H.fill(0, oa + m * k, oa + mp * k);
      ars = k;
      acs = 1;
    }
    if (transB) {
      H.set(b.data, os); // n × k
      kernel.transpose(4 * os, n, k, 4 * k, 4 * ob, 4 * np);
      if (np > n) for (let p = 0, at = ob + n; p < k; p++, at += np) for (let j = 0; j < np - n; j++) H[at + j] = 0; // ≤ 7 a row: a loop, not k fill() calls
    } else copyIn(b, H, ob, np);
    if (beta !== 0) copyIn(c, H, oc, np);
    // Rows of C per thread, in whole tiles; one thread for small products.
    const parts = Math.min(threadsFor(policy, m, n, k), mp / MR);
    const per = roundUp(mp / parts, MR);
    if (parts > 1) {
      I[N] = np;
      I[K] = k;
      I[ARS] = 4 * ars;
      I[ACS] = 4 * acs;
      I[B] = 4 * ob;
      I[LDB] = 4 * np;
      I[LDC] = 4 * np;
      F[ALPHA] = alpha;
      F[BETA] = beta;
      for (let w = 1; w < threads; w++) {
        const r0 = Math.min(mp, w * per),
          r1 = w < parts ? Math.min(mp, r0 + per) : r0;
        I[SLOT + 3 * w] = r1 - r0;
        I[SLOT + 3 * w + 1] = 4 * (oa + r0 * ars);
        I[SLOT + 3 * w + 2] = 4 * (oc + r0 * np);
      }
      Atomics.store(I, DONE, 0);
      Atomics.store(I, SEQ, ++seq);
      Atomics.notify(I, SEQ);
    }
    kernel.nn(parts > 1 ? per : mp, np, k, 4 * oa, 4 * ars, 4 * acs, 4 * ob, 4 * np, 4 * oc, 4 * np, alpha, beta);
    if (parts > 1) {
      for (let spin = 0, d; (d = Atomics.load(I, DONE)) < threads - 1; spin++) if (spin > SPIN) Atomics.wait(I, DONE, d, 1000);
      if (Atomics.load(I, FAILED)) throw new Error('wasm gemm: a worker thread failed');
    }
    copyOut(H, oc, np, c);
  });
}

/** X into H at float offset `at`, rows `ld` floats apart (zero-padded past X's columns). */
function copyIn(x: Matrix, H: Float32Array, at: number, ld: number): void {
  const X = x.data,
    r = x.rows,
    c = x.cols;
  if (ld === c) H.set(X, at);
  else if (c < 64)
    // narrow rows (N's 784 × 10 batch, say): one loop, where set() and fill() per row cost ~30 ns a call
    for (let i = 0, src = 0, dst = at; i < r; i++, dst += ld - c) {
      for (let j = 0; j < c; j++) H[dst++] = X[src++];
      for (let j = c; j < ld; j++) H[dst + j - c] = 0;
    }
  else
    for (let i = 0; i < r; i++) {
      H.set(X.subarray(i * c, (i + 1) * c), at + i * ld);
      H.fill(0, at + i * ld + c, at + (i + 1) * ld);
    }
}

/** C ← the m × n result at H[at], rows `ld` floats apart. */
function copyOut(H: Float32Array, at: number, ld: number, c: Matrix): void {
  const C = c.data,
    m = c.rows,
    n = c.cols;
  if (ld === n) C.set(H.subarray(at, at + m * n));
  else for (let i = 0; i < m; i++) C.set(H.subarray(at + i * ld, at + i * ld + n), i * n);
}
