import { decimal } from '../data/csv.js';
import { loadData } from '../data/load.js';
import { safeText } from '../base/terminal-safe.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { compareActivations, type CompareRun, type CompareSpec } from '../analysis/compare.js';
import { speedLabel } from '../analysis/layers.js';
import { activation, ACTIVATIONS, HIDDEN_ACTIVATIONS, isActivationName, type ActivationName } from '../nn/activations.js';
import { INITS, pairingProblem, type Architecture, type InitName } from '../nn/network.js';
import { WriteFailedError } from '../base/atomic.js';
import { claimOutputFiles } from './outputs.js';
import { compareReport } from '../report/html.js';
import { checkNetworkSize } from '../data/limits.js';
import { DataError, trainingLabelProblem, type Dataset } from '../data/dataset.js';
import { sparkline, table } from '../report/terminal.js';
import { EXIT, InterruptedError, signalExitCode, UsageError, watchStopSignals, type SignalWatch } from './errors.js';
import { Output, percent, style, writeOrRescue } from './output.js';
import { runsProgress } from './progress.js';
import {
  activationName,
  addBackendOption,
  addDataOptions,
  addQuietOption,
  architecture,
  checkLayerMemory,
  choiceOption,
  costName,
  COSTS,
  examples,
  layerList,
  nonNegativeInt,
  positiveInt,
  type DataOptions,
} from './options.js';
import type { LayerToken } from '../nn/layers.js';
import type { BackendName, DType, Kernels } from '../linalg/index.js';
import { addDtypeOption, providerForDtype } from './precision.js';
import { jsonProvenance, provenance } from '../io/provenance.js';
import type { CostName } from '../nn/costs.js';

interface CompareOptions extends DataOptions {
  activations: ActivationName[];
  hidden: LayerToken[];
  epochs: number;
  lr: string;
  init?: string;
  cost: CostName;
  outputActivation: ActivationName;
  batchSize: number;
  every: number;
  evalSize: number;
  report?: string;
  json: boolean;
  quiet: boolean;
  backend: BackendName;
  dtype?: DType;
}

/** "0.1" for all, or "sigmoid=0.5,relu=0.05" per activation (the others keep the default). */
function perActivation<T>(v: string | undefined, acts: ActivationName[], parse: (s: string) => T, fallback: (a: ActivationName) => T, flag: string): Record<string, T> {
  const out: Record<string, T> = Object.fromEntries(acts.map((a) => [a, fallback(a)]));
  if (v === undefined) return out;
  if (!v.includes('=')) {
    for (const a of acts) out[a] = parse(v);
    return out;
  }
  for (const part of v.split(',')) {
    const [a, x] = part.split('=');
    if (!acts.includes(a as ActivationName)) throw new UsageError(`${flag} ${v}: "${a}" is not one of --activations ${acts.join(',')}`);
    out[a] = parse(x);
  }
  return out;
}

/** The activations compare studies: those whose units saturate or die. */
const STALLING = ACTIVATIONS.filter((a) => activation(a).stalls !== undefined);

