import { nonNegativeInt } from './options.js';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { autoProvider, describePolicy, loadProvider, PROVIDERS, type Available, type Kernels, type ProviderName } from '../linalg/index.js';
import { KernelProfile } from '../linalg/profile.js';
import { loadWasm } from '../linalg/wasm.js';
import { measureGflops } from './info.js';
import { architectureGeometry, convArchitecture, Network, type Architecture, type InitName } from '../nn/network.js';
import { parseLayerList } from '../nn/layers.js';
import { Rng } from '../base/rng.js';
import { SgdTrainer } from '../train/sgd.js';
import { initialState, runTraining } from '../train/session.js';
import { loadIdxDirectory } from '../data/idx.js';
import { slice, type Examples } from '../data/dataset.js';
import { UsageError } from './errors.js';
import { Output, style } from './output.js';
import { examples, positiveInt } from './options.js';

/** Nielsen's chapter-6 ReLU net (NNDL ch. 6, network3.py): conv 5×5×20, max-pool 2, conv 5×5×40, max-pool 2, 100 relu, 10 softmax. */
const NIELSEN_CONV = 'conv5x5x20,pool2,conv5x5x40,pool2,100';

/** That conv net at mini-batch size m, with network3.py's η = 0.03 (without its L2, as N and W run without). */
function convConfig(m: number) {
  return {
    label: `${NIELSEN_CONV},10 relu, softmax log-likelihood, m=${m}, η=0.03`,
    arch: convArchitecture(parseLayerList(NIELSEN_CONV), [1, 28, 28], 10, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }),
    init: 'he' as InitName,
    batchSize: m,
    lr: 0.03,
  };
}

/**
 * The benchmark configurations (README, "npm run bench"): Nielsen's small net,
 * a wider ReLU net, and Nielsen's chapter-6 conv net at m = 10 (the book's)
 * and m = 64 (where gemm has wider products to work on). bench/torch_reference.py
 * builds the same nets under the same keys.
 */
