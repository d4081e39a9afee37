import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { baseProvenance, blasInfo, jsonProvenance, packageVersion, provenance, provenanceMetadata, SCHEMA_VERSION } from '../../src/io/provenance.js';
import { jsKernels, type Available } from '../../src/linalg/index.js';

// src/io/provenance.ts in-process, every field by hand (test/train/provenance.test.ts checks what the CLI records).

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const platform = `${process.platform}-${process.arch}`;
const OPENBLAS = 'libopenblas.so.0 (OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64)';

describe('provenance', () => {
  it('the version comes from package.json, the same on every call', () => {
    expect(packageVersion()).toBe(pkg.version);
    expect(packageVersion()).toBe(pkg.version);
    expect(baseProvenance()).toEqual({ backprop: pkg.version, node: process.version, platform });
    expect(SCHEMA_VERSION).toBe(1);
  });

  it('blasInfo: library, version and core type, from every form of self-description', () => {
    const cases: [string, { library: string; version?: string; coreType?: string }][] = [
      [OPENBLAS, { library: 'libopenblas.so.0', version: 'OpenBLAS 0.3.21', coreType: 'Cooperlake' }],
      ['libopenblas.so.0 (OpenBLAS 0.3.26 DYNAMIC_ARCH; core Haswell)', { library: 'libopenblas.so.0', version: 'OpenBLAS 0.3.26', coreType: 'Haswell' }],
      ['libopenblas.so.0 (OpenBLAS 0.3.26 core type: SkylakeX, 8 threads)', { library: 'libopenblas.so.0', version: 'OpenBLAS 0.3.26', coreType: 'SkylakeX' }],
      ['libopenblas.so.0 (OpenBLAS 0.3.26 CORE=Zen)', { library: 'libopenblas.so.0', version: 'OpenBLAS 0.3.26', coreType: 'Zen' }],
      ['libblis.so.4 (BLIS v0.9.0)', { library: 'libblis.so.4', version: 'BLIS 0.9.0', coreType: undefined }],
      ['libblas.so.3 (reference)', { library: 'libblas.so.3', version: undefined, coreType: undefined }],
      ['libmkl_rt.so (MKL 2024 Haswell)', { library: 'libmkl_rt.so', version: undefined, coreType: 'Haswell' }],
      ['libx.so (Foo Bar 1.2)', { library: 'libx.so', version: undefined, coreType: 'Bar' }],
      ['libblas.so.3', { library: 'libblas.so.3', version: undefined, coreType: undefined }],
      ['a (x) b (OpenBLAS 1.2 Zen) tail', { library: 'a', version: undefined, coreType: 'Zen' }],
      // a detail that starts with its parenthesis, or has none but a closing one
      [' (OpenBLAS 0.3.21)', { library: '', version: 'OpenBLAS 0.3.21', coreType: undefined }],
      ['libfoo 1.2 Haswell)', { library: 'libfoo 1.2 Haswell)', version: undefined, coreType: undefined }],
      // spaces: after the parenthesis, between name and version; a two-digit major version
      ['lib.so ( Zen Haswell)', { library: 'lib.so', version: undefined, coreType: 'Haswell' }],
      ['lib.so (OpenBLAS  0.3.21 Zen)', { library: 'lib.so', version: 'OpenBLAS 0.3.21', coreType: 'Zen' }],
      ['lib.so (BLIS 10.2)', { library: 'lib.so', version: 'BLIS 10.2', coreType: undefined }],
      // the core's forms
      ['lib.so (OpenBLAS 0.3 core:Zen2;)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Zen2' }],
      ['lib.so (OpenBLAS 0.3 core   Haswell)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Haswell' }],
      ['lib.so (OpenBLAS 0.3 core Haswell x)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Haswell' }],
      ['lib.so (OpenBLAS 0.3 core Haswell,x)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Haswell,x' }],
      ['lib.so (OPENBLAS 0.3 coretype zen)', { library: 'lib.so', version: 'OPENBLAS 0.3', coreType: undefined }],
      ['lib.so (OpenBLAS 0.3 hardcore Zen)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Zen' }],
      // the mixed-case word: digits after its letters, two letters, nothing else
      ['lib.so (OpenBLAS 0.3 Zen2)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Zen2' }],
      ['lib.so (OpenBLAS 0.3 Zx)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: 'Zx' }],
      ['lib.so (OpenBLAS 0.3 Zen-x)', { library: 'lib.so', version: 'OpenBLAS 0.3', coreType: undefined }],
    ];
    for (const [detail, want] of cases) expect(blasInfo(detail), detail).toEqual({ ...want, detail });
  });

  it('provenance() of a blas provider with a thread policy: every field', () => {
    const provider: Available = { name: 'blas', kernels: jsKernels, detail: OPENBLAS, threads: { max: 2, parallelWork: 2 ** 24 } };
    const p = provenance(provider, 'float64', 7, { lr: 0.1 });
    expect(p).toEqual({
      backprop: pkg.version,
      node: process.version,
      platform,
      provider: 'blas',
      providerDetail: OPENBLAS,
      blas: { library: 'libopenblas.so.0', version: 'OpenBLAS 0.3.21', coreType: 'Cooperlake', detail: OPENBLAS },
      threads: '1 thread below 2^24 multiply-adds (m·n·k), 2 from there',
      dtype: 'float64',
      seed: 7,
      options: { lr: 0.1 },
    });
    expect(jsonProvenance(p)).toEqual({ schemaVersion: 1, provenance: p });
    expect(provenanceMetadata(p)).toEqual({
      backprop_version: pkg.version,
      node: process.version,
      platform,
      provider: 'blas',
      dtype: 'float64',
      options: '{"lr":0.1}',
      provider_detail: OPENBLAS,
      blas_library: 'libopenblas.so.0',
      blas_version: 'OpenBLAS 0.3.21',
      blas_core_type: 'Cooperlake',
      threads: '1 thread below 2^24 multiply-adds (m·n·k), 2 from there',
      seed: '7',
    });
  });

  it('what a provider does not report stays out: no detail, no BLAS, no threads, no seed; seed 0 is kept', () => {
    const js = provenance({ name: 'js', kernels: jsKernels }, 'float32', undefined, {});
    expect(js).toEqual({
      backprop: pkg.version,
      node: process.version,
      platform,
      provider: 'js',
      providerDetail: undefined,
      blas: undefined,
      threads: undefined,
      dtype: 'float32',
      seed: undefined,
      options: {},
    });
    expect(provenanceMetadata(js)).toEqual({ backprop_version: pkg.version, node: process.version, platform, provider: 'js', dtype: 'float32', options: '{}' });
    expect(Object.keys(provenanceMetadata(js)).sort()).toEqual(['backprop_version', 'dtype', 'node', 'options', 'platform', 'provider']);
    // a provider other than blas with a detail: no BLAS fields; a blas provider without one: none either
    const wasm = provenance({ name: 'wasm', kernels: jsKernels, detail: 'simd128' }, 'float32', 0, {});
    expect(wasm.blas).toBeUndefined();
    expect(provenance({ name: 'blas', kernels: jsKernels }, 'float32', 0, {}).blas).toBeUndefined();
    expect(provenanceMetadata(wasm)).toEqual({
      backprop_version: pkg.version,
      node: process.version,
      platform,
      provider: 'wasm',
      dtype: 'float32',
      options: '{}',
      provider_detail: 'simd128',
      seed: '0',
    });
    // BLAS that reports neither version nor core type: the library alone
    const bare = provenance({ name: 'blas', kernels: jsKernels, detail: 'libblas.so.3' }, 'float32', undefined, {});
    const m = provenanceMetadata(bare);
    expect(m.blas_library).toBe('libblas.so.3');
    expect('blas_version' in m || 'blas_core_type' in m).toBe(false);
  });
});
