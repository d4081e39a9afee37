import { copyFileSync, mkdtempSync, readFileSync, realpathSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { checkCore, chooseCore, coreCandidates, gemmDisagreement, parseCpuInfo, readCpuInfo, resolveLibrary, type CpuInfo } from '../../src/linalg/openblas-core.js';
import { Rng } from '../../src/base/rng.js';
import { cli, needs, randomMatrix, ROOT, SYSTEM } from '../helpers.js';

const cpuinfo = (vendor: string, family: number, model: number, flags: string) =>
  `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: ${family}\nmodel\t\t: ${model}\nmodel name\t: Test CPU\nstepping\t: 1\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
const BASE = 'fpu sse sse2 ssse3 sse4_1 sse4_2 popcnt';
const AVX2 = `${BASE} avx f16c fma avx2 bmi2`;
const AVX512 = `${AVX2} avx512f avx512dq avx512cd avx512bw avx512vl`;
const cores = (text: string) => coreCandidates(parseCpuInfo(text)!).map((c) => c.core);

describe('the OpenBLAS core candidates, from /proc/cpuinfo flags', () => {
  it.each([
    ['a Zen 4 EPYC (AVX-512 with BF16)', cpuinfo('AuthenticAMD', 25, 17, `${AVX512} avx512_bf16 avx512_vnni`), ['Cooperlake', 'SkylakeX', 'Zen', 'Haswell', 'Sandybridge']],
    ['a Sapphire Rapids Xeon (AVX-512 with BF16)', cpuinfo('GenuineIntel', 6, 143, `${AVX512} avx512_bf16 amx_tile`), ['Cooperlake', 'SkylakeX', 'Haswell', 'Sandybridge']],
    ['a Skylake-SP Xeon (AVX-512)', cpuinfo('GenuineIntel', 6, 85, AVX512), ['SkylakeX', 'Haswell', 'Sandybridge']],
    ['an AVX-512F-only CPU without VL (Knights Landing)', cpuinfo('GenuineIntel', 6, 87, `${AVX2} avx512f avx512cd`), ['Haswell', 'Sandybridge']],
    ['a Zen 2 (AVX2)', cpuinfo('AuthenticAMD', 23, 49, AVX2), ['Zen', 'Haswell', 'Sandybridge']],
    ['a Hygon Dhyana (AVX2)', cpuinfo('HygonGenuine', 24, 0, AVX2), ['Zen', 'Haswell', 'Sandybridge']],
    ['a Coffee Lake (AVX2)', cpuinfo('GenuineIntel', 6, 158, AVX2), ['Haswell', 'Sandybridge']],
    ['an Ivy Bridge (AVX)', cpuinfo('GenuineIntel', 6, 58, `${BASE} avx`), ['Sandybridge']],
    ['a Westmere (no AVX)', cpuinfo('GenuineIntel', 6, 44, BASE), []],
  ])('%s', (_, text, want) => {
    expect(cores(text)).toEqual(want);
  });

  it('reads vendor, family, model and flags from the first processor block', () => {
    const c = parseCpuInfo(cpuinfo('AuthenticAMD', 25, 17, `${AVX512} avx512_bf16`))!;
    expect([c.vendor, c.family, c.model, c.stepping, c.modelName]).toEqual(['AuthenticAMD', 25, 17, 1, 'Test CPU']);
    expect(c.flags.has('avx512_bf16')).toBe(true);
    expect(parseCpuInfo('processor : 0\nmodel name : ARMv8\n')).toBeUndefined();
  });
});

describe('the gemm check against the js kernels (Higham §3.5 bound)', () => {
  const rng = new Rng(7);
  for (const dtype of ['float32', 'float64'] as const)
    it(`${dtype}: the js result passes, one wrong entry or a NaN fails`, () => {
      const a = randomMatrix(rng, 40, 300, dtype),
        b = randomMatrix(rng, 25, 300, dtype),
        c = randomMatrix(rng, 40, 25, dtype);
      const got = new Matrix(40, 25, c.data.slice());
      jsKernels.gemm(false, true, 0.5, a, b, 0.25, got);
      expect(gemmDisagreement(false, true, 0.5, a, b, 0.25, c, got.data)).toBeLessThanOrEqual(1e-9);
      const off = got.data.slice();
      off[17] *= 1 + 1e-3; // far beyond rounding, as a wrong kernel would be
      expect(gemmDisagreement(false, true, 0.5, a, b, 0.25, c, off)).toBeGreaterThan(1);
      off[17] = NaN;
      expect(gemmDisagreement(false, true, 0.5, a, b, 0.25, c, off)).toBe(Infinity);
    });
});

describe('choosing the core of the installed OpenBLAS', () => {
  const koffi = createRequire(import.meta.url).resolve('koffi');
  const savedCache = process.env.XDG_CACHE_HOME,
    savedCore = process.env.OPENBLAS_CORETYPE;
  afterEach(() => {
    for (const [k, v] of [
      ['XDG_CACHE_HOME', savedCache],
      ['OPENBLAS_CORETYPE', savedCore],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const freshCache = () => (process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'backprop-core-')));
  const cpu = readCpuInfo();
  const openblas = () => resolveLibrary('libopenblas.so.0')!;

  it('takes the first candidate that passes, caches it, and reuses the cached verdict', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    if (!cpu || coreCandidates(cpu).length === 0) return ctx.skip('not an x86 CPU with AVX: OpenBLAS chooses alone');
    delete process.env.OPENBLAS_CORETYPE;
    const cache = freshCache();
    const first = chooseCore(openblas(), koffi);
    expect(first.source).toBe('cpu');
    expect(first.core).toBe(coreCandidates(cpu)[0].core);
    expect(first.trials![0]).toMatchObject({ ok: true, corename: first.core });
    expect(first.cache).toMatchObject({ hit: false, file: join(cache, 'backprop', 'openblas-core.json') });
    const again = chooseCore(openblas(), koffi);
    expect(again).toMatchObject({ core: first.core, source: 'cpu', cache: { hit: true, at: first.cache!.at } });
  });

  it('rejects a core the library does not run and falls back to the next candidate', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    delete process.env.OPENBLAS_CORETYPE;
    freshCache();
    const c = chooseCore(openblas(), koffi, {
      cpu: cpu ?? parseCpuInfo(cpuinfo('GenuineIntel', 6, 85, AVX2))!,
      candidates: [
        { core: 'Pentium9000', why: 'a name OpenBLAS does not know' },
        { core: 'Prescott', why: 'SSE3' },
      ],
    });
    expect(c.trials!.map((t) => t.ok)).toEqual([false, true]);
    expect(c.trials![0].detail).toMatch(/this build runs \w+ when asked for Pentium9000/);
    expect(c).toMatchObject({ core: 'Prescott', source: 'cpu' });
  });

  it('keys the cache by the library file: another file, or the same one modified, is checked anew', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    if (!cpu || coreCandidates(cpu).length === 0) return ctx.skip('not an x86 CPU with AVX: OpenBLAS chooses alone');
    delete process.env.OPENBLAS_CORETYPE;
    const cache = freshCache();
    expect(chooseCore(openblas(), koffi).cache!.hit).toBe(false);
    // OpenBLAS's small libblas.so.3 wrapper, copied: a different file with the same kernels.
    const copy = join(mkdtempSync(join(tmpdir(), 'backprop-lib-')), 'libblas.so.3');
    copyFileSync(join(dirname(realpathSync(openblas())), 'libblas.so.3'), copy);
    expect(chooseCore(copy, koffi).cache!.hit).toBe(false);
    expect(chooseCore(copy, koffi).cache!.hit).toBe(true);
    utimesSync(copy, new Date(), new Date(Date.now() + 5000));
    expect(chooseCore(copy, koffi).cache!.hit).toBe(false);
    const entries = Object.values(JSON.parse(readFileSync(join(cache, 'backprop', 'openblas-core.json'), 'utf8')).entries);
    expect(entries).toHaveLength(3);
  });

  it('respects OPENBLAS_CORETYPE when it is set, without checking or caching', () => {
    process.env.OPENBLAS_CORETYPE = 'Haswell';
    const c = chooseCore('/nonexistent', koffi);
    expect(c).toMatchObject({ core: 'Haswell', source: 'environment' });
    expect([c.trials, c.cache]).toEqual([undefined, undefined]);
  });

  it('a library that is not a CBLAS stops the search with the reason', (ctx) => {
    if (!cpu || coreCandidates(cpu).length === 0) return ctx.skip('not an x86 CPU with AVX: OpenBLAS chooses alone');
    delete process.env.OPENBLAS_CORETYPE;
    freshCache();
    const t = checkCore(resolveLibrary('libm.so.6') ?? '/lib/x86_64-linux-gnu/libm.so.6', koffi, 'Haswell');
    expect(t).toMatchObject({ ok: false, corename: null });
    expect(t.detail).toMatch(/does not load as a CBLAS/);
  });
});

describe('backprop info and auto with the chosen core', () => {
  it('shows the CPU, the core and why; auto takes blas', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    const cpu: CpuInfo | undefined = readCpuInfo();
    if (!cpu || coreCandidates(cpu).length === 0) return ctx.skip('not an x86 CPU with AVX: OpenBLAS chooses alone');
    const env = { XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'backprop-core-')) };
    const r = cli(['info', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const blas = JSON.parse(r.stdout).providers.find((p: { name: string }) => p.name === 'blas');
    expect(blas).toMatchObject({ available: true, vendor: 'OpenBLAS', corename: coreCandidates(cpu)[0].core, core: { source: 'cpu' } });
    expect(JSON.parse(r.stdout).auto).toBe('blas');
    expect(r.stderr).toMatch(/cpu: .*family \d+ model \d+/);
    expect(r.stderr).toMatch(new RegExp(`OpenBLAS core: ${coreCandidates(cpu)[0].core} — ${coreCandidates(cpu)[0].why} → `));
    expect(r.stderr).toMatch(/checked now and cached in /);
  });

  it("a user's OPENBLAS_CORETYPE is respected; on pre-AVX2 kernels auto prefers wasm and says why", (ctx) => {
    needs(ctx, SYSTEM.openblas);
    if (process.arch !== 'x64') return ctx.skip('x86-64 only');
    const r = cli(['info', '--json'], { env: { OPENBLAS_CORETYPE: 'Prescott' } });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    const blas = res.providers.find((p: { name: string }) => p.name === 'blas');
    expect(blas).toMatchObject({ corename: 'Prescott', core: { source: 'environment' } });
    expect(blas.demoted).toMatch(/OpenBLAS runs its Prescott kernels here \(older than AVX2\)/);
    expect(res.auto).toBe('wasm');
  });
});

describe('BACKPROP_BLAS that is not a usable CBLAS (one line, exit 2 with --backend blas)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-blasenv-'));
  writeFileSync(join(dir, 'empty.so'), '');
  writeFileSync(join(dir, 'text.so'), 'not a shared library, only text long enough to hold an ELF header\n'.repeat(4));
  const libm = resolveLibrary('libm.so.6') ?? '/lib/x86_64-linux-gnu/libm.so.6';
  const cases: [string, string, RegExp][] = [
    ['a missing file', join(dir, 'libcblas.so'), /: no such file$/],
    ['a missing relative path', './no/libopenblas.so', /: no such file$/],
    ['a directory', dir, /: is a directory, not a shared library$/],
    ['a device (/dev/null)', '/dev/null', /: not a regular file \(a device, FIFO or socket\), not a shared library$/],
    ['an empty file', join(dir, 'empty.so'), /: not a shared library \(.*\)$/],
    ['a text file', join(dir, 'text.so'), /: not a shared library \(.*invalid ELF header.*\)$/],
    ['a shared library without CBLAS (libm)', libm, /: not a CBLAS library \(it has no cblas_sgemm and cblas_dgemm\)$/],
    ['a bare name the linker does not find', 'libnosuchblas.so.9', /libnosuchblas\.so\.9.*(No such file|cannot open)/],
  ];
  it.each(cases)('%s', (_, value, message) => {
    const env = { BACKPROP_BLAS: value, XDG_CACHE_HOME: dir };
    const t = cli(['train', '--backend', 'blas', '--epochs', '1', '--limit', '100'], { env });
    expect(t.code).toBe(2);
    const lines = t.stderr.trim().split('\n');
    expect(lines, t.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^backprop: error: --backend blas: BACKPROP_BLAS=${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(lines[0]).toMatch(message);
    expect(lines[0]).not.toMatch(/\n\s+at /);
    const info = cli(['info', '--json'], { env });
    expect(info.code, info.stderr).toBe(0);
    const blas = JSON.parse(info.stdout).providers.find((p: { name: string }) => p.name === 'blas');
    expect(blas.available).toBe(false);
    expect(blas.error).toMatch(message);
    expect(info.stderr).toMatch(new RegExp(`blas\\s+not available: BACKPROP_BLAS=`));
  });

  it('auto does not use another BLAS instead: it takes the wasm kernel, and info says why', () => {
    const env = { BACKPROP_BLAS: join(dir, 'libcblas.so'), XDG_CACHE_HOME: dir };
    const info = cli(['info', '--json'], { env });
    expect(JSON.parse(info.stdout).auto).toBe('wasm');
    const t = cli(['train', '--epochs', '1', '--limit', '300', '--json'], { env, cwd: ROOT });
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).options.backend).toBe('wasm');
  });
});
