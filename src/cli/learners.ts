import { loadData } from '../data/load.js';
import { totalmem } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Dataset } from '../data/dataset.js';
import { checkOutputFile, writeFileAtomic } from '../io/atomic.js';
import { GA_DEFAULTS, GaLearner } from '../learners/ga.js';
import { type Learner, type LearnerName, type TracePoint } from '../learners/learner.js';
import { NTK_DEFAULTS, NtkLearner } from '../learners/ntk.js';
import { SGD_DEFAULTS, SgdLearner } from '../learners/sgd.js';
import type { BackendName } from '../linalg/index.js';
import type { Architecture } from '../nn/network.js';
import { learnersReport, type LearnerRun } from '../report/learners.js';
import { sparkline, table } from '../report/terminal.js';
import { UsageError } from './errors.js';
import { Output, percent, seconds, style } from './output.js';
import {
  addBackendOption, addDataOptions, addNetworkOptions, architecture, defaultInit, kernels, nonNegativeInt, positiveInt, positiveNumber,
  type DataOptions, type NetworkOptions,
} from './options.js';

/** What every learner's factory gets besides its own flags. */
export interface LearnerSetup {
  /** The architecture of --layers/--hidden, or 784-10 (input-classes) when neither is given. */
  arch: Architecture;
  /** True when --layers or --hidden was given (the NTK then takes its depth from it). */
  archGiven: boolean;
  init: NonNullable<NetworkOptions['init']>;
  classes: number;
  /** Training examples after --limit. */
  trainCount: number;
}

/**
 * A learner of the study: its flags (added to the command) and a factory
 * that reads them from the parsed options and checks them (UsageError, one
 * line naming the flag). Adding a learner is one entry here. All learners'
 * flags live on one command, so a flag name can be added only once: a
 * learner reuses an existing flag (e.g. --epochs) by reading it, or names
 * its own.
 */
export interface LearnerEntry {
  addOptions(cmd: Command): void;
  create(opts: Record<string, unknown>, setup: LearnerSetup): Learner;
}

const num = (opts: Record<string, unknown>, key: string) => opts[key] as number;

function unitInterval(v: string): number {
  const x = Number(v);
  if (v.trim() === '' || !(x >= 0 && x <= 1)) throw new InvalidArgumentError('expected a probability from 0 to 1.');
  return x;
}

export const LEARNER_REGISTRY: Partial<Record<LearnerName, LearnerEntry>> = {
  sgd: {
    addOptions: (cmd) =>
      cmd
        .option('--lr <eta>', 'sgd: learning rate η', positiveNumber, SGD_DEFAULTS.lr)
        .option('--batch-size <m>', 'sgd: mini-batch size m', positiveInt, SGD_DEFAULTS.batchSize)
        .option('--epochs <n>', 'sgd: epochs', positiveInt, SGD_DEFAULTS.epochs),
    create: (o, s) => new SgdLearner(s.arch, { lr: num(o, 'lr'), batchSize: num(o, 'batchSize'), epochs: num(o, 'epochs'), init: s.init }),
  },
  ga: {
    addOptions: (cmd) =>
      cmd
        .option('--population <n>', 'ga: networks per generation', positiveInt, GA_DEFAULTS.population)
        .option('--generations <n>', 'ga: generations (--seconds may stop it sooner)', positiveInt, GA_DEFAULTS.generations)
        .option('--mutation-rate <p>', 'ga: probability that a weight or bias of a child is mutated', unitInterval, GA_DEFAULTS.mutationRate)
        .option('--sigma <s>', 'ga: σ of the Gaussian mutation', positiveNumber, GA_DEFAULTS.sigma)
        .option('--elite <n>', 'ga: the fittest n networks pass unchanged to the next generation', nonNegativeInt, GA_DEFAULTS.elite)
        .option('--tournament <k>', 'ga: networks per tournament (selection pressure)', positiveInt, GA_DEFAULTS.tournament)
        .option('--fitness-batch <n>', 'ga: training examples each generation is scored on (fitness = mean cost)', positiveInt, GA_DEFAULTS.fitnessBatch),
    create: (o, s) => {
      const population = num(o, 'population'), elite = num(o, 'elite');
      if (population < 2) throw new UsageError(`--population ${population}: the genetic algorithm needs at least 2 networks to breed`);
      if (elite >= population) throw new UsageError(`--elite ${elite} must be smaller than --population ${population} (otherwise no child is ever bred)`);
      if (num(o, 'tournament') > population) throw new UsageError(`--tournament ${num(o, 'tournament')} must not exceed --population ${population}`);
      return new GaLearner(s.arch, {
        population, generations: num(o, 'generations'), mutationRate: num(o, 'mutationRate'), sigma: num(o, 'sigma'), elite,
        tournament: num(o, 'tournament'), fitnessBatch: num(o, 'fitnessBatch'), init: s.init,
      });
    },
  },
  ntk: {
    addOptions: (cmd) =>
      cmd
        .option('--ridge <lambda>', 'ntk: ridge λ, relative to the mean of diag Θ', positiveNumber, NTK_DEFAULTS.ridge)
        .option('--kernel-limit <n>', 'ntk: at most n training examples (the kernel holds n² float64: 8n² bytes)', positiveInt, NTK_DEFAULTS.maxExamples),
    create: (o, s) => {
      if (s.arch.activation !== 'relu') throw new UsageError(`--activation ${s.arch.activation}: the ntk learner's closed form is for ReLU networks only`);
      const hidden = s.archGiven ? s.arch.sizes.length - 2 : NTK_DEFAULTS.hidden;
      const n = Math.min(s.trainCount, num(o, 'kernelLimit')), bytes = 8 * n * n;
      if (bytes > totalmem() / 2) {
        throw new UsageError(`--kernel-limit ${num(o, 'kernelLimit')}: the NTK of ${n} training examples is a ${n}×${n} float64 matrix (${(bytes / 2 ** 30).toFixed(1)} GB), more than half of this machine's ${(totalmem() / 2 ** 30).toFixed(1)} GB; use a smaller --kernel-limit`);
      }
      return new NtkLearner({ hidden, ridge: num(o, 'ridge'), maxExamples: num(o, 'kernelLimit') }, s.classes);
    },
  },
};

