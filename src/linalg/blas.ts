import { createRequire } from 'node:module';
import type { Kernels, Trans } from './kernels.js';
import { gemmShape } from './kernels.js';
import { jsKernels } from './js.js';
import type { Matrix } from './matrix.js';

/** Where to look for a CBLAS, in order; $BACKPROP_BLAS (a path) comes first. */
export const BLAS_CANDIDATES: Record<string, string[]> = {
  linux: [
    'libopenblas.so.0',
    'libopenblas.so',
    'libmkl_rt.so.2',
    'libmkl_rt.so',
    'libblis.so.4',
    'libcblas.so.3',
    'libblas.so.3',
  ],
  darwin: [
    '/System/Library/Frameworks/Accelerate.framework/Accelerate',
    '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
    '/usr/local/opt/openblas/lib/libopenblas.dylib',
    'libopenblas.dylib',
  ],
  win32: ['libopenblas.dll', 'openblas.dll', 'mkl_rt.2.dll', 'mkl_rt.dll'],
};

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** Below this many multiply-adds (m·n·k) the FFI call costs more than the js loops. */
export const BLAS_MIN_WORK = 2048;

type GemmFn = (
  order: number, ta: number, tb: number, m: number, n: number, k: number,
  alpha: number, a: Float32Array | Float64Array, lda: number, b: Float32Array | Float64Array, ldb: number,
  beta: number, c: Float32Array | Float64Array, ldc: number,
) => void;

interface Koffi {
  load(path: string): { func(definition: string): (...args: unknown[]) => unknown };
}

export interface BlasProvider {
  kernels: Kernels;
  /** The library that was loaded. */
  library: string;
  /** A tuned BLAS recognised by its own symbols (or Accelerate by its path); undefined for any other, such as the reference BLAS. */
  vendor?: 'OpenBLAS' | 'MKL' | 'BLIS' | 'Accelerate';
  /** OpenBLAS's build configuration, when it says. */
  config?: string;
}

/** A symbol only each tuned BLAS exports, to tell it from the reference BLAS (which is 10× slower than our wasm kernel). */
const VENDOR_SYMBOLS: [NonNullable<BlasProvider['vendor']>, string][] = [
  ['OpenBLAS', 'const char *openblas_get_config()'],
  ['MKL', 'int MKL_Get_Max_Threads()'],
  ['BLIS', 'const char *bli_info_get_version_str()'],
];

/**
 * The blas provider: the system CBLAS (OpenBLAS, MKL, BLIS, Accelerate, the
 * reference CBLAS) called through koffi, on the matrices' own memory — koffi
 * passes a typed array's buffer as the pointer, no copies. Returns the reason
 * when no library loads.
 */
export function loadBlas(): BlasProvider | { error: string } {
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch (e) {
    return { error: `koffi does not load: ${(e as Error).message}` };
  }
  const candidates = [...(process.env.BACKPROP_BLAS ? [process.env.BACKPROP_BLAS] : []), ...(BLAS_CANDIDATES[process.platform] ?? [])];
  const tried: string[] = [];
  for (const path of candidates) {
    try {
      const lib = koffi.load(path);
      const decl = (t: string) =>
        `void cblas_${t}gemm(int order, int ta, int tb, int m, int n, int k, ${t === 's' ? 'float' : 'double'} alpha, ` +
        `const ${t === 's' ? 'float' : 'double'} *a, int lda, const ${t === 's' ? 'float' : 'double'} *b, int ldb, ` +
        `${t === 's' ? 'float' : 'double'} beta, ${t === 's' ? 'float' : 'double'} *c, int ldc)`;
      const sgemm = lib.func(decl('s')) as GemmFn;
      const dgemm = lib.func(decl('d')) as GemmFn;
      let vendor: BlasProvider['vendor'] = path.includes('Accelerate.framework') ? 'Accelerate' : undefined;
      let config: string | undefined;
      for (const [name, symbol] of VENDOR_SYMBOLS) {
        if (vendor) break;
        try {
          const f = lib.func(symbol);
          vendor = name;
          if (name === 'OpenBLAS') config = String(f());
        } catch {
          // not this one
        }
      }
      return { kernels: blasKernels(sgemm, dgemm), library: path, vendor, config };
    } catch (e) {
      tried.push(`${path} (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return { error: `no CBLAS library found; tried ${tried.join(', ') || 'nothing on this platform'}` };
}

function blasKernels(sgemm: GemmFn, dgemm: GemmFn): Kernels {
  return {
    name: 'blas',
    gemm(transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void {
      const { m, n, k } = gemmShape(transA, transB, a, b, c);
      if (m * n * k < BLAS_MIN_WORK || k === 0) return jsKernels.gemm(transA, transB, alpha, a, b, beta, c);
      const f64 = c.data instanceof Float64Array;
      if ((a.data instanceof Float64Array) !== f64 || (b.data instanceof Float64Array) !== f64) {
        throw new Error('blas gemm: A, B and C must have the same precision');
      }
      (f64 ? dgemm : sgemm)(
        ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k,
        alpha, a.data, a.cols, b.data, b.cols, beta, c.data, c.cols,
      );
    },
    rowSums: jsKernels.rowSums,
  };
}

/**
 * The library the blas provider loads, as a koffi handle, for the LAPACK
 * routines some BLAS libraries also export (OpenBLAS, MKL): see lapack.ts.
 */
export function blasLibrary(): { library: string; lib: ReturnType<Koffi['load']> } | { error: string } {
  const r = loadBlas();
  if ('error' in r) return r;
  return { library: r.library, lib: (createRequire(import.meta.url)('koffi') as Koffi).load(r.library) };
}