export function compareCommand(): Command {
  const cmd = new Command('compare').description('train the same network once per activation and compare saturation and per-layer learning speed (NNDL ch. 5)');
  addDataOptions(cmd);
  cmd
    .option(
      '--activations <list>',
      `hidden activations to compare (${STALLING.join(', ')})`,
      (v) => {
        const xs = v.split(',').map((s) => s.trim());
        for (const x of xs) if (!isActivationName(x) || !HIDDEN_ACTIVATIONS.includes(x)) throw new InvalidArgumentError(`"${x}" is not a hidden activation (${STALLING.join(', ')}).`);
        if (new Set(xs).size !== xs.length) throw new InvalidArgumentError('each activation once.');
        return xs as ActivationName[];
      },
      ['sigmoid', 'relu'] as ActivationName[],
    )
    .option('--hidden <sizes>', 'hidden layer sizes, or conv layers first as in train (conv5x5x20,pool2,100)', layerList, [30, 30, 30, 30] as LayerToken[])
    .option('--epochs <n>', 'epochs per run', positiveInt, 3)
    .option('--lr <eta>', 'learning rate: one for all, or per activation as sigmoid=0.5,relu=0.05', '0.1')
    .addOption(
      new Option('--init <name>', `weight init (${INITS.join(', ')}): one for all, or per activation as sigmoid=xavier,relu=he`).default(
        undefined,
        "normal, N(0,1) as Nielsen's, for sigmoid and tanh; he for relu and leaky-relu",
      ),
    )
    .addOption(choiceOption('--cost <name>', 'cost C (quadratic shows the output-layer slowdown)', COSTS, costName, 'cross-entropy'))
    .addOption(choiceOption('--output-activation <name>', 'output activation', ACTIVATIONS, activationName, 'sigmoid'))
    .option('--batch-size <m>', 'mini-batch size', positiveInt, 10)
    .option('--every <n>', 'also measure every n batches (0: at initialisation and each epoch end)', nonNegativeInt, 0)
    .option('--eval-size <n>', 'examples in the fixed batch the layer statistics are measured on', positiveInt, 1000)
    .option('--seed <n>', 'seed of the weights, the batches and the evaluation batch', nonNegativeInt, 1)
    .option('--report <file.html>', 'write a self-contained HTML report with charts')
    .option('--json', 'print every series as JSON on stdout', false);
  addQuietOption(cmd);
  addBackendOption(cmd);
  addDtypeOption(cmd);
  cmd.addHelpText(
    'after',
    examples([
      ['sigmoid against ReLU in a 784-30-30-30-30-10 net, and an HTML report with the charts', 'backprop compare --report report.html'],
      ['four activations, measured every 100 batches as well as each epoch', 'backprop compare --activations sigmoid,relu,tanh,leaky-relu --every 100'],
      ['a learning rate per activation, with the quadratic cost', 'backprop compare --cost quadratic --lr sigmoid=0.5,relu=0.05'],
    ]),
  );
  return cmd.action(async (opts: CompareOptions) => {
    // SIGINT (Ctrl-C), SIGTERM (kill, a scheduler) and SIGHUP (the terminal closed) stop the running network
    // at its next yield; the runs so far are still printed and written, and the exit code is 128 + the signal's number.
    const stops = watchStopSignals();
    try {
      process.exitCode = await runCompare(opts, stops);
    } finally {
      stops.release();
    }
  });
}

/** Each run of --activations with its init and η (--init and --lr: one value for all, or activation=value pairs). */
function compareSpecs(opts: CompareOptions): CompareSpec[] {
  const acts = opts.activations;
  const lr = perActivation(
    opts.lr,
    acts,
    (s) => {
      const x = decimal(s);
      if (!(x > 0) || !Number.isFinite(x)) throw new UsageError(`--lr ${opts.lr}: "${s}" is not a positive number`);
      return x;
    },
    () => 0.1,
    '--lr',
  );
  const init = perActivation<InitName>(
    opts.init,
    acts,
    (s) => {
      if (!(INITS as readonly string[]).includes(s)) throw new UsageError(`--init ${opts.init}: "${s}" is not one of ${INITS.join(', ')}`);
      return s as InitName;
    },
    (a) => (activation(a).stalls === 'dies' ? 'he' : 'normal'),
    '--init',
  ); // He init for the ReLU family
  return acts.map((a) => ({ activation: a, init: init[a], lr: lr[a] }));
}

/** The network of --hidden (a conv net too, docs/guide/convolution.md: the same layers train builds, on the data's images), checked to fit in memory and the data's labels checked. */
function compareArchitecture(opts: CompareOptions, ds: Dataset): Architecture {
  const arch = architecture({ hidden: opts.hidden, activation: opts.activations[0], outputActivation: opts.outputActivation, cost: opts.cost }, ds.train.dim, ds.classes, [], ds.shape);
  checkLayerMemory(arch, Math.min(Math.max(opts.batchSize, opts.evalSize), ds.train.count), '--hidden');
  const labels = trainingLabelProblem(ds, true);
  if (labels) throw new DataError(labels);
  checkNetworkSize(arch.sizes, Math.min(Math.max(opts.batchSize, opts.evalSize), ds.train.count), '--hidden');
  return arch;
}

/** Refuses an activation of --activations that cannot go with --output-activation and --cost (one line, exit 2). */
function refusePairings(opts: CompareOptions): void {
  for (const activation of opts.activations) {
    const refused = pairingProblem({ activation, outputActivation: opts.outputActivation, cost: opts.cost });
    if (refused) throw new UsageError(refused);
  }
}

