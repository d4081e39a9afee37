import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';
import { resolveLibrary } from '../src/linalg/openblas-core.js';
import { jsKernels, Matrix, type DType } from '../src/linalg/index.js';
import { backprop, Gradients, Workspace } from '../src/nn/backprop.js';
import { activation, type ActivationName } from '../src/nn/activations.js';
import type { CostName } from '../src/nn/costs.js';
import { Network } from '../src/nn/network.js';
import { SgdTrainer } from '../src/train/sgd.js';
import type { Examples } from '../src/data/dataset.js';
import { Rng } from '../src/base/rng.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = fileURLToPath(new URL('../bin/backprop', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../datasets/fixtures', import.meta.url));
export const FASHION = '/usr/share/datasets/fashion-mnist';
/** Debian's reference BLAS (package libblas3). */
export const REFERENCE_BLAS = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3';
/** Debian's Python, which has python3-numpy and python3-torch (not a pyenv or venv one). */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Something outside npm that some tests need: a Debian package, checked by what the tests use from it. */
export interface SystemNeed {
  /** What is missing, in words. */
  what: string;
  /** The Debian package that provides it. */
  apt: string;
  present: () => boolean;
}

const once = (f: () => boolean) => {
  let v: boolean | undefined;
  return () => (v ??= f());
};
const pythonImports = (module: string) => once(() => spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore', timeout: 60_000 }).status === 0);

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The system packages the suite can use; `.ci/run` installs every one. */
export const SYSTEM = {
  fashionMnist: { what: `Fashion-MNIST in ${FASHION}`, apt: 'dataset-fashion-mnist', present: once(() => existsSync(join(FASHION, 'train-images-idx3-ubyte.gz'))) },
  openblas: { what: 'OpenBLAS (libopenblas.so.0)', apt: 'libopenblas0-pthread', present: once(() => resolveLibrary('libopenblas.so.0') !== undefined) },
  referenceBlas: { what: `the reference BLAS (${REFERENCE_BLAS})`, apt: 'libblas3', present: once(() => existsSync(REFERENCE_BLAS)) },
  numpy: { what: `numpy for ${PYTHON}`, apt: 'python3-numpy', present: pythonImports('numpy') },
  torch: { what: `PyTorch for ${PYTHON}`, apt: 'python3-torch', present: pythonImports('torch') },
  script: { what: 'script (util-linux) at /usr/bin/script, a pseudo-terminal for the progress bar tests', apt: 'bsdutils', present: once(() => executable('/usr/bin/script')) },
  chromium: { what: `a Chromium executable at ${CHROMIUM}`, apt: 'chromium', present: once(() => executable(CHROMIUM)) },
} satisfies Record<string, SystemNeed>;

/** Set by `.ci/run`, which installs every package above: a missing one then fails the test instead of skipping it. */
export const REQUIRE_SYSTEM = process.env.BACKPROP_REQUIRE_SYSTEM === '1';

/**
 * Call first in a test that needs system packages: when one is missing, the
 * test is skipped with the reason and the command that installs it (so that
 * `npm test` passes on a machine with only Node.js), or fails with the same
 * words when BACKPROP_REQUIRE_SYSTEM=1.
 */
export function needs(ctx: TestContext, ...what: SystemNeed[]): void {
  const missing = what.filter((n) => !n.present());
  if (missing.length === 0) return;
  const reason = `needs ${missing.map((n) => n.what).join(' and ')}: apt-get install ${missing.map((n) => n.apt).join(' ')}`;
  if (REQUIRE_SYSTEM) throw new Error(`${reason} (BACKPROP_REQUIRE_SYSTEM=1: every system package must be present)`);
  ctx.skip(reason);
}

const NO_TMPFS = 'cannot mount tmpfs here (not root, or no CAP_SYS_ADMIN): the disk-full and read-only cases need it';

/**
 * A small tmpfs mounted at a new temporary directory (`opts`: size=64k, ro, …), recorded in `mounts` for the
 * file's afterAll to unmount; undefined where it cannot be mounted (not root, no CAP_SYS_ADMIN).
 */
export function mountTmpfs(opts: string, mounts: string[]): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-mnt-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'ignore' });
    mounts.push(dir);
    return dir;
  } catch {
    return undefined;
  }
}

