import { jsKernels } from './js.js';
import type { Kernels } from './kernels.js';
import { loadBlas, type BlasProvider } from './blas.js';
import { FAST_X86_CORES } from './openblas-core.js';
import { loadTensorflow } from './tensorflow.js';
import { loadWasm } from './wasm.js';
import { parallelWork, type ThreadPolicy } from './threads.js';
export { describePolicy, type ThreadPolicy } from './threads.js';

export { Matrix } from './matrix.js';
export type { DType, Float } from './matrix.js';
export type { Kernels } from './kernels.js';
export { jsKernels } from './js.js';

export const PROVIDERS = ['blas', 'tensorflow', 'wasm', 'js'] as const;
export type ProviderName = (typeof PROVIDERS)[number];
export const BACKENDS = ['auto', ...PROVIDERS] as const;
export type BackendName = (typeof BACKENDS)[number];

/**
 * A provider that loaded, or why it did not. `demoted` says why auto tries it
 * only after the others (a BLAS that is not a known tuned one).
 */
export type Loaded = Available | { name: ProviderName; error: string };
export interface Available {
  name: ProviderName;
  kernels: Kernels;
  detail?: string;
  demoted?: string;
  /** For blas: the library, its OpenBLAS core and how it was chosen. */
  blas?: BlasProvider;
  /** How many threads a product runs on (threads.ts), where backprop chooses it (OpenBLAS, wasm). */
  threads?: ThreadPolicy;
}

const cache = new Map<ProviderName, Promise<Loaded>>();

/** Tries to load one provider (once per process). */
export function loadProvider(name: ProviderName): Promise<Loaded> {
  let p = cache.get(name);
  if (!p) {
    p = (async (): Promise<Loaded> => {
      switch (name) {
        case 'js':
          return { name, kernels: jsKernels };
        case 'blas': {
          const r = loadBlas();
          if ('error' in r) return { name, error: r.error };
          const detail = r.library + (r.config ? ` (${r.config})` : r.vendor ? ` (${r.vendor})` : '');
          const demoted = !r.vendor
            ? 'not a known tuned BLAS (OpenBLAS, MKL, BLIS, Accelerate), perhaps the reference one: auto tries it after wasm'
            : r.corename && (process.arch === 'x64' || process.arch === 'ia32') && !FAST_X86_CORES.has(r.corename.toLowerCase())
              ? `OpenBLAS runs its ${r.corename} kernels here (older than AVX2), slower than the wasm kernel: auto tries it after wasm`
              : undefined;
          return { name, kernels: r.kernels, detail, demoted, blas: r, threads: r.threads };
        }
        case 'tensorflow': {
          const r = await loadTensorflow();
          return 'error' in r ? { name, error: r.error } : { name, kernels: r };
        }
        case 'wasm': {
          const r = await loadWasm();
          return 'error' in r
            ? { name, error: r.error }
            : { name, kernels: r.kernels, detail: `WebAssembly SIMD kernel, ${r.kernel}, ${r.threads} thread${r.threads === 1 ? '' : 's'}`, threads: r.policy };
        }
      }
    })();
    cache.set(name, p);
  }
  return p;
}

/** Thrown when an explicitly requested provider cannot load. */
export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

/**
 * The provider `--backend auto` takes: the first that loads in PROVIDERS
 * order (blas, tensorflow, wasm, js), except that a BLAS not known to be tuned
 * comes after wasm (the reference BLAS runs ~5 GFLOPS, our wasm kernel ~50),
 * and so does an OpenBLAS running kernels older than AVX2 on x86 (Prescott
 * 24 GFLOPS, Cooperlake 148 on one Xeon). A rule from the library and the CPU
 * features, not a timing, so that every run on one machine chooses alike.
 */
export async function autoProvider(): Promise<Available> {
  const usable: Available[] = [];
  for (const p of PROVIDERS) {
    const r = await loadProvider(p);
    if ('kernels' in r) {
      if (!r.demoted) return r;
      usable.push(r);
    }
  }
  return usable[0]; // js always loads, so only a demoted provider can come before it here
}

/**
 * Throws when $BACKPROP_PARALLEL_WORK is set but not a number: our own
 * variable, mistyped, is refused whatever the provider, never a silent fall
 * back from the providers that read it to slower kernels.
 */
export function checkThreadEnvironment(): void {
  const policy = parallelWork({ parallelWork: 0 });
  if ('error' in policy) throw new BackendUnavailableError(policy.error);
}

/** Chooses a kernel provider once; it is then passed down (docs/architecture.md, "The kernel seam"). */
export async function getKernels(name: BackendName = 'auto'): Promise<Kernels> {
  checkThreadEnvironment();
  if (name !== 'auto') {
    const r = await loadProvider(name);
    if ('error' in r) throw new BackendUnavailableError(`--backend ${name}: ${r.error}`);
    return r.kernels;
  }
  return (await autoProvider()).kernels;
}
