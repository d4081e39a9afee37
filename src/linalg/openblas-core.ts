import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { cacheRoot } from '../base/cache.js';
import { CONFIG_FILE_LIMIT, readFileBounded } from '../base/read.js';
import { safeText } from '../base/terminal-safe.js';
import { ioReason, makeDirectories, writeFileAtomic } from '../base/atomic.js';
import { jsKernels } from './js.js';
import { Matrix } from './matrix.js';

// OpenBLAS built with DYNAMIC_ARCH (Debian's is) carries kernels for many x86
// cores and picks one when the library loads, from the CPU's family and model
// numbers (driver/others/dynamic.c). A CPU newer than the library is not in its
// tables and gets the generic Prescott kernels: on a Xeon with AVX-512, OpenBLAS
// 0.3.21 then runs 24 GFLOPS instead of 148. OPENBLAS_CORETYPE, read once when
// the library initialises, overrides the choice. This module picks a core from
// the CPU's feature flags instead of its model number, checks it once in a
// child process, and caches the verified choice per CPU and library file.

/** What /proc/cpuinfo says about the first CPU. */
export interface CpuInfo {
  vendor: string;
  family: number;
  model: number;
  stepping: number;
  modelName: string;
  flags: Set<string>;
}

/** Parses the first processor block of /proc/cpuinfo (Linux, x86). */
export function parseCpuInfo(text: string): CpuInfo | undefined {
  const block = text.split(/\n\s*\n/)[0];
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(block)?.[1].trim();
  const vendor = field('vendor_id'),
    flags = field('flags');
  if (!vendor || flags === undefined) return undefined;
  return {
    vendor,
    family: Number(field('cpu family') ?? NaN),
    model: Number(field('model') ?? NaN),
    stepping: Number(field('stepping') ?? NaN),
    modelName: field('model name') ?? '',
    flags: new Set(flags.split(/\s+/)),
  };
}

