import { existsSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Kernels } from './kernels.js';
import { acceleratedKernels } from './accelerated.js';
import { chooseCore, resolveLibrary, type CoreChoice } from './openblas-core.js';
import { parallelWork, threadsFor, type ThreadPolicy, type ThreadRule } from './threads.js';

/** Where to look for a CBLAS, in order; $BACKPROP_BLAS (a path) comes first. */
export const BLAS_CANDIDATES: Record<string, string[]> = {
  linux: ['libopenblas.so.0', 'libopenblas.so', 'libmkl_rt.so.2', 'libmkl_rt.so', 'libblis.so.4', 'libcblas.so.3', 'libblas.so.3'],
  darwin: ['/System/Library/Frameworks/Accelerate.framework/Accelerate', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib', 'libopenblas.dylib'],
  win32: ['libopenblas.dll', 'openblas.dll', 'mkl_rt.2.dll', 'mkl_rt.dll'],
};

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

/** Below this many multiply-adds (m·n·k) the FFI call costs more than the js loops. */
export const BLAS_MIN_WORK = 2048;
/** OpenBLAS runs a product on all its threads from 2^24 multiply-adds, 2^15 outputs and an inner dimension of 2^7, else on one (threads.ts; measured in docs/guide/performance.md). */
export const BLAS_THREAD_RULE: ThreadRule = { parallelWork: 1 << 24, minOutput: 1 << 15, minInner: 1 << 7 };

type GemmFn = (
  order: number,
  ta: number,
  tb: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array | Float64Array,
  lda: number,
  b: Float32Array | Float64Array,
  ldb: number,
  beta: number,
  c: Float32Array | Float64Array,
  ldc: number,
) => void;

interface KoffiLibrary {
  func(definition: string): (...args: unknown[]) => unknown;
}
interface Koffi {
  load(path: string): KoffiLibrary;
}

export interface BlasProvider {
  kernels: Kernels;
  /** The library that was loaded, as named ($BACKPROP_BLAS or a candidate). */
  library: string;
  /** The file it resolved to (symbolic links followed). */
  path: string;
  /** A tuned BLAS recognised by its own symbols (or Accelerate by its path); undefined for any other, such as the reference BLAS. */
  vendor?: 'OpenBLAS' | 'MKL' | 'BLIS' | 'Accelerate';
  /** OpenBLAS's build configuration, when it says. */
  config?: string;
  /** The core OpenBLAS runs (openblas_get_corename), and how it was chosen. */
  corename?: string;
  core?: CoreChoice;
  /** The thread policy, for an OpenBLAS (set through openblas_set_num_threads); other libraries choose their own threads. */
  threads?: ThreadPolicy;
}

/** A symbol only each tuned BLAS exports, to tell it from the reference BLAS (which is 10× slower than our wasm kernel). */
const VENDOR_SYMBOLS: [NonNullable<BlasProvider['vendor']>, string][] = [
  ['OpenBLAS', 'const char *openblas_get_config()'],
  ['MKL', 'int MKL_Get_Max_Threads()'],
  ['BLIS', 'const char *bli_info_get_version_str()'],
];

/** The library loadBlas() loaded last: the file's path and the koffi handle. */
let loaded: { library: string; lib: KoffiLibrary } | undefined;

/**
 * The blas provider: the system CBLAS (OpenBLAS, MKL, BLIS, Accelerate, the
 * reference CBLAS) called through koffi, on the matrices' own memory — koffi
 * passes a typed array's buffer as the pointer, no copies. koffi itself is
 * loaded here, on first use, not when the module is imported. $BACKPROP_BLAS,
 * when set, is the only library tried, and its failure is the error. For
 * OpenBLAS, the core type is chosen before the library initialises
 * (chooseCore). Returns the reason when no library loads.
 */
export function loadBlas(): BlasProvider | { error: string } {
  let koffi: Koffi, koffiPath: string;
  try {
    const require = createRequire(import.meta.url);
    koffiPath = require.resolve('koffi');
    koffi = require(koffiPath) as Koffi;
  } catch (e) {
    return { error: `koffi does not load: ${(e as Error).message}` };
  }
  const wanted = process.env.BACKPROP_BLAS;
  const candidates = wanted ? [wanted] : (BLAS_CANDIDATES[process.platform] ?? []);
  const tried: string[] = [],
    absent: string[] = [];
  for (const name of candidates) {
    const r = loadOne(koffi, koffiPath, name);
    if ('kernels' in r) return r;
    if (wanted) return { error: `BACKPROP_BLAS=${wanted}: ${r.error}` };
    if (/cannot open shared object file|image not found|no such file/i.test(r.error)) absent.push(name);
    else tried.push(`${name} (${r.error})`);
  }
  const install = process.platform === 'linux' ? '; Debian: apt-get install libopenblas0-pthread' : '';
  return {
    error:
      candidates.length === 0
        ? 'no CBLAS library known on this platform; set BACKPROP_BLAS=/path/to/libcblas'
        : `no CBLAS library found${absent.length ? ` (none of ${absent.join(', ')} is installed${install})` : ''}${tried.length ? `; ${tried.join(', ')}` : ''}`,
  };
}

function loadOne(koffi: Koffi, koffiPath: string, name: string): BlasProvider | { error: string } {
  const path = resolveLibrary(name);
  if (name.includes('/') && !path) return { error: 'no such file' };
  const st = path ? statSync(path) : undefined;
  if (st?.isDirectory()) return { error: 'is a directory, not a shared library' };
  if (st && !st.isFile()) return { error: 'not a regular file (a device, FIFO or socket), not a shared library' }; // dlopen would block on a FIFO
  let core: CoreChoice | undefined;
  if (path && process.platform === 'linux') {
    core = chooseCore(path, koffiPath);
    if (core.failed) return { error: core.failed };
  }
  // OpenBLAS reads OPENBLAS_CORETYPE once, as the library initialises: set it
  // around the load only, so that child processes inherit the user's environment.
  const before = process.env.OPENBLAS_CORETYPE;
  if (core?.core !== undefined) process.env.OPENBLAS_CORETYPE = core.core;
  let lib: KoffiLibrary;
  try {
    lib = koffi.load(path ?? name);
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    return { error: /invalid ELF|file too short|not a dynamic|wrong ELF/i.test(why) ? `not a shared library (${why})` : why };
  } finally {
    if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
    else process.env.OPENBLAS_CORETYPE = before;
  }
  const decl = (t: string) =>
    `void cblas_${t}gemm(int order, int ta, int tb, int m, int n, int k, ${t === 's' ? 'float' : 'double'} alpha, ` +
    `const ${t === 's' ? 'float' : 'double'} *a, int lda, const ${t === 's' ? 'float' : 'double'} *b, int ldb, ` +
    `${t === 's' ? 'float' : 'double'} beta, ${t === 's' ? 'float' : 'double'} *c, int ldc)`;
  let sgemm: GemmFn, dgemm: GemmFn;
  try {
    sgemm = lib.func(decl('s')) as GemmFn;
    dgemm = lib.func(decl('d')) as GemmFn;
  } catch {
    return { error: 'not a CBLAS library (it has no cblas_sgemm and cblas_dgemm)' };
  }
  let vendor: BlasProvider['vendor'] = name.includes('Accelerate.framework') ? 'Accelerate' : undefined;
  let config: string | undefined, corename: string | undefined;
  for (const [v, symbol] of VENDOR_SYMBOLS) {
    if (vendor) break;
    try {
      const f = lib.func(symbol);
      vendor = v;
      if (v === 'OpenBLAS') {
        config = String(f()).trim();
        corename = String(lib.func('const char *openblas_get_corename()')()).trim();
      }
    } catch {
      // not this one
    }
  }
  // OpenBLAS's thread count: its maximum as it starts (OPENBLAS_NUM_THREADS,
  // else the cores), then set per product by the policy.
  let threads: ThreadPolicy | undefined, setThreads: ((n: number) => void) | undefined;
  if (vendor === 'OpenBLAS') {
    const work = parallelWork(BLAS_THREAD_RULE);
    if ('error' in work) return work;
    try {
      const get = lib.func('int openblas_get_num_threads()') as () => number;
      setThreads = lib.func('void openblas_set_num_threads(int n)') as (n: number) => void;
      threads = { max: get(), ...work };
    } catch {
      // an OpenBLAS without them: its own thread choice stands
    }
  }
  const file = path ?? name;
  loaded = { library: file, lib };
  return {
    kernels: blasKernels(sgemm, dgemm, threads, setThreads),
    library: name,
    path: existsSync(file) ? realpathSync(file) : file,
    vendor,
    config,
    corename,
    core,
    threads,
  };
}

function blasKernels(sgemm: GemmFn, dgemm: GemmFn, policy?: ThreadPolicy, setThreads?: (n: number) => void): Kernels {
  let current = policy?.max ?? 0;
  return acceleratedKernels('blas', { minWork: BLAS_MIN_WORK, float64: true }, (transA, transB, alpha, a, b, beta, c, { m, n, k }) => {
    if (policy && setThreads) {
      const t = threadsFor(policy, m, n, k);
      if (t !== current) setThreads((current = t));
    }
    (c.dtype === 'float64' ? dgemm : sgemm)(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, a.data, a.cols, b.data, b.cols, beta, c.data, c.cols);
  });
}

/**
 * The library the blas provider loads, as a koffi handle, for the LAPACK
 * routines some BLAS libraries also export (OpenBLAS, MKL): see lapack.ts.
 * The same handle as the blas provider's (loaded once, with its core type).
 */
export function blasLibrary(): { library: string; lib: KoffiLibrary } | { error: string } {
  if (!loaded) {
    const r = loadBlas();
    if ('error' in r) return r;
  }
  return loaded!;
}