interface LearnersOptions extends DataOptions, NetworkOptions {
  learners: LearnerName[];
  seconds?: number;
  report?: string;
  json: boolean;
  backend: BackendName;
}

export function learnersCommand(): Command {
  const cmd = new Command('learners').description('fit several learners (SGD with backprop, a genetic algorithm, the neural tangent kernel) on the same data and compare what each costs and reaches');
  addDataOptions(cmd);
  addNetworkOptions(cmd, 'none: 784-10; the ntk learner then takes 2 hidden layers');
  const known = Object.keys(LEARNER_REGISTRY);
  cmd.addOption(
    new Option('--learners <list>', `learners to run, in order (${known.join(', ')})`)
      .argParser((v: string) => {
        const xs = v.split(',').map((s) => s.trim());
        for (const x of xs) if (!known.includes(x)) throw new InvalidArgumentError(`"${x}" is not a learner (${known.join(', ')}).`);
        if (new Set(xs).size !== xs.length) throw new InvalidArgumentError('name each learner once.');
        return xs as LearnerName[];
      })
      .default(known as LearnerName[], known.join(',')),
  );
  cmd
    .option('--seconds <s>', 'wall-clock budget of each learner (the NTK cannot stop inside its solve)', positiveNumber)
    .option('--seed <n>', 'seed of the weights, batches and populations', nonNegativeInt, 1)
    .option('--report <file.html>', 'write a self-contained HTML report with the charts')
    .option('--json', 'print every number as JSON on stdout', false);
  for (const e of Object.values(LEARNER_REGISTRY)) e.addOptions(cmd);
  addBackendOption(cmd);
  return cmd.action(async (opts: LearnersOptions) => runLearners(opts));
}