/** This machine's CPU, on x86 Linux; undefined elsewhere (OpenBLAS then chooses alone). */
export function readCpuInfo(): CpuInfo | undefined {
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'ia32')) return undefined;
  try {
    return parseCpuInfo(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The AVX-512 subsets OpenBLAS's SkylakeX kernels use (it checks AVX512VL; the others come with it on every such CPU, but we ask). */
const AVX512 = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];

/** One OpenBLAS core type to try, and the feature that makes it a candidate. */
export interface CoreCandidate {
  core: string;
  why: string;
}

/**
 * OpenBLAS 0.3.21 core names (its `corename` table) this CPU can run, best
 * first: AVX-512 with BF16 → Cooperlake, AVX-512 → SkylakeX, AVX2 with FMA →
 * Zen (AMD, Hygon) or Haswell, AVX → Sandybridge. Empty for a CPU without AVX:
 * OpenBLAS's own detection is then as good as ours.
 */
export function coreCandidates(cpu: CpuInfo): CoreCandidate[] {
  const has = (...fs: string[]) => fs.every((f) => cpu.flags.has(f));
  const out: CoreCandidate[] = [];
  const avx2 = has('avx', 'avx2', 'fma');
  if (avx2 && has(...AVX512) && has('avx512_bf16')) out.push({ core: 'Cooperlake', why: 'AVX-512 with BF16' });
  if (avx2 && has(...AVX512)) out.push({ core: 'SkylakeX', why: 'AVX-512' });
  if (avx2) {
    const amd = cpu.vendor === 'AuthenticAMD' || cpu.vendor === 'HygonGenuine';
    if (amd) out.push({ core: 'Zen', why: 'AVX2 with FMA on an AMD CPU' });
    out.push({ core: 'Haswell', why: 'AVX2 with FMA' });
  }
  if (has('avx')) out.push({ core: 'Sandybridge', why: 'AVX' });
  return out;
}

/**
 * OpenBLAS cores whose kernels use AVX2 and FMA or better. An older core
 * (Sandybridge, Nehalem, Prescott, …) measured below our wasm kernel here
 * (12–15 GFLOPS against 15–20 on the same loaded machine; Haswell 65,
 * Cooperlake 71), so `auto` prefers wasm to an OpenBLAS running one of them.
 */
export const FAST_X86_CORES = new Set(['haswell', 'zen', 'skylakex', 'cooperlake', 'sapphirerapids']);

/** How the OpenBLAS core was decided, for `backprop info`. */
export interface CoreChoice {
  /** The OPENBLAS_CORETYPE in force when the library loads; undefined: OpenBLAS detects the CPU itself. */
  core?: string;
  /** environment: the user's OPENBLAS_CORETYPE; cpu: chosen from the CPU's features and verified; library: left to OpenBLAS. */
  source: 'environment' | 'cpu' | 'library';
  why: string;
  /** The CPU as detected, in words. */
  cpu?: string;
  /** Each core tried, in order, and what the check found. */
  trials?: Trial[];
  /** Where the verified choice is cached and when it was made (a cached choice is not re-checked); `unwritable`: why it could not be cached (the next run checks again). */
  cache?: { file: string; at: string; hit: boolean; unwritable?: string };
  /** Set when no candidate, nor OpenBLAS's own choice, computes gemm right: the library must not be used. */
  failed?: string;
}

export interface Trial {
  /** undefined: OpenBLAS's own choice (OPENBLAS_CORETYPE unset). */
  core?: string;
  ok: boolean;
  /** The core OpenBLAS reports it runs (openblas_get_corename), or null for another BLAS. */
  corename?: string | null;
  detail: string;
}

/** Bumped when the check below changes, so that older cached verdicts are not reused. */
const CHECK_VERSION = 1;

/** The CPU in words: "AMD EPYC 9R14 96-Core Processor (AuthenticAMD family 25 model 17)". */
export function describeCpu(cpu: CpuInfo): string {
  const features = ['avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16'].filter((f) => cpu.flags.has(f));
  return `${cpu.modelName || 'unknown model'} (${cpu.vendor} family ${cpu.family} model ${cpu.model}; ${features.join(' ') || 'no AVX'})`;
}

/**
 * Decides OPENBLAS_CORETYPE for the library at `path` (a resolved file) before
 * it loads: the user's value when set; otherwise the first candidate of
 * coreCandidates() that passes checkCore() in a child process, else OpenBLAS's
 * own choice if that passes, else `failed`. The verdict is cached under
 * $XDG_CACHE_HOME/backprop (or ~/.cache/backprop), keyed by the CPU (vendor,
 * family, model, stepping, name, every flag), the library file (real path,
 * size, mtime, inode), the candidates and the check's version: a new CPU, an
 * upgraded library or a changed check is a cache miss, never a stale answer.
 */
export function chooseCore(path: string, koffiPath: string, opts: { candidates?: CoreCandidate[]; cpu?: CpuInfo } = {}): CoreChoice {
  const set = process.env.OPENBLAS_CORETYPE;
  if (set) return { core: set, source: 'environment', why: `OPENBLAS_CORETYPE=${safeText(set, 40)} is set in the environment: respected as it is` };
  const cpu = opts.cpu ?? readCpuInfo();
  if (!cpu) return { source: 'library', why: 'no x86 /proc/cpuinfo to read: OpenBLAS detects the CPU itself' };
  const cpuText = describeCpu(cpu);
  const candidates = opts.candidates ?? coreCandidates(cpu);
  if (candidates.length === 0) return { source: 'library', cpu: cpuText, why: 'the CPU has no AVX: OpenBLAS detects it itself' };

  const real = realpathSync(path);
  const st = statSync(real);
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        check: CHECK_VERSION,
        arch: process.arch,
        cpu: [cpu.vendor, cpu.family, cpu.model, cpu.stepping, cpu.modelName, [...cpu.flags].sort().join(' ')],
        library: [real, st.size, st.mtimeMs, st.ino],
        candidates: candidates.map((c) => c.core),
      }),
    )
    .digest('hex')
    .slice(0, 24);
  const file = join(cacheRoot(), 'openblas-core.json');
  const cached = readCache(file)[key];
  if (cached) return { ...cached, cache: { file, at: cached.at, hit: true } };

  const trials: Trial[] = [];
  let choice: Omit<CoreChoice, 'cache'> | undefined;
  for (const c of [...candidates, undefined]) {
    const t = checkCore(real, koffiPath, c?.core);
    trials.push(t);
    if (t.corename === null) {
      choice = { source: 'library', cpu: cpuText, why: `no core to choose: ${t.detail}`, trials };
      break;
    }
    if (!t.ok) continue;
    choice = c
      ? { core: c.core, source: 'cpu', cpu: cpuText, why: `${c.why} → ${c.core}, checked against the js kernels`, trials }
      : { source: 'library', cpu: cpuText, why: `no candidate core passed the check; OpenBLAS's own choice (${t.corename}) did`, trials };
    break;
  }
  choice ??= {
    source: 'library',
    cpu: cpuText,
    trials,
    why: 'no core computes gemm right',
    failed: `OpenBLAS at ${real} computes wrong gemm results on this CPU with every core tried (${trials.map((t) => `${t.core ?? 'its own choice'}: ${t.detail}`).join('; ')})`,
  };
  const at = new Date().toISOString();
  const unwritable = writeCache(file, key, { ...choice, at });
  return { ...choice, cache: { file, at, hit: false, ...(unwritable ? { unwritable } : {}) } };
}