/** Trains one network per activation (compareActivations), with train's progress bar on a terminal (runsProgress). */
async function trainRuns(opts: CompareOptions, ds: Dataset, specs: CompareSpec[], arch: Architecture, k: Kernels, dtype: DType, out: Output, stops: SignalWatch): Promise<CompareRun[]> {
  const bar = runsProgress(out.interactive, opts.epochs, opts.activations);
  try {
    return await compareActivations(
      ds,
      {
        runs: specs,
        arch,
        batchSize: opts.batchSize,
        epochs: opts.epochs,
        every: opts.every,
        seed: opts.seed,
        evalSize: opts.evalSize,
        dtype,
        shouldStop: () => stops.signal !== undefined,
      },
      k,
      (s, e) => {
        if (out.interactive) out.status(style.dim(`  ${s.activation}: epoch ${e}/${opts.epochs} done`));
      },
      bar.run,
    );
  } finally {
    bar.stop(); // the cursor comes back whatever happened
  }
}

/** The data, the runs' specs, the kernels and the network of a comparison, checked before any work, with its heading printed. */
async function prepareCompare(opts: CompareOptions, out: Output) {
  refusePairings(opts);
  claimOutputFiles([['--report', opts.report]]);
  const ds = loadData(opts);
  const specs = compareSpecs(opts);
  const dtype = opts.dtype ?? 'float32';
  const provider = await providerForDtype(opts, dtype, out);
  const arch = compareArchitecture(opts, ds);
  const heading = `${safeText(ds.name)} · ${arch.sizes.join('-')} · ${opts.outputActivation} output, ${opts.cost} · ${opts.epochs} epochs, m=${opts.batchSize} · seed ${opts.seed}`;
  out.note(style.bold('backprop compare') + ' ' + heading);
  out.note(
    style.dim(
      `runs: ${specs.map((s) => `${s.activation} (init ${s.init}, η=${s.lr})`).join(', ')} · same data, batches and order · statistics on ${Math.min(opts.evalSize, ds.train.count)} training examples`,
    ),
  );
  return { ds, specs, dtype, provider, arch, heading };
}

/** Trains, prints, writes --report (rescued if it cannot be) and the JSON result; a signal stops the training and keeps the runs so far. Returns the exit code. */
async function runCompare(opts: CompareOptions, stops: SignalWatch): Promise<number> {
  const out = new Output(opts.json, opts.quiet);
  const { ds, specs, dtype, provider, arch, heading } = await prepareCompare(opts, out);
  await stops.settle(); // a signal while the data loaded
  if (stops.signal) throw new InterruptedError(stops.signal, 'before the first run: nothing was trained, so no tables or report were written');
  const runs = await trainRuns(opts, ds, specs, arch, provider.kernels, dtype, out, stops);
  const interrupted = stops.signal;
  if (interrupted) out.line(style.warn(`interrupted${interrupted === 'SIGINT' ? '' : ` by ${interrupted}`}: the tables show the runs that ran, as far as they got (${stoppedAt(runs, specs)})`));
  printRuns(out, runs);
  const failures: string[] = []; // outputs that could not be written: reported after every other output
  let report = opts.report;
  if (opts.report) {
    const html = await compareReport(runs, `backprop compare: ${opts.activations.join(' vs ')}`, heading);
    report = writeOrRescue(opts.report, '--report', 'the report was', html, (m) => failures.push(m));
    if (report === opts.report) out.line(`report written to ${safeText(opts.report)}`);
  }
  const { json: _json, report: _report, ...options } = opts; // where the report goes does not change the runs
  out.result({
    command: 'compare',
    data: ds.name,
    sizes: arch.sizes,
    cost: opts.cost,
    outputActivation: opts.outputActivation,
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    runs,
    report,
    interrupted: interrupted !== undefined,
    signal: interrupted ?? null,
    ...jsonProvenance(provenance(provider, dtype, opts.seed, { ...options, dtype })),
  });
  await stops.settle(); // one that came while the report was written is still counted
  if (failures.length) throw new WriteFailedError(failures.join('; ')); // after the JSON: the numbers are on stdout whatever became of the file
  return stops.signal ? signalExitCode(stops.signal) : EXIT.ok;
}

/** Where an interrupted comparison stopped: the run, and the epochs it had finished; the runs it never started. */
function stoppedAt(runs: CompareRun[], specs: CompareSpec[]): string {
  const last = runs.at(-1)!;
  const epochs = Math.floor(last.snapshots.at(-1)!.epoch);
  const never = specs.slice(runs.length).map((s) => s.activation);
  return `${last.activation} ${last.interrupted ? `after ${epochs} epoch${epochs === 1 ? '' : 's'}` : 'finished'}${never.length ? `; not run: ${never.join(', ')}` : ''}`;
}