async function runLearners(opts: LearnersOptions): Promise<void> {
  const out = new Output(opts.json);
  if (opts.report) checkOutputFile(opts.report, '--report');
  const ds = loadData(opts);
  const arch = architecture(opts, ds.train.dim, ds.classes, []);
  const setup: LearnerSetup = { arch, archGiven: Boolean(opts.layers || opts.hidden), init: opts.init ?? defaultInit(arch.sizes.length > 2 ? arch.activation : 'linear'), classes: ds.classes, trainCount: ds.train.count };
  // Every learner is built (and its flags checked) before any runs: a bad flag costs no work.
  const learners = opts.learners.map((name) => LEARNER_REGISTRY[name]!.create(opts as unknown as Record<string, unknown>, setup));
  const k = await kernels(opts);
  const heading = `${ds.name}: ${ds.train.count} train / ${ds.test.count} test · seed ${opts.seed} · ${k.name} kernels${opts.seconds ? ` · ≤ ${opts.seconds} s each` : ''}`;
  out.line(style.bold('backprop learners') + ' ' + heading);
  for (const l of learners) out.line(style.dim(`  ${l.name.padEnd(4)} ${l.describe()}`));

  let interrupted = false;
  const onSigint = () => (interrupted = true);
  process.once('SIGINT', onSigint);
  const runs: (LearnerRun & { details: Record<string, number | string> })[] = [];
  try {
    for (const l of learners) {
      if (interrupted) break;
      const r = await l.fit(ds, {
        kernels: k,
        seed: opts.seed,
        budget: { seconds: opts.seconds },
        test: ds.test,
        shouldStop: () => interrupted,
        onPoint: (p) => {
          if (out.interactive) process.stderr.write(`\r\u001b[K  ${l.name}: ${percent(p.testAccuracy)} after ${seconds(p.seconds)}`);
        },
      });
      if (out.interactive) process.stderr.write('\r\u001b[K');
      const last = r.trace[r.trace.length - 1];
      runs.push({ name: l.name, description: l.describe(), testAccuracy: last.testAccuracy, seconds: last.seconds, work: last.work, flops: last.flops, parametersUpdated: r.parametersUpdated, peakBytes: r.peakBytes, trace: r.trace, details: r.details });
      out.line(style.dim(`  ${l.name} done: ${percent(last.testAccuracy)} in ${seconds(last.seconds)}${Object.keys(r.details).length ? ' · ' + Object.entries(r.details).map(([key, v]) => `${key} ${typeof v === 'number' ? +v.toPrecision(4) : v}`).join(', ') : ''}`));
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  if (interrupted) out.line(style.warn('interrupted: the table shows the learners that ran, as far as they got'));

  out.line('');
  out.line(
    table(
      ['learner', 'test acc', 'wall time', 'work (ex-fwd)', 'GFLOP', 'params updated', 'peak memory'],
      runs.map((r) => [r.name, percent(r.testAccuracy), seconds(r.seconds), r.work.toExponential(2), (r.flops / 1e9).toFixed(1), r.parametersUpdated.toLocaleString('en-US'), megabytes(r.peakBytes)]),
    ),
  );
  out.line(style.dim('work: example-forwards, one example through the model once (an SGD step on m examples counts 2m, a GA generation population × batch, an NTK kernel entry 1); wall time leaves out the test evaluations that draw the curves; peak memory: the learner\'s own large buffers'));
  out.line('');
  out.line(style.bold('test accuracy against time') + style.dim(' (each from its start to its end, 0–100%)'));
  for (const r of runs) out.line(`  ${r.name.padEnd(4)} ${sparkline(resample(r.trace, 32), { lo: 0, hi: 1 })}  ${percent(r.testAccuracy)} at ${seconds(r.seconds)}`);
  const ratio = workRatio(runs);
  if (ratio) {
    out.line('');
    out.line(ratio.text);
  }
  if (opts.report) {
    const html = await learnersReport(runs, 'backprop learners', `backprop learners ${heading}`, ratio ? [ratio.text] : []);
    writeFileAtomic(opts.report, html);
    out.line(`report written to ${opts.report}`);
  }
  out.result({
    command: 'learners', data: ds.name, train: ds.train.count, test: ds.test.count, seed: opts.seed, backend: k.name, budgetSeconds: opts.seconds ?? null,
    learners: runs, workRatio: ratio?.value ?? null, interrupted, report: opts.report,
  });
}

function megabytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GB` : `${(b / 2 ** 20).toFixed(1)} MB`;
}

/** The accuracy at `cols` evenly spaced times from 0 to the end (the last point measured by then). */
export function resample(trace: TracePoint[], cols: number): number[] {
  const end = trace[trace.length - 1]?.seconds ?? 0;
  const out: number[] = [];
  let i = -1;
  for (let c = 0; c < cols; c++) {
    const t = (end * (c + 1)) / cols;
    while (i + 1 < trace.length && trace[i + 1].seconds <= t + 1e-12) i++;
    out.push(i < 0 ? 0 : trace[i].testAccuracy);
  }
  return out;
}

/**
 * The work GA needed for its final accuracy against the work SGD needed to
 * first reach it (SGD's first trace point at or above it).
 */
export function workRatio(runs: { name: string; testAccuracy: number; work: number; seconds: number; trace: TracePoint[] }[]): { text: string; value: { target: number; ga: number; sgd: number | null; ratio: number | null; sgdSeconds: number | null } } | undefined {
  const ga = runs.find((r) => r.name === 'ga'), sgd = runs.find((r) => r.name === 'sgd');
  if (!ga || !sgd) return undefined;
  const target = ga.testAccuracy;
  const hit = sgd.trace.find((p) => p.testAccuracy >= target);
  if (!hit) {
    return { text: `SGD did not reach GA's ${percent(target)} within its budget (it ended at ${percent(sgd.testAccuracy)} after ${sgd.work.toExponential(2)} example-forwards; GA used ${ga.work.toExponential(2)})`, value: { target, ga: ga.work, sgd: null, ratio: null, sgdSeconds: null } };
  }
  const ratio = ga.work / Math.max(hit.work, 1);
  return {
    text: `work to reach GA's final ${percent(target)}: GA ${ga.work.toExponential(2)} example-forwards in ${seconds(ga.seconds)}, SGD ${hit.work.toExponential(2)} in ${seconds(hit.seconds)} — GA needed ${ratio >= 100 ? Math.round(ratio).toLocaleString('en-US') : ratio.toPrecision(3)}× the work of backprop`,
    value: { target, ga: ga.work, sgd: hit.work, ratio, sgdSeconds: hit.seconds },
  };
}