type CacheEntry = Omit<CoreChoice, 'cache'> & { at: string };

function readCache(file: string): Record<string, CacheEntry> {
  try {
    // bounded and non-blocking: a FIFO or a link to /dev/zero at the cache's name must not hang or fill memory
    const j = JSON.parse(readFileBounded(file, CONFIG_FILE_LIMIT).toString('utf8')) as { entries?: Record<string, CacheEntry> } | null;
    return j?.entries && typeof j.entries === 'object' && !Array.isArray(j.entries) ? j.entries : {};
  } catch {
    return {};
  }
}

/**
 * Adds one verdict (keeping the 20 newest). A cache that cannot be written
 * (a read-only home, XDG_CACHE_HOME under /proc) only costs a re-check next
 * time: returns why, for `info` to say, and never retries or waits.
 */
function writeCache(file: string, key: string, entry: CacheEntry): string | undefined {
  try {
    const entries = Object.entries({ ...readCache(file), [key]: entry })
      .sort((a, b) => b[1].at.localeCompare(a[1].at))
      .slice(0, 20);
    makeDirectories(join(file, '..'));
    writeFileAtomic(file, JSON.stringify({ about: 'backprop: OpenBLAS core types verified per CPU and library file', entries: Object.fromEntries(entries) }, null, 1) + '\n');
    return undefined;
  } catch (e) {
    return ioReason(e);
  }
}

/** gemm shapes of the check: config W's three products (with the update's beta = 1), odd sizes, all four transposes, float32 and float64. */
const CHECK_SHAPES: { f64: boolean; ta: boolean; tb: boolean; m: number; n: number; k: number; alpha: number; beta: number }[] = [
  { f64: false, ta: false, tb: false, m: 256, n: 128, k: 784, alpha: 1, beta: 0 },
  { f64: false, ta: false, tb: true, m: 256, n: 784, k: 128, alpha: -0.1, beta: 1 },
  { f64: false, ta: true, tb: false, m: 784, n: 128, k: 256, alpha: 1, beta: 0 },
  { f64: false, ta: true, tb: true, m: 67, n: 33, k: 129, alpha: 0.5, beta: 0.75 },
  { f64: true, ta: false, tb: false, m: 100, n: 70, k: 300, alpha: 1, beta: 0 },
  { f64: true, ta: true, tb: false, m: 33, n: 65, k: 17, alpha: 2, beta: -1 },
];

// The child: loads the library with OPENBLAS_CORETYPE as given, reports the core
// OpenBLAS says it runs, and computes each gemm it is sent (row-major CBLAS).
// A core the CPU cannot run kills only this child (SIGILL).
const CHILD = `
const [koffiPath, libPath] = process.argv.slice(1);
const decl = (x) => { const t = x === 'd' ? 'double' : 'float'; return 'void cblas_' + x + 'gemm(int, int, int, int, int, int, ' + t + ', const ' + t + ' *, int, const ' + t + ' *, int, ' + t + ', ' + t + ' *, int)'; };
let lib, gemm, corename = null;
try {
  lib = require(koffiPath).load(libPath);
  gemm = { s: lib.func(decl('s')), d: lib.func(decl('d')) };
} catch (e) {
  process.stdout.write(JSON.stringify({ unusable: String(e.message).split('\\n')[0] }));
  process.exit(0);
}
try { corename = lib.func('const char *openblas_get_corename()')(); } catch {}
const jobs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = jobs.map((j) => {
  const T = j.f64 ? Float64Array : Float32Array;
  const [a, b, c] = [j.a, j.b, j.c].map((s) => new T(new Uint8Array(Buffer.from(s, 'base64')).buffer));
  gemm[j.f64 ? 'd' : 's'](101, j.ta ? 112 : 111, j.tb ? 112 : 111, j.m, j.n, j.k, j.alpha, a, j.ta ? j.m : j.k, b, j.tb ? j.k : j.n, j.beta, c, j.n);
  return Buffer.from(c.buffer).toString('base64');
});
process.stdout.write(JSON.stringify({ corename, out }));
`;

/**
 * Runs CHECK_SHAPES through the library with OPENBLAS_CORETYPE = core (unset
 * when undefined) in a child process and compares each C with the js kernels'.
 * Both are within the classical bound for a computed product, |Ĉ − C| ≤ γ_k |A||B|
 * with γ_k = k·u/(1 − k·u) and u the unit roundoff (Higham, Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., §3.5), here with alpha and beta
 * folded in; so they may differ by at most twice that. A wrong kernel is off by
 * orders of magnitude more.
 */
