import { autoProvider, BackendUnavailableError, checkThreadEnvironment, loadProvider, PROVIDERS, type Available, type BackendName, type ProviderName } from './index.js';
import type { DType } from './matrix.js';

/**
 * Providers whose gemm computes in float64 itself. wasm's kernel and tfjs
 * are float32 only: they hand float64 products to the js loops.
 */
export const FLOAT64_PROVIDERS: readonly ProviderName[] = ['blas', 'js'];

export interface ChosenProvider {
  provider: Available;
  /** Set when the provider asked for could not compute in this dtype: which one is used instead, in one line. */
  fallback?: string;
}

/**
 * The provider for `--backend` and `--dtype`. float32: as getKernels. float64:
 * only a provider that computes float64 (FLOAT64_PROVIDERS), in auto's order
 * (a BLAS not known to be tuned after the others); a float32-only provider
 * asked for by name falls back to that choice, and `fallback` says so.
 */
export async function providerFor(backend: BackendName, dtype: DType): Promise<ChosenProvider> {
  checkThreadEnvironment();
  if (dtype === 'float32' || (backend !== 'auto' && FLOAT64_PROVIDERS.includes(backend))) {
    if (backend === 'auto') return { provider: await autoProvider() };
    const r = await loadProvider(backend);
    if ('error' in r) throw new BackendUnavailableError(`--backend ${backend}: ${r.error}`);
    return { provider: r };
  }
  const usable: Available[] = [];
  for (const p of PROVIDERS.filter((p) => FLOAT64_PROVIDERS.includes(p))) {
    const r = await loadProvider(p);
    if ('kernels' in r) usable.push(r);
  }
  const provider = usable.find((r) => !r.demoted) ?? usable[0]; // js always loads
  return backend === 'auto' ? { provider } : { provider, fallback: `--backend ${backend} computes in float32 only: --dtype float64 runs on ${provider.name}` };
}