/** Call first in a case that needs tmpfs mounts: skipped with the reason where one could not be made, failed under BACKPROP_REQUIRE_SYSTEM=1 (CI must run every fault test). */
export function needsTmpfs(ctx: TestContext, ...mounts: (string | undefined)[]): void {
  if (mounts.every((m) => m !== undefined)) return;
  if (REQUIRE_SYSTEM) throw new Error(`${NO_TMPFS} (BACKPROP_REQUIRE_SYSTEM=1: the fault tests of full and read-only disks must run; run as root or with CAP_SYS_ADMIN)`);
  ctx.skip(NO_TMPFS);
}

/** The tiny MNIST-style IDX fixture (test/../datasets/fixtures/tiny-mnist) and its four files. */
export const TINY_MNIST = join(FIXTURES, 'tiny-mnist');
export const TINY_MNIST_FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/** An IDX file: magic 0 0 type rank, each dimension as a big-endian uint32, then the body as given. */
export function idxFile(type: number, shape: number[], body: Buffer | number[]): Buffer {
  const h = Buffer.alloc(4 + 4 * shape.length);
  h[2] = type;
  h[3] = shape.length;
  shape.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(body)]);
}

/** A new directory (`dir`, or a fresh temporary one) holding the tiny fixture with file `name` replaced by `data`, or left out when it is null. */
export function tinyMnistWith(name: string, data: Buffer | Uint8Array | null, dir = mkdtempSync(join(tmpdir(), 'backprop-idx-'))): string {
  mkdirSync(dir, { recursive: true });
  for (const f of TINY_MNIST_FILES) if (f !== name) copyFileSync(join(TINY_MNIST, f), join(dir, f));
  if (data) writeFileSync(join(dir, name), data);
  return dir;
}

/** Nielsen's chapter-1 network and hyper-parameters (784-30-10 sigmoid, quadratic cost, N(0,1) weights, η = 3, m = 10), as `train` flags. */
export const NIELSEN_CH1 = ['--layers', '784,30,10', '--activation', 'sigmoid', '--output-activation', 'sigmoid', '--cost', 'quadratic', '--init', 'normal', '--lr', '3', '--batch-size', '10'];

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI (built by `npm install`/`npm ci` via the prepare script). */
export function cli(args: string[], opts: { cwd?: string; timeout?: number; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function randomMatrix(rng: Rng, rows: number, cols: number, dtype: 'float32' | 'float64' = 'float64'): Matrix {
  const m = Matrix.zeros(rows, cols, dtype);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

/** One-hot targets for labels, one column per example. */
/** The four combinations of gemm's transpose flags [transA, transB]. */
export const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

/** Random operands of gemm with these transpose flags, so that op(A) is m × k and op(B) is k × n (A drawn first, then B). */
export function gemmOperands(rng: Rng, tA: boolean, tB: boolean, m: number, n: number, k: number, dtype: 'float32' | 'float64'): [Matrix, Matrix] {
  const a = tA ? randomMatrix(rng, k, m, dtype) : randomMatrix(rng, m, k, dtype);
  const b = tB ? randomMatrix(rng, n, k, dtype) : randomMatrix(rng, k, n, dtype);
  return [a, b];
}

export function oneHot(labels: number[], classes: number, dtype: 'float32' | 'float64' = 'float64'): Matrix {
  const y = Matrix.zeros(classes, labels.length, dtype);
  labels.forEach((l, j) => y.set(l, j, 1));
  return y;
}

/** Runs the CLI without blocking the event loop (for tests that serve HTTP in this process). */
export function cliAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs `backprop args` (node given `nodeArgs`); once stderr shows `when`, sends the signals (after delayMs, then gapMs apart). */
export function during(args: string[], when: RegExp, delayMs: number, signals: NodeJS.Signals[], gapMs = 0, clock = { sent: 0 }, nodeArgs: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '',
      stderr = '',
      sent = false;
    const watch = () => {
      if (sent || !when.test(stderr)) return;
      sent = true;
      signals.forEach((sig, i) =>
        setTimeout(
          () => {
            if (i === 0) clock.sent = performance.now();
            p.kill(sig);
          },
          delayMs + i * gapMs,
        ),
      );
    };
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => {
      stderr += d;
      watch();
    });
    p.on('exit', (code, signal) => resolve({ code: code ?? (signal ? -1 : null), stdout, stderr }));
  });
}