export function checkCore(path: string, koffiPath: string, core: string | undefined): Trial {
  let seed = 1;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const jobs = CHECK_SHAPES.map((s) => {
    const dtype = s.f64 ? 'float64' : 'float32';
    const fill = (r: number, c: number) => Matrix.from(r, c, Array.from({ length: r * c }, rand), dtype);
    const a = s.ta ? fill(s.k, s.m) : fill(s.m, s.k);
    const b = s.tb ? fill(s.n, s.k) : fill(s.k, s.n);
    return { ...s, A: a, B: b, C: fill(s.m, s.n) };
  });
  const b64 = (m: Matrix) => Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('base64');
  const env = { ...process.env };
  if (core === undefined) delete env.OPENBLAS_CORETYPE;
  else env.OPENBLAS_CORETYPE = core;
  const r = spawnSync(process.execPath, ['-e', CHILD, koffiPath, path], {
    env,
    input: JSON.stringify(jobs.map((j) => ({ ...j, a: b64(j.A), b: b64(j.B), c: b64(j.C), A: undefined, B: undefined, C: undefined }))),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 60_000,
  });
  if (r.status !== 0) {
    const why = r.signal ? `crashed (${r.signal})` : `failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})`;
    return { core, ok: false, detail: why };
  }
  const res = JSON.parse(r.stdout) as { corename: string | null; out: string[] } | { unusable: string };
  if ('unusable' in res) return { core, ok: false, corename: null, detail: `does not load as a CBLAS (${res.unusable})` };
  if (res.corename === null) return { core, ok: true, corename: null, detail: 'not OpenBLAS' };
  const corename = res.corename.trim();
  if (core !== undefined && corename.toLowerCase() !== core.toLowerCase()) {
    return { core, ok: false, corename, detail: `this build runs ${corename} when asked for ${core}` };
  }
  let worst = 0;
  jobs.forEach((j, i) => {
    const bytes = Buffer.from(res.out[i], 'base64');
    const got = j.f64 ? new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8) : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    worst = Math.max(worst, gemmDisagreement(j.ta, j.tb, j.alpha, j.A, j.B, j.beta, j.C, got));
  });
  return worst <= 1
    ? { core, ok: true, corename, detail: `${jobs.length} gemm shapes agree with js (worst at ${(worst * 100).toFixed(1)}% of the rounding bound)` }
    : { core, ok: false, corename, detail: `gemm disagrees with js: ${worst.toExponential(1)}× the rounding bound` };
}

/**
 * The largest |got − want| / (2·γ_{k+2}·(|alpha||op(A)||op(B)| + |beta||C|)) over
 * the entries of C ← alpha·op(A)·op(B) + beta·C, with `want` from the js
 * kernels: ≤ 1 when `got` is a correctly rounded-enough product (Higham §3.5).
 */
export function gemmDisagreement(ta: boolean, tb: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix, got: ArrayLike<number>): number {
  const want = new Matrix(c.rows, c.cols, c.data.slice());
  jsKernels.gemm(ta, tb, alpha, a, b, beta, want);
  const abs = (m: Matrix) => new Matrix(m.rows, m.cols, m.data.map(Math.abs));
  const bound = new Matrix(c.rows, c.cols, c.data.map(Math.abs));
  jsKernels.gemm(ta, tb, Math.abs(alpha), abs(a), abs(b), Math.abs(beta), bound);
  const k = ta ? a.rows : a.cols;
  const u = c.data instanceof Float64Array ? 2 ** -53 : 2 ** -24;
  const gamma = ((k + 2) * u) / (1 - (k + 2) * u);
  let worst = 0;
  for (let i = 0; i < want.data.length; i++) {
    const diff = Math.abs(got[i] - want.data[i]);
    const limit = 2 * gamma * bound.data[i] + Number.MIN_VALUE;
    worst = Math.max(worst, Number.isNaN(diff) ? Infinity : diff / limit);
  }
  return worst;
}

/** Directories the dynamic linker searches for a bare library name (LD_LIBRARY_PATH, /etc/ld.so.conf.d, the defaults). */
function librarySearchPath(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  try {
    for (const f of readdirSync('/etc/ld.so.conf.d')
      .filter((f) => f.endsWith('.conf'))
      .sort()) {
      for (const line of readFileSync(join('/etc/ld.so.conf.d', f), 'utf8').split('\n')) {
        const d = line.replace(/#.*/, '').trim();
        if (isAbsolute(d)) dirs.push(d);
      }
    }
  } catch {
    // no ld.so.conf.d (not glibc Linux)
  }
  return [...dirs, '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
}

/** The file a library name refers to: a path as given, a bare name found on the linker's path; undefined when not found. */
export function resolveLibrary(name: string): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  if (process.platform !== 'linux') return undefined;
  return librarySearchPath()
    .map((d) => join(d, name))
    .find((p) => existsSync(p));
}
