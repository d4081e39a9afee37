#!/usr/bin/env node
// CPU seconds of one training epoch of a bench configuration, for two builds
// of backprop alternated process by process (A B, B A, A B, …), so that drift
// in a shared machine's load hits both alike. On a machine with more runnable
// jobs than cores the wall clock mostly measures the wait for a core; the CPU
// time of the process (process.cpuUsage, all its threads) measures the work.
// Each process loads the data, trains one epoch to warm up, then times one.
// Prints the medians, the median of the paired ratios B/A, and whether the
// two builds trained the same bytes (a hash of the weights and biases).
//
//   git worktree add /tmp/before HEAD~1 && (cd /tmp/before && ln -s $PWD/node_modules . && npm run build)
//   npm run build && node bench/paired-cpu.mjs /tmp/before/dist dist W blas [--rounds 5]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DATA = '/usr/share/datasets/fashion-mnist';

/** One epoch of config `key` on `provider` with the build in `dist`: { wall, cpu, hash }. */
async function epoch(dist, key, provider) {
  const load = (m) => import(pathToFileURL(resolve(dist, m)).href);
  const { BENCH_CONFIGS } = await load('cli/bench.js');
  const { loadProvider } = await load('linalg/index.js');
  const { Network } = await load('nn/network.js');
  const { Rng } = await load('base/rng.js');
  const { SgdTrainer } = await load('train/sgd.js');
  const { initialState, runTraining } = await load('train/session.js');
  const { loadIdxDirectory } = await load('data/idx.js');
  const c = BENCH_CONFIGS[key];
  const p = await loadProvider(provider);
  if ('error' in p) throw new Error(p.error);
  const train = loadIdxDirectory(DATA).train;
  const rng = new Rng(1);
  const net = Network.create(c.arch, c.init, rng);
  const trainer = new SgdTrainer(net, { lr: c.lr, batchSize: c.batchSize, weightDecay: 0 }, p.kernels);
  let wall = 0,
    cpu = 0;
  for (let r = 0; r < 2; r++) {
    const t0 = performance.now(),
      c0 = process.cpuUsage();
    await runTraining(trainer, train, rng, initialState(train.count), { epochs: 1, evaluate: false });
    const used = process.cpuUsage(c0);
    [wall, cpu] = [(performance.now() - t0) / 1000, (used.user + used.system) / 1e6];
  }
  const hash = createHash('sha256');
  for (const x of [...net.weights.map((w) => w.data), ...net.biases]) hash.update(Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  return { wall, cpu, hash: hash.digest('hex').slice(0, 12) };
}

const args = process.argv.slice(2);
if (args[0] === '--epoch') {
  console.log(JSON.stringify(await epoch(args[1], args[2], args[3])));
  process.exit(0);
}
const [a, b, key, provider] = args;
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 5;
if (!a || !b || !key || !provider) {
  console.error('usage: node bench/paired-cpu.mjs DIST_A DIST_B CONFIG PROVIDER [--rounds n]');
  process.exit(2);
}
const runs = { A: [], B: [] };
for (let i = 0; i < rounds; i++)
  for (const who of i % 2 ? ['B', 'A'] : ['A', 'B']) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--epoch', who === 'A' ? a : b, key, provider], { encoding: 'utf8' });
    runs[who].push(JSON.parse(out.trim()));
  }
const median = (x) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
const of = (who, f) => median(runs[who].map((r) => r[f]));
const ratio = (f) => median(runs.B.map((r, i) => r[f] / runs.A[i][f]));
console.log(
  `${key} on ${provider}, ${rounds} rounds, medians: A wall ${of('A', 'wall').toFixed(3)} s cpu ${of('A', 'cpu').toFixed(3)} s · B wall ${of('B', 'wall').toFixed(3)} s cpu ${of('B', 'cpu').toFixed(3)} s`,
);
console.log(
  `  B/A paired by round: wall ${ratio('wall').toFixed(2)}, cpu ${ratio('cpu').toFixed(2)} · bytes ${runs.A[0].hash === runs.B[0].hash ? 'identical' : 'differ'} (${runs.A[0].hash} ${runs.B[0].hash})`,
);