/** A safetensors file with its JSON header rewritten by `edit` (to make bad model files). */
export function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
  edit(h);
  const json = Buffer.from(JSON.stringify(h));
  const out = Buffer.alloc(8 + json.length + bytes.length - 8 - n);
  out.writeBigUInt64LE(BigInt(json.length));
  json.copy(out, 8);
  Buffer.from(bytes.subarray(8 + n)).copy(out, 8 + json.length);
  return out;
}

/**
 * A provider that did not load: blas must load wherever OpenBLAS is installed
 * (so its absence is a missing package, and a failure under BACKPROP_REQUIRE_SYSTEM);
 * the others (tensorflow, an optional npm package) may be absent and skip.
 */
export function providerUnavailable(ctx: TestContext, r: { name: string; error: string }): void {
  if (r.name === 'blas') {
    needs(ctx, SYSTEM.openblas);
    throw new Error(`OpenBLAS is installed but the blas provider does not load: ${r.error}`);
  }
  ctx.skip(`${r.name} cannot load here: ${r.error}`);
}

/** The four files of a catalogue entry, by role, in the order of the IDX file names (train images, train labels, test images, test labels). */
export const CATALOG_ROLES = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;

/**
 * A catalogue entry for the tiny fixture dataset (120 training and 60 test
 * digits), as `BACKPROP_CATALOG` reads it: `files` are its four files in
 * CATALOG_ROLES order, `urls` its mirrors.
 */
export function tinyCatalogEntry(files: { name: string; size?: number; md5: string }[], urls: string[] = []): Record<string, unknown> {
  return {
    name: 'tiny',
    title: 'tiny',
    description: 'fixture',
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    shape: [28, 28],
    train: 120,
    test: 60,
    licence: 'MIT',
    urls,
    homepage: '',
    citation: '',
    files: Object.fromEntries(files.map((f, i) => [CATALOG_ROLES[i], f])),
  };
}

/**
 * Opens a local HTML file in headless Chromium (the flags this closed network
 * needs), runs `inspect` on the page, and returns the page's errors and every
 * request it made, so a test can assert the page is self-contained.
 */
export async function inChromium(file: string, inspect: (page: import('playwright-core').Page) => Promise<void>): Promise<{ errors: string[]; requests: string[] }> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('request', (q) => requests.push(q.url()));
    await page.goto(`file://${file}`);
    await inspect(page);
    return { errors, requests };
  } finally {
    await browser.close();
  }
}

// ---- small networks and batches computed by hand (the unit tests of nn/, train/, analysis/, check/) ----

/** A column-per-example matrix from its columns. */
export function columns(cols: number[][], dtype: DType = 'float64'): Matrix {
  const n = cols[0].length,
    m = cols.length;
  const x = Matrix.zeros(n, m, dtype);
  cols.forEach((c, j) => c.forEach((v, i) => x.set(i, j, v)));
  return x;
}

/** A = f(Z) for the named activation, into a new matrix of Z's shape and precision. */
export function activated(name: ActivationName, z: Matrix): Matrix {
  const a = Matrix.zeros(z.rows, z.cols, z.dtype);
  activation(name).forward(z, a);
  return a;
}

/** n points in 2-D drawn from seed, class 1 when x₀ > x₁. */
export function orderedPoints(seed: number, n = 12): Examples {
  const rng = new Rng(seed),
    features = new Float32Array(2 * n),
    labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    features[2 * i] = rng.uniform();
    features[2 * i + 1] = rng.uniform();
    labels[i] = features[2 * i] > features[2 * i + 1] ? 1 : 0;
  }
  return { features, labels, count: n, dim: 2 };
}