export const BENCH_CONFIGS: Record<string, { arch: Architecture; init: InitName; batchSize: number; lr: number; label: string }> = {
  N: {
    label: '784-30-10 sigmoid, quadratic, m=10, η=3',
    arch: { sizes: [784, 30, 10], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' },
    init: 'normal',
    batchSize: 10,
    lr: 3,
  },
  W: {
    label: '784-256-128-10 relu, softmax log-likelihood, m=128, η=0.1',
    arch: { sizes: [784, 256, 128, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' },
    init: 'he',
    batchSize: 128,
    lr: 0.1,
  },
  C10: convConfig(10),
  C64: convConfig(64),
};

/**
 * The products of one training step for a batch of m, as [rows, cols, inner]
 * of C (rows × cols) = A (rows × inner) · B (inner × cols), per layer l = 1..L:
 * a dense layer's W·A is n_l × m × n_(l−1); a conv layer's W·cols(A) is
 * c_out × m·P × K (P output positions, K = c_in·kh·kw, src/nn/conv.ts).
 */
function layerProducts(arch: Architecture, m: number): [number, number, number][] {
  const geometry = architectureGeometry(arch);
  const out: [number, number, number][] = [];
  for (let l = 1; l < arch.sizes.length; l++) {
    const g = geometry[l];
    out.push(g ? [g.cOut, m * g.P, g.K] : [arch.sizes[l], m, arch.sizes[l - 1]]);
  }
  return out;
}

/**
 * Floating-point operations of one epoch: forward W·A, gradients δ·Aᵀ, and
 * Wᵀ·δ for layers 2..L, each with the flops of the layer's forward product
 * (2 per multiply-add; for a conv layer, W·cols(A), δ·cols(A)ᵀ and Wᵀδ).
 * im2col, col2im and pooling move data and are not counted.
 */
export function epochFlops(arch: Architecture, examples: number): number {
  let all = 0,
    recursion = 0;
  layerProducts(arch, 1).forEach(([r, c, k], i) => {
    all += r * c * k;
    if (i >= 1) recursion += r * c * k;
  });
  return 2 * examples * (2 * all + recursion);
}

interface BenchOptions {
  data: string;
  limit?: number;
  configs: string[];
  backends: ProviderName[];
  repeats: number;
  torch: boolean;
  torchThreads: number;
  tfjsLayers: boolean;
  startup: boolean;
  starts: number;
  profile: boolean;
  wasmPlain: boolean;
  json: boolean;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export function benchCommand(): Command {
  return new Command('bench')
    .description('seconds per training epoch on Fashion-MNIST for each kernel provider (and PyTorch / tfjs-layers with flags)')
    .option('--data <dir>', 'an MNIST-style IDX directory with 60,000 training images', '/usr/share/datasets/fashion-mnist')
    .option('--limit <n>', 'time epochs of only the first n training examples (PyTorch too); seconds are then for n, not 60,000', positiveInt)
    .option(
      '--configs <list>',
      "configurations: N (784-30-10 sigmoid, m=10), W (784-256-128-10 relu, m=128), C10 and C64 (Nielsen's ch. 6 conv net, m=10 and m=64)",
      (v) => {
        const xs = v.split(',').map((s) => s.trim().toUpperCase());
        if (xs.some((x) => !(x in BENCH_CONFIGS))) throw new InvalidArgumentError(`expected some of ${Object.keys(BENCH_CONFIGS).join(', ')}, e.g. N,W.`);
        return xs;
      },
      ['N', 'W', 'C10', 'C64'],
    )
    .option(
      '--backends <list>',
      `providers to time, some of ${PROVIDERS.join(', ')} (those that do not load here are skipped)`,
      (v) => {
        const xs = v.split(',').map((s) => s.trim());
        if (xs.some((x) => !(PROVIDERS as readonly string[]).includes(x))) throw new InvalidArgumentError(`expected some of ${PROVIDERS.join(', ')}.`);
        return xs as ProviderName[];
      },
      [...PROVIDERS],
    )
    .option('--repeats <n>', 'epochs timed per provider; the median is reported', positiveInt, 3)
    .option('--torch', 'also time PyTorch on the same configurations (Debian python3-torch)', false)
    .option('--torch-threads <n>', "PyTorch threads (torch.set_num_threads); 0: PyTorch's own default, as Debian ships it", nonNegativeInt, 0)
    .option('--tfjs-layers', 'also time tfjs-layers model.fit on the wasm backend for configuration W', false)
    .option('--profile', 'instead: one epoch per provider with its kernel calls timed: seconds per phase (gemm, element-wise, other)', false)
    .option('--wasm-plain', 'also time the wasm kernel without fused multiply-add (as wasm-plain), where the FMA one runs', false)
    .option('--startup', 'instead: process starts of `backprop` (bin/ on PATH, as the README sets up) for --version, train --help, grad and info: the first and the median of --starts later', false)
    .option('--starts <n>', 'with --startup: the later starts of each command, whose median is reported', positiveInt, 10)
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['every kernel provider on configurations N, W, C10 and C64 (what npm run bench runs)', 'backprop bench'],
        ["Nielsen's ch. 6 conv net and configuration W against PyTorch, paired round by round, on the first 10,000 images", 'backprop bench --configs C10,W --limit 10000 --torch'],
        ['where an epoch of W goes: gemm, element-wise passes, the rest', 'backprop bench --configs W --backends blas --profile'],
      ]),
    )
    .action(async (opts: BenchOptions) => runBench(opts));
}

type BenchRow = Record<string, { seconds: number; runs: number[]; gflops: number } | unknown>;
interface BenchProvider {
  name: string;
  kernels: Kernels;
  detail?: string;
}

async function runBench(opts: BenchOptions): Promise<void> {
  if (opts.startup && opts.profile) throw new UsageError('--startup and --profile time different things (process starts, an epoch by phase): give one of them');
  if (opts.startup) return runStartup(opts);
  const out = new Output(opts.json);
  if (!existsSync(opts.data)) throw new UsageError(`--data ${opts.data}: no such directory (install Debian's dataset-fashion-mnist or pass an IDX directory)`);
  const all = loadIdxDirectory(opts.data).train;
  const train = opts.limit && opts.limit < all.count ? slice(all, 0, opts.limit) : all;
  out.line(style.bold('backprop bench') + ` · one epoch on ${train.count.toLocaleString('en-US')} examples of ${opts.data} · median of ${opts.repeats}`);

  const { auto, providers } = await benchProviders(opts, out);
  if (opts.profile) return runProfile(opts, out, train, providers);
  const results: Record<string, BenchRow> = {};
  for (const key of opts.configs) results[key] = await benchConfig(key, opts, out, train, providers, auto.name);
  out.result({ command: 'bench', data: opts.data, examples: train.count, repeats: opts.repeats, auto: auto.name, providers: providers.map(({ name, detail }) => ({ name, detail })), results });
}

/** The providers this run times (and auto's choice), each announced with its kernel and thread policy. */
async function benchProviders(opts: BenchOptions, out: Output): Promise<{ auto: Available; providers: BenchProvider[] }> {
  // What a user gets out of the box (--backend auto, no tuning): its row is
  // marked, and compared with the fastest provider of this run.
  const providers: BenchProvider[] = [];
  const auto = await autoProvider();
  const core = auto.blas?.corename ? `, OpenBLAS core ${auto.blas.corename} (${auto.blas.core?.why ?? 'chosen by OpenBLAS'})` : '';
  out.line(style.dim(`  --backend auto takes ${auto.name}${core}`));
  for (const name of opts.backends) {
    const r = await loadProvider(name);
    if ('error' in r) out.line(style.dim(`  ${name}: not available (${r.error})`));
    else {
      providers.push({ name, kernels: r.kernels, detail: r.detail });
      out.line(style.dim(`  ${name}: ${r.detail ?? ''}${r.threads ? `; threads: ${describePolicy(r.threads)}` : ''}`));
    }
  }
  if (opts.wasmPlain) {
    const r = await loadWasm(undefined, false);
    if ('error' in r) out.line(style.dim(`  wasm-plain: not available (${r.error})`));
    else {
      const detail = `WebAssembly SIMD kernel, ${r.kernel}, ${r.threads} thread${r.threads === 1 ? '' : 's'}`;
      providers.push({ name: 'wasm-plain', kernels: r.kernels, detail });
      out.line(style.dim(`  wasm-plain: ${detail}; threads: ${describePolicy(r.policy)}`));
    }
  }
  return { auto, providers };
}

/**
 * One config's epoch per provider, in rounds (every provider, then PyTorch,
 * once per round; ratios are paired per round, so that drift in this
 * machine's speed hits both sides alike), with its gemm-bound share.
 */
async function benchConfig(key: string, opts: BenchOptions, out: Output, train: Examples, providers: BenchProvider[], autoName: string): Promise<BenchRow> {
  const cfg = BENCH_CONFIGS[key];
  const flops = epochFlops(cfg.arch, train.count);
  out.line('');
  out.line(`${style.bold(key)}: ${cfg.label} · ${(flops / 1e9).toFixed(1)} GFLOP per epoch`);
  const row: Record<string, { seconds: number; runs: number[]; gflops: number } | unknown> = {};
  // Rounds: every provider, then PyTorch, once per round; ratios are paired
  // per round, so that drift in this machine's speed hits both sides alike.
  const times: Record<string, number[]> = {};
  const torchRuns: number[] = [];
  let torchInfo: TorchResult | undefined;
  for (let round = 0; round < opts.repeats; round++) {
    for (const p of providers) (times[p.name] ??= []).push(await timeEpoch(cfg, train, p.kernels));
    if (opts.torch && !(torchInfo && 'error' in torchInfo)) {
      torchInfo = runTorch(opts.data, key, 1, opts.torchThreads, train.count);
      if (!('error' in torchInfo)) torchRuns.push(torchInfo.seconds);
    }
  }
  for (const [name, runs] of Object.entries(times)) {
    const s = median(runs);
    // The gemm-bound epoch: its flops at the rate this provider's gemm reaches on the config's largest product.
    const gemmRate = gemmGflops(cfg, providers.find((p) => p.name === name)!.kernels);
    const bound = flops / gemmRate / 1e9;
    row[name] = { seconds: s, runs, gflops: flops / s / 1e9, gemmGflops: gemmRate, gemmBoundSeconds: bound, ofGemmBound: bound / s };
    out.line(
      `  ${name.padEnd(12)}${s.toFixed(3).padStart(8)} s   ${(flops / s / 1e9).toFixed(1).padStart(6)} GFLOPS   ${style.dim(`gemm-bound ${bound.toFixed(3)} s (${gemmRate.toFixed(1)} GFLOPS), ${((100 * bound) / s).toFixed(0)}% of it`)}${name === autoName ? '   ← auto' : ''}`,
    );
  }
  const fastest = Object.entries(times)
    .map(([n, runs]) => [n, median(runs)] as const)
    .sort((a, b) => a[1] - b[1])[0];
  if (fastest && times[autoName]) {
    const ratio = median(times[autoName]) / fastest[1];
    row.auto = { provider: autoName, fastest: fastest[0], ratio };
    out.line(style.dim(`    auto (${autoName}) / fastest (${fastest[0]}) = ${ratio.toFixed(2)}`));
  }
  if (torchInfo && 'error' in torchInfo) out.line(style.warn(`  PyTorch: ${torchInfo.error}`));
  else if (torchInfo) {
    const t = median(torchRuns);
    row.torch = { seconds: t, runs: torchRuns, version: torchInfo.version, threads: torchInfo.threads };
    out.line(
      `  ${'PyTorch'.padEnd(12)}${t.toFixed(3).padStart(8)} s   ${(flops / t / 1e9).toFixed(1).padStart(6)} GFLOPS   (torch ${torchInfo.version}, ${torchInfo.threads} thread${torchInfo.threads > 1 ? 's' : ''})`,
    );
    for (const [name, runs] of Object.entries(times)) {
      const ratios = runs.map((x, i) => x / torchRuns[i]);
      (row[name] as Record<string, unknown>).torchRatio = median(ratios);
      out.line(style.dim(`    ${name} / PyTorch = ${median(ratios).toFixed(2)} (paired by round: ${ratios.map((x) => x.toFixed(2)).join(', ')})`));
    }
  }
  if (opts.tfjsLayers && key === 'W') {
    const s = await timeTfjsLayers(train, cfg);
    row.tfjsLayers = { seconds: s, backend: 'wasm' };
    out.line(`  ${'tfjs-layers'.padEnd(12)}${s.toFixed(3).padStart(8)} s   model.fit on the wasm backend (1 epoch)`);
    for (const p of providers) {
      const ours = row[p.name] as { seconds: number };
      out.line(style.dim(`    ${p.name} epoch is ${(s / ours.seconds).toFixed(1)}× faster than tfjs-layers'`));
    }
  }
  return row;
}

/**
 * The provider's gemm GFLOPS on the config's largest product (for N and W the
 * first layer's forward one, (h1 × 784) · (784 × m); for the conv net the
 * second conv layer's W·cols(A)): the best of three measurements (what the
 * machine can do; on a loaded machine a single one may be slowed).
 */
function gemmGflops(cfg: (typeof BENCH_CONFIGS)[string], kernels: Kernels): number {
  const [rows, cols, inner] = layerProducts(cfg.arch, cfg.batchSize).reduce((a, b) => (b[0] * b[1] * b[2] > a[0] * a[1] * a[2] ? b : a));
  return Math.max(...[0, 1, 2].map(() => measureGflops(kernels, rows, cols, inner)));
}

/**
 * --profile: one epoch per config and provider with the kernels wrapped in
 * timers (KernelProfile), the seconds of each phase, and their sums by kind.
 */
async function runProfile(opts: BenchOptions, out: Output, train: Examples, providers: { name: string; kernels: Kernels }[]): Promise<void> {
  const results: Record<string, Record<string, unknown>> = {};
  for (const key of opts.configs) {
    const cfg = BENCH_CONFIGS[key];
    results[key] = {};
    for (const p of providers) {
      const prof = new KernelProfile();
      await timeEpoch(cfg, train, prof.wrap(p.kernels)); // warm up, then the measured epoch
      prof.reset();
      const total = await timeEpoch(cfg, train, prof.wrap(p.kernels));
      const phases = [...prof.seconds].map(([phase, e]) => ({ phase, ...e })).sort((a, b) => b.s - a.s);
      const timed = phases.reduce((t, e) => t + e.s, 0);
      phases.push({ phase: 'outside the kernel calls (epoch start and end)', kind: 'other', s: total - timed, calls: 1 });
      const byKind = { gemm: 0, 'element-wise': 0, other: 0 };
      for (const e of phases) byKind[e.kind] += e.s;
      out.line('');
      out.line(`${style.bold(key)} on ${p.name}: ${total.toFixed(3)} s per epoch (profiled: timers cost a little)`);
      for (const [kind, s] of Object.entries(byKind)) out.line(`  ${kind.padEnd(13)}${s.toFixed(3).padStart(8)} s ${((100 * s) / total).toFixed(1).padStart(5)}%`);
      for (const e of phases)
        out.line(style.dim(`    ${e.kind.padEnd(13)}${e.s.toFixed(3).padStart(8)} s ${((100 * e.s) / total).toFixed(1).padStart(5)}%  ${e.phase}${e.calls > 1 ? ` (${e.calls} times)` : ''}`));
      results[key][p.name] = { seconds: total, byKind, phases };
    }
  }
  out.result({ command: 'bench', profile: true, data: opts.data, examples: train.count, results });
}

/** Seconds of one training epoch from a fresh network (same seed each time). */
async function timeEpoch(cfg: (typeof BENCH_CONFIGS)[string], train: Examples, kernels: Kernels): Promise<number> {
  const rng = new Rng(1);
  const net = Network.create(cfg.arch, cfg.init, rng);
  const trainer = new SgdTrainer(net, { lr: cfg.lr, batchSize: cfg.batchSize, weightDecay: 0 }, kernels);
  const state = initialState(train.count);
  const t0 = performance.now();
  await runTraining(trainer, train, rng, state, { epochs: 1, evaluate: false });
  return (performance.now() - t0) / 1000;
}

/**
 * The commands `--startup` times, as the README's set-up runs them (bin/ on PATH, then `backprop …`), and the
 * target for each: seconds, the median of 10 starts. Issue 27 asks ≤ 0.5 s for the documented start.
 */
const STARTUP: { args: string[]; target: number }[] = [
  { args: ['--version'], target: 0.5 },
  { args: ['train', '--help'], target: 0.5 },
  { args: ['grad', 'x*y', '--at', 'x=1,y=2'], target: 0.5 },
  { args: ['info'], target: 1 },
];

/** The first executable `name` on `path` (a PATH value), as a shell finds it; undefined when there is none. */
export function onPath(name: string, path: string): string | undefined {
  for (const dir of path.split(':')) {
    const file = join(dir || '.', name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Wall-clock seconds of whole process starts of `backprop ARGS` as the README's set-up runs it: this checkout's
 * bin/ first on PATH and the command found there by name, so the kernel runs bin/backprop through its
 * `#!/usr/bin/env node` line, as a shell would. Per command: the first start, with a new, empty cache
 * directory (XDG_CACHE_HOME: what backprop caches, such as the datasets' verdicts, as after an install), then
 * the median of --starts (10) later starts with that cache as the first left it.
 */
async function runStartup(opts: BenchOptions): Promise<void> {
  const out = new Output(opts.json);
  const bin = fileURLToPath(new URL('../../bin', import.meta.url));
  const PATH = `${bin}:${process.env.PATH ?? ''}`;
  const invoked = onPath('backprop', PATH);
  if (!invoked) throw new UsageError(`--startup: no executable backprop in ${bin}`);
  const cache = mkdtempSync(join(tmpdir(), 'backprop-startup-'));
  const env = { ...process.env, PATH, NO_COLOR: '1', XDG_CACHE_HOME: cache };
  const runs = opts.starts;
  out.line(style.bold('backprop bench --startup') + ` · backprop found on PATH (${invoked}), node ${process.version}: the first start with an empty cache, then the median of ${runs}`);
  const start = (args: string[], command = 'backprop'): number => {
    const t0 = performance.now();
    const r = spawnSync(command, args, { stdio: 'ignore', env }); // found by name on env.PATH, as a shell finds it
    const s = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new UsageError(`--startup: backprop ${args.join(' ')} exited with ${r.status ?? r.signal}${r.error ? ` (${r.error.message})` : ''}`);
    return s;
  };
  const results = [];
  // Node's own start, for scale: on a busy machine every start is slower, this one too.
  const node = median(Array.from({ length: runs }, () => start(['-e', '0'], process.execPath)));
  out.line(style.dim(`  ${'node -e 0 (Node alone, for scale)'.padEnd(34)} ${''.padEnd(14)}median ${node.toFixed(3)} s`));
  try {
    for (const { args, target } of STARTUP) {
      const first = start(args);
      const seconds = Array.from({ length: runs }, () => start(args));
      const m = median(seconds);
      const command = ['backprop', ...args.map((a) => (/[*\s]/.test(a) ? `"${a}"` : a))].join(' ');
      results.push({ command, args, first, median: m, min: Math.min(...seconds), max: Math.max(...seconds), target, met: m <= target });
      out.line(
        `  ${command.padEnd(34)} first ${first.toFixed(3)} s · later ${m.toFixed(3)} s (min ${Math.min(...seconds).toFixed(3)}, max ${Math.max(...seconds).toFixed(3)}) · target ≤ ${target} s ${m <= target ? style.good('met') : style.warn('missed')}`,
      );
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  out.result({ command: 'bench', invoked, node: process.version, nodeAloneSeconds: node, runs, startup: results });
}

type TorchResult = { seconds: number; runs: number[]; version: string; threads: number } | { error: string };

/** Debian's PyTorch on the same configuration, in a child with the user's environment as it is (no OPENBLAS_CORETYPE of ours). */
function runTorch(data: string, config: string, repeats: number, threads: number, limit: number): TorchResult {
  const python = process.env.BACKPROP_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const script = fileURLToPath(new URL('../../bench/torch_reference.py', import.meta.url));
  const r = spawnSync(python, [script, '--data', data, '--config', config, '--repeats', String(repeats), '--threads', String(threads), '--limit', String(limit)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || '').trim().split('\n').pop();
    return { error: `${python} failed (${why}); install Debian's python3-torch and libopenblas0-pthread` };
  }
  let j: { torch: string; threads: number; seconds: number[] };
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop()!) as typeof j;
    if (!Array.isArray(j?.seconds) || !j.seconds.length || !j.seconds.every(Number.isFinite)) throw new Error();
  } catch {
    return { error: `${python} printed no result (expected a JSON line with "seconds"); install Debian's python3-torch and libopenblas0-pthread` };
  }
  return { seconds: median(j.seconds), runs: j.seconds, version: j.torch, threads: j.threads };
}

/** tfjs-layers' own training loop on the wasm backend, for the same network as W. */
async function timeTfjsLayers(train: Examples, cfg: (typeof BENCH_CONFIGS)[string]): Promise<number> {
  const tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  tf.env().set('PROD', true);
  const [, h1, h2, outN] = cfg.arch.sizes;
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [784], units: h1, activation: 'relu' }), tf.layers.dense({ units: h2, activation: 'relu' }), tf.layers.dense({ units: outN, activation: 'softmax' })],
  });
  model.compile({ optimizer: tf.train.sgd(cfg.lr), loss: 'categoricalCrossentropy' });
  const x = tf.tensor2d(train.features, [train.count, train.dim]);
  const y = tf.oneHot(tf.tensor1d(train.labels, 'int32'), outN);
  const t0 = performance.now();
  await model.fit(x, y, { batchSize: cfg.batchSize, epochs: 1, shuffle: true, verbose: 0 });
  const s = (performance.now() - t0) / 1000;
  tf.dispose([x, y]);
  return s;
}
