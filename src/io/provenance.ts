import { readFileSync } from 'node:fs';
import type { Available, DType } from '../linalg/index.js';
import { describePolicy } from '../linalg/threads.js';

/** Version of the layout of every `--json` result; raised when a field changes meaning or goes away. */
export const SCHEMA_VERSION = 1;

let version: string | undefined;

/** backprop's version, read from package.json: the single source. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}

/** The BLAS library as its provider describes itself, e.g. "libopenblas.so.0 (OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64)". */
export interface BlasInfo {
  library: string;
  /** The implementation and its version, e.g. "OpenBLAS 0.3.21", when the library reports them. */
  version?: string;
  /** The CPU kernels it runs (OpenBLAS's core type, e.g. "Haswell"), when reported. */
  coreType?: string;
  detail: string;
}

/** Reads library, version and core type from the blas provider's description (what it does not report stays undefined). */
export function blasInfo(detail: string): BlasInfo {
  const open = detail.indexOf(' (');
  const library = open < 0 ? detail : detail.slice(0, open);
  const inside = open < 0 ? '' : detail.slice(open + 2, detail.lastIndexOf(')'));
  const words = inside.split(/\s+/).filter(Boolean);
  const v = inside.match(/^(\S+)\s+v?(\d+(?:\.\d+)+)/);
  // An explicit "core X", else OpenBLAS's config string: the one mixed-case word among its upper-case build flags.
  const core = inside.match(/\bcore(?: type)?[:= ]\s*(\S+?)[,;)]?(?:\s|$)/i)?.[1] ?? words.slice(1).find((w) => /^[A-Z][a-z]+[A-Za-z0-9]*$/.test(w));
  return { library, version: v ? `${v[1]} ${v[2]}` : undefined, coreType: core, detail };
}

/** How a result was made: enough to say whether another run should give the same bytes. */
export interface Provenance {
  backprop: string;
  node: string;
  platform: string;
  /** The kernel provider that computed (blas, tensorflow, wasm, js) and its own description. */
  provider: string;
  providerDetail?: string;
  blas?: BlasInfo;
  /**
   * The thread policy, where backprop chooses the threads (OpenBLAS, wasm), e.g.
   * "1 thread below 2^24 multiply-adds (m·n·k), 2 from there": with OpenBLAS
   * another policy gives other bytes.
   */
  threads?: string;
  dtype: DType;
  seed?: number;
  /** Every option of the run, defaults included. */
  options: Record<string, unknown>;
}

export function provenance(provider: Available, dtype: DType, seed: number | undefined, options: Record<string, unknown>): Provenance {
  return {
    backprop: packageVersion(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    provider: provider.name,
    providerDetail: provider.detail,
    blas: provider.name === 'blas' && provider.detail ? blasInfo(provider.detail) : undefined,
    threads: provider.threads && describePolicy(provider.threads),
    dtype,
    seed,
    options,
  };
}

/** The fields of a --json result that say how it was made: schemaVersion, then provenance. */
/** What every result records when its command computes with no kernel provider (grad, datasets, export, info…). */
export interface BaseProvenance {
  backprop: string;
  node: string;
  platform: string;
}

export function baseProvenance(): BaseProvenance {
  return { backprop: packageVersion(), node: process.version, platform: `${process.platform}-${process.arch}` };
}

export function jsonProvenance(p: Provenance): { schemaVersion: number; provenance: Provenance } {
  return { schemaVersion: SCHEMA_VERSION, provenance: p };
}

/** Provenance as safetensors `__metadata__` entries (string values only, as the format requires). */
export function provenanceMetadata(p: Provenance): Record<string, string> {
  const m: Record<string, string> = {
    backprop_version: p.backprop,
    node: p.node,
    platform: p.platform,
    provider: p.provider,
    dtype: p.dtype,
    options: JSON.stringify(p.options),
  };
  if (p.providerDetail) m.provider_detail = p.providerDetail;
  if (p.blas) {
    m.blas_library = p.blas.library;
    if (p.blas.version) m.blas_version = p.blas.version;
    if (p.blas.coreType) m.blas_core_type = p.blas.coreType;
  }
  if (p.threads) m.threads = p.threads;
  if (p.seed !== undefined) m.seed = String(p.seed);
  return m;
}