const sci = (x: number) => x.toExponential(2);

function printRuns(out: Output, runs: CompareRun[]): void {
  const hidden = runs[0].initial.filter((l) => l.hidden).map((l) => l.layer);
  out.line('');
  out.line(style.bold(`speed of learning ‖∂C/∂b^l‖ per hidden layer (Nielsen, NNDL ch. 5)${runs[0].initial.some((l) => l.batchNorm) ? '; ‖∂C/∂β^l‖ where batch norm’s β replaces b^l' : ''}`));
  const rows: string[][] = [];
  for (const r of runs)
    for (const [when, stats] of [
      ['init', r.initial],
      ['end', r.final],
    ] as const) {
      const ls = stats.filter((l) => l.hidden);
      const ratio = ls[0].speed / ls[ls.length - 1].speed;
      const flag = ratio < 0.1 ? style.warn(' vanishing') : ratio > 10 ? style.warn(' exploding') : '';
      rows.push([`${r.activation} ${when}`, ...ls.map((l) => sci(l.speed)), ratio.toPrecision(3) + flag]);
    }
  out.line(table(['', ...hidden.map((l) => `layer ${l}`), 'first/last'], rows));

  out.line('');
  out.line(style.bold('saturated (sigmoid/tanh: f′(z) < 1% of max) or dead (ReLU: z ≤ 0 on every example) units; output layer'));
  const srows: string[][] = [];
  for (const r of runs)
    for (const [when, stats] of [
      ['init', r.initial],
      ['end', r.final],
    ] as const) {
      const outL = stats[stats.length - 1];
      srows.push([
        `${r.activation} ${when}`,
        ...stats.filter((l) => l.hidden).map((l) => (l.saturated !== undefined ? `${percent(l.saturated, 0)} sat` : l.dead !== undefined ? `${percent(l.dead, 0)} dead` : '-')),
        `${outL.saturated !== undefined ? percent(outL.saturated, 0) + ' sat, ' : ''}‖δ^L‖ ${outL.outputDelta!.toPrecision(3)}`,
      ]);
    }
  out.line(table(['', ...hidden.map((l) => `layer ${l}`), 'output'], srows));

  out.line('');
  out.line(style.bold('test accuracy and cost, side by side'));
  out.line(sideBySide(runs));
  out.line('');
  out.line(style.bold('curves') + style.dim(' (each from initialisation to the end; speeds on a log scale shared by all runs)'));
  const allSpeeds = runs.flatMap((r) => r.snapshots.flatMap((s) => s.layers.filter((l) => l.hidden).map((l) => Math.log10(Math.max(l.speed, 1e-30)))));
  const lo = Math.min(...allSpeeds),
    hi = Math.max(...allSpeeds);
  for (const r of runs) {
    out.line(
      `  ${r.activation.padEnd(10)} accuracy ${sparkline(
        r.snapshots.map((s) => s.testAccuracy),
        { lo: 0, hi: 1 },
      )}  ${percent(r.snapshots[r.snapshots.length - 1].testAccuracy)}${r.diverged ? style.bad('  ' + r.diverged) : ''}`,
    );
    for (const l of hidden) {
      out.line(
        `  ${''.padEnd(10)} layer ${l}  ${sparkline(
          r.snapshots.map((s) => s.layers[l - 1].speed),
          { log: true, lo, hi },
        )}  ${speedLabel(r.snapshots[0].layers[l - 1])} ${sci(r.snapshots[0].layers[l - 1].speed)} → ${sci(r.snapshots[r.snapshots.length - 1].layers[l - 1].speed)}`,
      );
    }
  }
}

/** The test accuracy and cost of every run at each measurement of the first; '-' where a run had stopped (diverged, interrupted). */
function sideBySide(runs: CompareRun[]): string {
  const epochs = runs[0].snapshots.map((s) => s.epoch);
  return table(
    ['epoch', ...runs.flatMap((r) => [`${r.activation} acc`, 'cost'])],
    epochs.map((e, i) => [
      Number.isInteger(e) ? String(e) : e.toFixed(2),
      ...runs.flatMap((r) => {
        const s = r.snapshots[i];
        return s ? [percent(s.testAccuracy), s.testLoss.toFixed(4)] : ['-', '-'];
      }),
    ]),
  );
}