/** n points in 2-D, class 1 when x₀ + x₁ > 1. */
export function diagonalPoints(rng: Rng, n: number): Examples {
  const features = new Float32Array(2 * n),
    labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    features[2 * i] = rng.uniform();
    features[2 * i + 1] = rng.uniform();
    labels[i] = features[2 * i] + features[2 * i + 1] > 1 ? 1 : 0;
  }
  return { features, labels, count: n, dim: 2 };
}

/** SGD (m = 5, no weight decay, js kernels) on a 2-4-2 tanh network in float64, xavier from seed 11. */
export function tanhTrainer(lr = 0.5, output: 'sigmoid' | 'linear' = 'sigmoid'): SgdTrainer {
  const net = Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: output, cost: 'quadratic' }, 'xavier', new Rng(11), 'float64');
  return new SgdTrainer(net, { lr, batchSize: 5, weightDecay: 0 }, jsKernels);
}

/** A 3-4-2 tanh→sigmoid network, quadratic cost, N(0, 1) weights from seed 21. */
export function tinyNet(dtype: 'float32' | 'float64' = 'float64'): Network {
  return Network.create({ sizes: [3, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(21), dtype);
}

/** 5 examples for tinyNet (one per row of x) and their one-hot targets, classes 0, 1, 0, 1, 0. */
export function tinyBatch(): { x: Matrix; y: Matrix } {
  const rng = new Rng(22);
  const x = Matrix.zeros(5, 3, 'float64'),
    y = Matrix.zeros(2, 5, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  for (let j = 0; j < 5; j++) y.set(j % 2, j, 1);
  return { x, y };
}

/** The summed cost of the batch and its gradients by `method` (backprop, or a planted bug), with the js kernels. */
export function backpropGradients(net: Network, x: Matrix, y: Matrix, method = backprop): { grads: Gradients; total: number } {
  const ws = new Workspace(net, x.rows);
  ws.input.data.set(x.data);
  const grads = new Gradients(net);
  const total = method(net, ws, y, grads, jsKernels);
  return { grads, total };
}

/** Our float64 mean loss and gradients of the same batch. */
export function referenceGradients(net: Network, x: Matrix, y: Matrix): { loss: number; grads: Gradients } {
  const { grads, total } = backpropGradients(net, x, y);
  return { loss: total / x.rows, grads };
}

/** A 4-5-4 network (sigmoid hidden layer) and a batch of 3 (3 ≠ 4: rows and columns cannot be confused), scaled so that max |z^2| = zmax. */
export function scaledNet(outputActivation: ActivationName, cost: CostName, zmax: number, seed = 7): { net: Network; x: Matrix; y: Matrix } {
  const rng = new Rng(seed);
  const net = Network.create({ sizes: [4, 5, 4], activation: 'sigmoid', outputActivation, cost }, 'xavier', rng, 'float64');
  const x = Matrix.zeros(3, 4, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.normal();
  for (let i = 0; i < 4; i++) net.biases[1][i] = rng.normal();
  const ws = new Workspace(net, 3);
  ws.input.data.set(x.data);
  backprop(net, ws, Matrix.zeros(4, 3, 'float64'), new Gradients(net), jsKernels);
  const k = zmax / Math.max(...Array.from(ws.z[2].data, Math.abs));
  net.weights[1].data.forEach((v, i, W) => (W[i] = v * k));
  net.biases[1].forEach((v, i, b) => (b[i] = v * k));
  const y = Matrix.zeros(4, 3, 'float64');
  [0, 3, 1].forEach((c, j) => y.set(c, j, 1));
  return { net, x, y };
}

/**
 * Loads what `backprop export --format tfjs` wrote in `dir` (model.json and weights.bin) into tfjs's
 * Layers API, from memory (tfjs-node would read file:// URLs; plain tfjs gets the same artifacts so).
 * Returns tfjs itself, the model and the parsed model.json.
 */
export async function loadTfjsExport(dir: string): Promise<{ tf: typeof import('@tensorflow/tfjs'); model: import('@tensorflow/tfjs').LayersModel; json: any }> {
  const tf = await import('@tensorflow/tfjs');
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  const weightData = new Uint8Array(readFileSync(join(dir, 'weights.bin'))).buffer;
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
  return { tf, model, json };
}
