import { decimal } from '../data/csv.js';
import { totalmem } from 'node:os';
import { loadData } from '../data/load.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DataError, trainingLabelProblem, type Dataset } from '../data/dataset.js';
import { checkNetworkSize, gb, MAX_ARRAY } from '../data/limits.js';
import { jsonProvenance, provenance } from '../io/provenance.js';
import { WriteFailedError } from '../base/atomic.js';
import { claimOutputFiles, type OutputFlag } from './outputs.js';
import { GA_DEFAULTS, GaLearner, gaMemory } from '../learners/ga.js';
import { type FitContext, type FitResult, type Learner, type LearnerName, type Progress, type TracePoint } from '../learners/learner.js';
import { totalBytes } from '../learners/harness.js';
import { fitOtherSeeds, studyRun, type StudyRun } from '../learners/study.js';
import { kernelSubsetProblem, NTK_DEFAULTS, NtkLearner, ntkMemory } from '../learners/ntk.js';
import { ODE_DEFAULTS, OdeLearner, odeMemory, OdeNet } from '../learners/ode.js';
import { RK4, SolverError } from '../learners/ode-solvers.js';
import { RBM_DEFAULTS, RbmLearner, rbmMemory } from '../learners/rbm.js';
import { SGD_DEFAULTS, SgdLearner } from '../learners/sgd.js';
import type { BackendName, Kernels } from '../linalg/index.js';
import { NotPositiveDefiniteError } from '../linalg/lapack.js';
import { defaultLearningRate, type Architecture } from '../nn/network.js';
import { filtersPng } from '../report/png-grid.js';
import { activation, relu } from '../nn/activations.js';
import { learnersReport, type Figure } from '../report/learners.js';
import { sparkline, table } from '../report/terminal.js';
import { EXIT, InterruptedError, RunFailedError, signalExitCode, UsageError, watchStopSignals, type SignalWatch } from './errors.js';
import { providerForDtype } from './precision.js';
import { clock, Output, percent, seconds, style, writeOrRescue } from './output.js';
import { shellArg } from '../base/terminal-safe.js';
import {
  addBackendOption,
  addDataOptions,
  addNetworkOptions,
  addQuietOption,
  architecture,
  defaultInit,
  examples,
  nonNegativeInt,
  nonNegativeNumber,
  oneOf,
  positiveInt,
  positiveNumber,
  unitInterval,
  type DataOptions,
  type NetworkOptions,
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
  /** Input values per example and classes of the data. */
  inputs: number;
  /** Test examples after --test-limit. */
  testCount: number;
  /** The training labels (after --limit and --validation): the NTK refuses a kernel subset that lacks a class of them. */
  trainLabels: ArrayLike<number>;
  /** True when the flag (camelCase key) was given on the command line. */
  given: (key: string) => boolean;
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
  /** Builds the learner; refuses (one line, exit 2) flags it cannot use and sizes that would not fit in memory. */
  create(opts: LearnersOptions, setup: LearnerSetup): Learner;
  /** The files this learner's flags will write, claimed with the command's others before any learner runs (src/cli/outputs.ts). */
  outputFiles?(opts: LearnersOptions): OutputFlag[];
  /** After its fit: write the files its flags ask for (a write that fails is rescued and reported through `failed`, not thrown), and return pictures for --report. */
  finish?(learner: Learner, ds: Dataset, kernels: Kernels, opts: LearnersOptions, failed: (message: string) => void): Figure[];
}

/** The sgd learner's flags (--lr absent: defaultLearningRate of the architecture). */
interface SgdFlags {
  lr?: number;
  batchSize: number;
  epochs: number;
}

interface GaFlags {
  population: number;
  generations: number;
  mutationRate: number;
  sigma: number;
  elite: number;
  tournament: number;
  fitnessBatch: number;
}

interface NtkFlags {
  ridge: number;
  kernelLimit: number;
}

interface RbmFlags {
  rbmHidden: number;
  rbmLr: number;
  rbmMomentum: number;
  rbmWeightDecay: number;
  rbmEpochs: number;
  rbmBatchSize: number;
  cdK: number;
  persistent: boolean;
  filters?: string;
}

interface OdeFlags {
  odeWidth: number;
  odeHidden: number;
  solver: 'rk4' | 'dopri5';
  odeSteps: number;
  rtol: number;
  atol: number;
  odeTime: number;
  odeGradient: 'adjoint' | 'unrolled';
  odeLr: number;
  odeWeightDecay: number;
  odeInputDropout: number;
  odeEpochs: number;
  odeBatchSize: number;
}

/** The parsed options of `backprop learners`: the shared ones and every learner's own. */
export interface LearnersOptions extends DataOptions, NetworkOptions, SgdFlags, GaFlags, NtkFlags, RbmFlags, OdeFlags {
  learners: LearnerName[];
  seconds?: number;
  seeds: number;
  report?: string;
  json: boolean;
  quiet: boolean;
  backend: BackendName;
}

/** The flag that set the architecture, for messages about its size. */
const archFlag = (o: LearnersOptions) => (o.layers ? '--layers' : '--hidden');

/** Refuses conv layers and batch normalisation for a learner whose model is a dense network (the GA's genomes, the NTK's closed form). */
function denseOnly(name: string, why: string, o: LearnersOptions, s: LearnerSetup): void {
  const what = s.arch.layers ? 'conv layers' : s.arch.batchNorm ? 'batch normalisation (bn)' : undefined;
  if (what) throw new UsageError(`${archFlag(o)}: the ${name} learner ${why}, without ${what}; sgd trains them (--learners sgd)`);
}

/** Refuses, before any learner runs, a learner whose buffers would take more than half of this machine's memory (or a typed array longer than V8 allows). */
function checkLearnerSize(flag: string, what: string, bytes: number, largestArray: number, advice: string): void {
  if (bytes > totalmem() / 2) throw new DataError(`${flag}: ${what} needs about ${gb(bytes)} (estimated), more than half of this machine's ${gb(totalmem())}; ${advice}`);
  if (largestArray > MAX_ARRAY) throw new DataError(`${flag}: ${what} needs an array of ${largestArray} entries, more than the ${MAX_ARRAY} an array can hold; ${advice}`);
}

/** Parameters of a fully connected network of these layer sizes, and its largest weight matrix. */
function parameterCounts(sizes: readonly number[]): { total: number; largest: number } {
  let total = 0,
    largest = 0;
  for (let l = 1; l < sizes.length; l++) {
    total += sizes[l] * sizes[l - 1] + sizes[l];
    largest = Math.max(largest, sizes[l] * sizes[l - 1]);
  }
  return { total, largest };
}

function probability(v: string): number {
  const x = decimal(v);
  if (v.trim() === '' || !(x >= 0 && x <= 1)) throw new InvalidArgumentError('expected a probability from 0 to 1.');
  return x;
}

export const LEARNER_REGISTRY: Partial<Record<LearnerName, LearnerEntry>> = {
  sgd: {
    addOptions: (cmd) =>
      cmd
        .addOption(
          new Option('--lr <eta>', 'sgd: learning rate η')
            .argParser(positiveNumber)
            .default(undefined, `${SGD_DEFAULTS.lr}; ${SGD_DEFAULTS.lr / 10} for the quadratic cost after a linear, relu or leaky-relu output`),
        )
        .option('--batch-size <m>', 'sgd: mini-batch size m', positiveInt, SGD_DEFAULTS.batchSize)
        .option('--epochs <n>', 'sgd: epochs', positiveInt, SGD_DEFAULTS.epochs),
    create: (o, s) => {
      checkNetworkSize(s.arch.sizes, Math.min(o.batchSize, s.trainCount), archFlag(o));
      return new SgdLearner(s.arch, { lr: o.lr ?? defaultLearningRate(s.arch, SGD_DEFAULTS.lr), batchSize: o.batchSize, epochs: o.epochs, init: s.init });
    },
  },
  ga: {
    addOptions: (cmd) =>
      cmd
        .option('--population <n>', 'ga: networks per generation', positiveInt, GA_DEFAULTS.population)
        .option('--generations <n>', 'ga: generations (--seconds may stop it sooner)', positiveInt, GA_DEFAULTS.generations)
        .option('--mutation-rate <p>', 'ga: probability that a weight or bias of a child is mutated', probability, GA_DEFAULTS.mutationRate)
        .option('--sigma <s>', 'ga: σ of the Gaussian mutation', positiveNumber, GA_DEFAULTS.sigma)
        .option('--elite <n>', 'ga: the fittest n networks pass unchanged to the next generation', nonNegativeInt, GA_DEFAULTS.elite)
        .option('--tournament <k>', 'ga: networks per tournament (selection pressure)', positiveInt, GA_DEFAULTS.tournament)
        .option('--fitness-batch <n>', 'ga: training examples each generation is scored on (fitness = mean cost)', positiveInt, GA_DEFAULTS.fitnessBatch),
    create: (o, s) => {
      denseOnly('ga', 'evolves the weights of dense layers', o, s);
      const { population, elite, tournament } = o;
      if (population < 2) throw new UsageError(`--population ${population}: the genetic algorithm needs at least 2 networks to breed`);
      if (elite >= population) throw new UsageError(`--elite ${elite} must be smaller than --population ${population} (otherwise no child is ever bred)`);
      if (tournament > population) throw new UsageError(`--tournament ${tournament} must not exceed --population ${population}`);
      // gaMemory: the learner's own estimate, which it reports as its peak.
      const p = parameterCounts(s.arch.sizes),
        batch = Math.min(o.fitnessBatch, s.trainCount);
      checkLearnerSize(
        s.given('population') ? '--population' : archFlag(o),
        `a population of ${population} ${s.arch.sizes.join('-')} networks (${p.total.toLocaleString('en-US')} parameters each)`,
        totalBytes(gaMemory(s.arch.sizes, population, batch)),
        population * Math.max(p.largest, batch * Math.max(...s.arch.sizes.slice(1))),
        'use a smaller --population or smaller layers',
      );
      return new GaLearner(s.arch, {
        population,
        generations: o.generations,
        mutationRate: o.mutationRate,
        sigma: o.sigma,
        elite,
        tournament,
        fitnessBatch: o.fitnessBatch,
        init: s.init,
      });
    },
  },
  ntk: {
    addOptions: (cmd) =>
      cmd
        .option('--ridge <lambda>', 'ntk: ridge λ, relative to the mean of diag Θ', positiveNumber, NTK_DEFAULTS.ridge)
        .option('--kernel-limit <n>', 'ntk: at most n training examples (the kernel holds n² float64: 8n² bytes)', positiveInt, NTK_DEFAULTS.maxExamples),
    create: (o, s) => {
      denseOnly('ntk', 'has the closed-form kernel of a dense ReLU network (Jacot et al. 2018)', o, s);
      if (activation(s.arch.activation) !== relu) throw new UsageError(`--activation ${s.arch.activation}: the ntk learner's closed form is for ReLU networks only`);
      const hidden = s.archGiven ? s.arch.sizes.length - 2 : NTK_DEFAULTS.hidden;
      const missing = kernelSubsetProblem(s.trainLabels, o.kernelLimit);
      if (missing) {
        const classes = missing.missing.length === 1 ? `class ${missing.missing[0]}` : `classes ${missing.missing.join(', ')}`;
        throw new UsageError(
          `--kernel-limit ${o.kernelLimit}: ${o.kernelLimit === 1 ? 'the first training example has' : `the first ${o.kernelLimit} training examples have`} no example of ${classes}, and kernel regression on one-hot targets never predicts a class it did not see; use --kernel-limit ${missing.needed} or more (the first example of every class)`,
        );
      }
      const n = Math.min(s.trainCount, o.kernelLimit),
        bytes = totalBytes(ntkMemory(n, s.inputs, s.testCount, s.classes));
      if (bytes > totalmem() / 2) {
        throw new UsageError(
          `--kernel-limit ${o.kernelLimit}: the NTK of ${n} training examples needs about ${gb(bytes)} (estimated: its ${n}×${n} float64 kernel, the prediction rows and the inputs), more than half of this machine's ${gb(totalmem())}; use a smaller --kernel-limit`,
        );
      }
      return new NtkLearner({ hidden, ridge: o.ridge, maxExamples: o.kernelLimit }, s.classes);
    },
  },
  rbm: {
    addOptions: (cmd) =>
      cmd
        .option('--rbm-hidden <n>', 'rbm: hidden units', positiveInt, RBM_DEFAULTS.hidden)
        .option('--rbm-lr <eta>', 'rbm: learning rate of the contrastive-divergence updates', positiveNumber, RBM_DEFAULTS.lr)
        .option('--rbm-momentum <mu>', 'rbm: momentum, from 0 up to 1', unitInterval, RBM_DEFAULTS.momentum)
        .option('--rbm-weight-decay <lambda>', 'rbm: L2 weight decay λ', nonNegativeNumber, RBM_DEFAULTS.weightDecay)
        .option('--rbm-epochs <n>', 'rbm: epochs (--seconds may stop it sooner)', positiveInt, RBM_DEFAULTS.epochs)
        .option('--rbm-batch-size <m>', 'rbm: mini-batch size', positiveInt, RBM_DEFAULTS.batchSize)
        .option('--cd-k <k>', 'rbm: Gibbs steps of contrastive divergence CD-k', positiveInt, RBM_DEFAULTS.cdK)
        .option('--persistent', 'rbm: persistent chains (PCD) instead of chains restarted at the data', false)
        .option('--filters <file.png>', 'rbm: write the learned filters and a few reconstructions as a PNG'),
    create: (o, s) => {
      if (s.inputs !== 784 && o.filters) throw new UsageError(`--filters ${o.filters}: the filters are drawn as 28×28 images, but the data has ${s.inputs} inputs`);
      // The estimate RbmLearner.fit reports as its peak: every buffer it and predict() allocate.
      const H = o.rbmHidden,
        n = s.inputs + s.classes,
        m = Math.min(o.rbmBatchSize, s.trainCount);
      const rbmOpts = { ...RBM_DEFAULTS, hidden: H, batchSize: o.rbmBatchSize, persistent: o.persistent };
      checkLearnerSize(
        s.given('rbmBatchSize') && !s.given('rbmHidden') ? '--rbm-batch-size' : '--rbm-hidden',
        `an RBM of ${n} visible and ${H} hidden units`,
        totalBytes(rbmMemory(rbmOpts, s.inputs, s.classes, s.trainCount, s.testCount)),
        Math.max(H * n, m * Math.max(n, H), 500 * H),
        'use a smaller --rbm-hidden or --rbm-batch-size',
      );
      return new RbmLearner({
        hidden: H,
        lr: o.rbmLr,
        momentum: o.rbmMomentum,
        weightDecay: o.rbmWeightDecay,
        epochs: o.rbmEpochs,
        batchSize: o.rbmBatchSize,
        cdK: o.cdK,
        persistent: o.persistent,
      });
    },
    outputFiles: (o) => [['--filters', o.filters]],
    finish: (l, ds, k, o, fail) => {
      if (!(l instanceof RbmLearner)) return [];
      const png = filtersPng(l.filterImages(ds.test, k), [28, 28]);
      if (o.filters) writeOrRescue(o.filters, '--filters', 'the filters image was', png, fail);
      return [
        {
          title: 'RBM: learned filters and reconstructions',
          caption: `The image weights of the first ${Math.min(100, l.opts.hidden)} hidden units as 28×28 images (each from its most negative weight, black, to its most positive, white); below, one test digit per class over what ${l.reconstructionSteps} Gibbs step${l.reconstructionSteps === 1 ? '' : 's'} (v → h → v) make of it.`,
          png,
        },
      ];
    },
  },
  ode: {
    addOptions: (cmd) =>
      cmd
        .option('--ode-width <d>', 'ode: size of the hidden state h(t)', positiveInt, ODE_DEFAULTS.width)
        .option('--ode-hidden <k>', 'ode: hidden units of f, the network giving dh/dt', positiveInt, ODE_DEFAULTS.hidden)
        .option('--solver <name>', 'ode: rk4 (fixed steps) or dopri5 (adaptive Dormand–Prince 5(4))', oneOf(['rk4', 'dopri5'] as const), ODE_DEFAULTS.solver)
        .option('--ode-steps <n>', 'ode: RK4 steps from t = 0 to T', positiveInt, ODE_DEFAULTS.steps)
        .option('--rtol <r>', 'ode: dopri5 relative tolerance', positiveNumber, ODE_DEFAULTS.rtol)
        .option('--atol <a>', 'ode: dopri5 absolute tolerance', positiveNumber, ODE_DEFAULTS.atol)
        .option('--ode-time <T>', 'ode: end time T of the ODE', positiveNumber, ODE_DEFAULTS.time)
        .option('--ode-gradient <method>', 'ode: adjoint (backwards solve) or unrolled (backprop through the stored steps)', oneOf(['adjoint', 'unrolled'] as const), ODE_DEFAULTS.gradient)
        .option('--ode-lr <eta>', 'ode: Adam step size', positiveNumber, ODE_DEFAULTS.lr)
        .option('--ode-weight-decay <lambda>', 'ode: decoupled weight decay λ (AdamW)', nonNegativeNumber, ODE_DEFAULTS.weightDecay)
        .option('--ode-input-dropout <p>', 'ode: in training, zero each pixel with probability p (from 0 up to 1)', unitInterval, ODE_DEFAULTS.inputDropout)
        .option('--ode-epochs <n>', 'ode: epochs (--seconds may stop it sooner)', positiveInt, ODE_DEFAULTS.epochs)
        .option('--ode-batch-size <m>', 'ode: mini-batch size', positiveInt, ODE_DEFAULTS.batchSize),
    create: (o, s) => {
      // Training runs in float32 (about 7 significant digits): tighter tolerances cannot be met and the step size underflows.
      if (o.solver === 'dopri5' && o.rtol < 1e-6) throw new UsageError(`--rtol ${o.rtol}: the ode learner trains in float32, use --rtol ≥ 1e-6`);
      if (o.solver === 'dopri5' && o.atol < 1e-8) throw new UsageError(`--atol ${o.atol}: the ode learner trains in float32, use --atol ≥ 1e-8`);
      // odeMemory: the learner's own estimate, which it reports as its peak (the unrolled gradient's tape added).
      const P = OdeNet.sizes(s.inputs, o.odeWidth, o.odeHidden, s.classes).reduce((a, [r, c]) => a + r * c, 0);
      const m = Math.min(o.odeBatchSize, s.trainCount);
      checkLearnerSize(
        s.given('odeHidden') && !s.given('odeWidth') ? '--ode-hidden' : s.given('odeBatchSize') && !s.given('odeWidth') ? '--ode-batch-size' : '--ode-width',
        `a neural ODE of width ${o.odeWidth} with ${o.odeHidden} hidden units (${P.toLocaleString('en-US')} parameters)`,
        totalBytes(odeMemory({ width: o.odeWidth, hidden: o.odeHidden, batchSize: m, solver: o.solver }, s.inputs, s.classes)),
        Math.max(P, m * s.inputs, m * (2 * o.odeWidth + o.odeHidden)),
        'use a smaller --ode-width, --ode-hidden or --ode-batch-size',
      );
      // The unrolled gradient keeps every RK4 step's 4 stage inputs (width × m float32 each) until the backward pass.
      const tape = 4 * RK4.c.length * o.odeWidth * m * o.odeSteps;
      if (o.odeGradient === 'unrolled' && o.solver === 'rk4' && tape > totalmem() / 2) {
        throw new DataError(
          `--ode-steps ${o.odeSteps}: the unrolled gradient stores the 4 stages of every RK4 step, about ${gb(tape)} a batch (estimated), more than half of this machine's ${gb(totalmem())}; use fewer --ode-steps or --ode-gradient adjoint`,
        );
      }
      return new OdeLearner({
        width: o.odeWidth,
        hidden: o.odeHidden,
        solver: o.solver,
        steps: o.odeSteps,
        rtol: o.rtol,
        atol: o.atol,
        time: o.odeTime,
        gradient: o.odeGradient,
        lr: o.odeLr,
        weightDecay: o.odeWeightDecay,
        inputDropout: o.odeInputDropout,
        epochs: o.odeEpochs,
        batchSize: o.odeBatchSize,
      });
    },
  },
};

/** What runs without --learners: the energy-based model and the neural ODE take minutes more, so they run when named. */
const DEFAULT_LEARNERS: LearnerName[] = ['sgd', 'ga', 'ntk'];

export function learnersCommand(): Command {
  const cmd = new Command('learners').description('fit several learners (SGD with backprop, a genetic algorithm, the neural tangent kernel) on the same data and compare what each costs and reaches');
  addDataOptions(cmd);
  addNetworkOptions(cmd, 'none: 784-10; the ntk learner then takes 2 hidden layers');
  const known = Object.keys(LEARNER_REGISTRY);
  cmd.addOption(
    new Option('--learners <list>', `learners to run, in order (${known.join(', ')}; rbm and ode only when named)`)
      .argParser((v: string) => {
        const xs = v.split(',').map((s) => s.trim());
        for (const x of xs) if (!known.includes(x)) throw new InvalidArgumentError(`"${x}" is not a learner (${known.join(', ')}).`);
        if (new Set(xs).size !== xs.length) throw new InvalidArgumentError('name each learner once.');
        return xs as LearnerName[];
      })
      .default(DEFAULT_LEARNERS, DEFAULT_LEARNERS.join(',')),
  );
  cmd
    .option('--seconds <s>', 'wall-clock budget of each learner', positiveNumber)
    .option('--seed <n>', 'seed of the weights, batches and populations (and of the --validation split)', nonNegativeInt, 1)
    .option('--seeds <k>', "run each learner with seeds --seed … --seed + k − 1 and give mean ± standard deviation (the curves are --seed's)", positiveInt, 1)
    .option('--validation <n>', 'hold out n training examples (or a fraction < 1): the curves and the work ratio are measured on them, the test set once at the end', positiveNumber)
    .option('--report <file.html>', 'write a self-contained HTML report with the charts')
    .option('--json', 'print every number as JSON on stdout', false);
  addQuietOption(cmd);
  for (const e of Object.values(LEARNER_REGISTRY)) e.addOptions(cmd);
  addBackendOption(cmd);
  cmd.addHelpText(
    'after',
    examples([
      ['SGD, a genetic algorithm and the NTK on the embedded digits, with an HTML report (a minute or two)', 'backprop learners --report learners.html'],
      ['a quick look: 1,000 examples, at most 5 seconds per learner', 'backprop learners --limit 1000 --seconds 5'],
      ['the GA against SGD with a larger population, every number as JSON', 'backprop learners --learners sgd,ga --population 100 --generations 200 --json'],
    ]),
  );
  return cmd.action(async (opts: LearnersOptions) => {
    refuseIdleFlags(cmd, opts.learners);
    refuseUnusedFlags(opts, (key) => cmd.getOptionValueSource(key) === 'cli');
    process.exitCode = await runLearners(opts, (key) => cmd.getOptionValueSource(key) === 'cli');
  });
}

/**
 * A learner's own flag (its help text starts with "name:") given on the
 * command line while --learners does not run that learner would be ignored
 * silently: refuse it instead, before any work.
 */
function refuseIdleFlags(cmd: Command, running: LearnerName[]): void {
  for (const o of cmd.options) {
    const owner = /^(\w+): /.exec(o.description)?.[1] as LearnerName | undefined;
    if (!owner || !(owner in LEARNER_REGISTRY) || running.includes(owner)) continue;
    if (cmd.getOptionValueSource(o.attributeName()) === 'cli') {
      throw new UsageError(`${o.long} is an option of the ${owner} learner, which --learners ${running.join(',')} does not run (add ${owner} to --learners)`);
    }
  }
}

/**
 * Shared flags that no running learner reads (the network flags mean nothing
 * to the RBM and the ODE, --init and --cost nothing to the NTK, the solver's
 * tolerances nothing to RK4, --ode-steps nothing to dopri5) would be ignored
 * silently: refuse them, one line, before any work.
 */
export function refuseUnusedFlags(opts: Pick<LearnersOptions, 'learners' | 'solver'>, given: (key: string) => boolean): void {
  const run = new Set(opts.learners);
  const users: [string, string, boolean][] = [
    ['hidden', '--hidden', run.has('sgd') || run.has('ga') || run.has('ntk')],
    ['layers', '--layers', run.has('sgd') || run.has('ga') || run.has('ntk')],
    ['activation', '--activation', run.has('sgd') || run.has('ga') || run.has('ntk')],
    ['outputActivation', '--output-activation', run.has('sgd') || run.has('ga')],
    ['init', '--init', run.has('sgd') || run.has('ga')],
    ['cost', '--cost', run.has('sgd') || run.has('ga')],
    ['rtol', '--rtol', run.has('ode') && opts.solver === 'dopri5'],
    ['atol', '--atol', run.has('ode') && opts.solver === 'dopri5'],
    ['odeSteps', '--ode-steps', run.has('ode') && opts.solver === 'rk4'],
  ];
  for (const [key, flag, used] of users) {
    if (!given(key) || used) continue;
    const why =
      key === 'rtol' || key === 'atol'
        ? `is a tolerance of --solver dopri5; --solver ${opts.solver} takes fixed steps (--ode-steps)`
        : key === 'odeSteps'
          ? `sets the steps of --solver rk4; --solver ${opts.solver} chooses its own (--rtol, --atol)`
          : `is read by none of --learners ${opts.learners.join(',')}`;
    throw new UsageError(`${flag} ${why}`);
  }
}

async function runLearners(opts: LearnersOptions, given: (key: string) => boolean): Promise<number> {
  // SIGINT (Ctrl-C), SIGTERM (kill, a scheduler) and SIGHUP (the terminal closed) stop the running
  // learner at its next step; what ran is still printed and written, and the exit code is 128 + the signal's number.
  const stops = watchStopSignals();
  try {
    return await learnersSession(opts, given, stops);
  } finally {
    stops.release();
  }
}

/** The data, the learners (built and checked before any runs) and the kernels of a session, with its heading printed. */
async function prepareSession(opts: LearnersOptions, given: (key: string) => boolean, out: Output) {
  claimOutputFiles([['--report', opts.report], ...opts.learners.flatMap((name) => LEARNER_REGISTRY[name]!.outputFiles?.(opts) ?? [])]);
  const ds = loadData(opts);
  const labels = trainingLabelProblem(ds, !opts.layers);
  if (labels) throw new DataError(labels);
  const arch = architecture(opts, ds.train.dim, ds.classes, [], ds.shape);
  const setup: LearnerSetup = {
    arch,
    archGiven: Boolean(opts.layers || opts.hidden),
    init: opts.init ?? defaultInit(arch.sizes.length > 2 ? arch.activation : 'linear'),
    classes: ds.classes,
    trainCount: ds.train.count,
    inputs: ds.train.dim,
    testCount: Math.max(ds.test.count, ds.validation?.count ?? 0),
    trainLabels: ds.train.labels,
    given,
  };
  // Every learner is built (its flags checked, its memory estimated) before any runs: a bad flag costs no work.
  const learners = opts.learners.map((name) => LEARNER_REGISTRY[name]!.create(opts, setup));
  const provider = await providerForDtype(opts, 'float32', out);
  const k = provider.kernels;
  const heading = `${ds.name}: ${ds.train.count} train${ds.validation ? ` / ${ds.validation.count} validation` : ''} / ${ds.test.count} test · seed ${opts.seed} · ${k.name} kernels${opts.seconds ? ` · ≤ ${opts.seconds} s each` : ''}`;
  out.note(style.bold('backprop learners') + ' ' + heading);
  for (const l of learners) out.note(style.dim(`  ${l.name.padEnd(4)} ${l.describe()}`));
  return { ds, learners, provider, heading };
}

async function learnersSession(opts: LearnersOptions, given: (key: string) => boolean, stops: SignalWatch): Promise<number> {
  const out = new Output(opts.json, opts.quiet);
  const { ds, learners, provider, heading } = await prepareSession(opts, given, out);
  const k = provider.kernels;
  await stops.settle(); // a signal while the data loaded
  if (stops.signal) throw new InterruptedError(stops.signal, 'before any learner ran: nothing was run, so no table or report was written');
  const runs: StudyRun[] = [];
  const figures: Figure[] = [];
  const failures: string[] = []; // outputs that could not be written: reported after every other output
  for (const l of learners) {
    if (stops.signal) break;
    const run = await runLearner(l, ds, k, opts, stops, out);
    if (!run) continue;
    figures.push(...(LEARNER_REGISTRY[l.name]!.finish?.(l, ds, k, opts, (m) => failures.push(m)) ?? []));
    runs.push(run);
    out.note(style.dim(`  ${l.name} done: ${doneLine(run, ds.validation !== undefined)}`));
  }
  const interrupted = stops.signal;
  if (interrupted) out.line(style.warn(`interrupted${interrupted === 'SIGINT' ? '' : ` by ${interrupted}`}: the table shows the learners that ran, as far as they got`));
  printTable(out, runs, ds, opts);
  // The ratio compares the curves: with --validation, on the validation examples.
  const ratio = workRatio(runs.map((r) => ({ ...r, testAccuracy: r.validationAccuracy ?? r.testAccuracy })));
  if (ratio) {
    out.line('');
    out.line(ratio.text);
  }
  let report = opts.report;
  if (opts.report) {
    const html = await learnersReport(runs, 'backprop learners', `backprop learners ${heading}`, ratio ? [ratio.text] : [], figures);
    const written = writeOrRescue(opts.report, '--report', 'the report was', html, (m) => failures.push(m));
    if (written === opts.report) out.line(`report written to ${shellArg(opts.report)}`);
    report = written;
  }
  const { json: _json, quiet: _quiet, report: _report, ...options } = opts; // how and where the results are shown does not change them
  out.result({
    command: 'learners',
    data: ds.name,
    train: ds.train.count,
    test: ds.test.count,
    validation: ds.validation?.count ?? null,
    seed: opts.seed,
    backend: k.name,
    budgetSeconds: opts.seconds ?? null,
    learners: runs,
    workRatio: ratio?.value ?? null,
    interrupted: stops.signal !== undefined,
    signal: stops.signal ?? null,
    report,
    ...jsonProvenance(provenance(provider, 'float32', opts.seed, options)),
  });
  await stops.settle(); // one that came while the report was written is still counted, not lost with the handlers
  const diverged = runs.flatMap((r) => r.diverged ?? []);
  if (diverged.length) throw new RunFailedError([...diverged, ...failures].join('; ')); // after every output, as a write's failure
  if (failures.length) throw new WriteFailedError(failures.join('; ')); // after the JSON: the numbers are on stdout whatever became of the files
  return stops.signal ? signalExitCode(stops.signal) : EXIT.ok;
}

/**
 * Fits one learner with every seed of --seeds (--seed last, so that its
 * files and figures are --seed's), its progress on the terminal; undefined
 * (and a note) when it stopped before its first measurement.
 */
async function runLearner(l: Learner, ds: Dataset, k: Kernels, opts: LearnersOptions, stops: SignalWatch, out: Output): Promise<StudyRun | undefined> {
  const shouldStop = () => stops.signal !== undefined;
  let phase = { unit: '', since: 0 }, // the unit of the phase running (the NTK: kernel rows, solve, test rows) and its start, in wall seconds
    lastWall = 0;
  const diverged: { seed: number; why?: string }[] = []; // the seeds whose fit left a non-finite parameter or stopped itself on a non-finite value
  const fitSeed = (seed: number) =>
    fitOrFail(l, ds, diverged, {
      kernels: k,
      seed,
      budget: { seconds: opts.seconds },
      test: ds.validation ?? ds.test, // with --validation, the curves (every number a choice is made on) never see the test set
      shouldStop,
      onProgress: (p) => {
        if (p.wallSeconds < lastWall)
          phase = { unit: p.unit, since: 0 }; // the next seed's fit
        else if (p.unit !== phase.unit) phase = { unit: p.unit, since: phase.unit ? lastWall : 0 }; // a new phase: its own pace and ETA
        lastWall = p.wallSeconds;
        if (out.interactive) out.redraw(progressLine(seed === opts.seed ? l.name : `${l.name} seed ${seed}`, p, phase.since).slice(0, process.stderr.columns || 80));
      },
    });
  const others = await fitOtherSeeds(opts.seed, opts.seeds, shouldStop, fitSeed, l, ds);
  const r = await fitSeed(opts.seed);
  if (out.interactive) out.clearRedraw();
  await stops.settle(); // a signal that came as the learner returned is counted here
  const last = r.trace[r.trace.length - 1];
  if (!last) {
    out.note(style.dim(`  ${l.name} stopped before its first measurement: no row`));
    return undefined;
  }
  const run = studyRun(l, ds, r, last, { seed: opts.seed, count: opts.seeds, others });
  return diverged.length ? { ...run, diverged: divergedMessage(l.name, diverged, opts.seeds > 1) } : run;
}

/** The flag to turn down when a learner's parameters blow up. */
const STEP_FLAG: Record<string, string> = { sgd: '--lr', ga: '--sigma', ntk: '--ridge (raise it)', rbm: '--rbm-lr', ode: '--ode-lr' };

/** `the rbm learner diverged: …`: its accuracy (one class everywhere) is no result. */
function divergedMessage(name: string, seeds: { seed: number; why?: string }[], several: boolean): string {
  const which = several ? ` with --seed ${seeds.map((s) => s.seed).join(', ')}` : '';
  const why = seeds[0].why; // the fit's own account (sgd: train's diagnosis), of the first seed that diverged
  if (why) return `the ${name} learner diverged${which}${several ? ` (--seed ${seeds[0].seed})` : ''} ${why}; its accuracy is no result`;
  return `the ${name} learner diverged${which}: its parameters became NaN or infinite, so its accuracy (one class predicted everywhere) is no result; try a smaller ${STEP_FLAG[name]}`;
}

/** `validation 91.20%, test 90.80% in 1.2s (1.5s with the test evaluations) · key value, …`: a learner's line when it is done. */
function doneLine(r: StudyRun, validation: boolean): string {
  const details = Object.entries(r.details)
    .map(([key, v]) => `${key} ${typeof v === 'number' ? +v.toPrecision(4) : v}`)
    .join(', ');
  return `${validation ? `validation ${percent(r.validationAccuracy!)}, test ` : ''}${percent(r.testAccuracy)} in ${seconds(r.seconds)} (${seconds(r.wallSeconds)} with the test evaluations)${details ? ' · ' + details : ''}`;
}

/** The table of the learners' rows, its legend, and each one's accuracy against time. */
function printTable(out: Output, runs: StudyRun[], ds: Dataset, opts: LearnersOptions): void {
  out.line('');
  out.line(
    table(
      ['learner', ...(ds.validation ? ['val acc'] : []), 'test acc', 'wall time', 'train time', 'work (ex-fwd)', 'GFLOP', 'params updated', 'peak memory'],
      runs.map((r) => [
        r.name,
        ...(r.validationAccuracy !== null
          ? [r.validationAccuracySd !== undefined ? `${percent(r.validationAccuracyMean!)} ± ${(100 * r.validationAccuracySd).toFixed(2)}` : percent(r.validationAccuracy)]
          : []),
        r.diverged ? 'diverged' : r.testAccuracySd !== undefined ? `${percent(r.testAccuracyMean!)} ± ${(100 * r.testAccuracySd).toFixed(2)}` : percent(r.testAccuracy),
        seconds(r.wallSeconds),
        seconds(r.seconds),
        r.work.toExponential(2),
        (r.flops / 1e9).toFixed(1),
        r.parametersUpdated.toLocaleString('en-US'),
        megabytes(r.peakBytes),
      ]),
    ),
  );
  out.note(
    style.dim(
      "work: example-forwards, one example through the model once (an SGD step on m examples counts 2m, a GA generation population × batch, an NTK kernel entry 1, its lower triangle only); wall time includes the test evaluations that draw the curves, train time leaves them out; peak memory: the learner's own large buffers" +
        (opts.seeds > 1
          ? `; accuracy: mean ± standard deviation (percentage points) over seeds ${opts.seed}–${opts.seed + opts.seeds - 1}, the other columns and the curves are seed ${opts.seed}'s`
          : '') +
        (ds.validation ? `; with --validation the curves and the work ratio are on the ${ds.validation.count} validation examples, and the test set is evaluated once, at the end` : ''),
    ),
  );
  out.line('');
  out.line(style.bold(`${ds.validation ? 'validation' : 'test'} accuracy against time`) + style.dim(' (each from its start to its end, 0–100%)'));
  for (const r of runs) out.line(`  ${r.name.padEnd(4)} ${sparkline(resample(r.trace, 32), { lo: 0, hi: 1 })}  ${percent(r.validationAccuracy ?? r.testAccuracy)} at ${seconds(r.seconds)}`);
}

/** fit(), with a solver that cannot meet its tolerances reported as a failed run (one line, exit 1), not an internal error. */
async function fitOrFail(l: Learner, ds: Dataset, diverged: { seed: number; why?: string }[], ctx: FitContext): Promise<FitResult> {
  try {
    const r = await l.fit(ds, ctx);
    if (r.trace.length && (r.diverged !== undefined || !l.finite())) diverged.push({ seed: ctx.seed, why: r.diverged });
    return r;
  } catch (e) {
    if (e instanceof SolverError) throw new RunFailedError(`the ${l.name} learner stopped: ${e.message}; loosen --rtol/--atol or use --solver rk4`);
    if (e instanceof NotPositiveDefiniteError)
      throw new RunFailedError(`the ${l.name} learner stopped: its kernel matrix plus the ridge is singular (${e.message}); raise --ridge, or check that the training inputs are not all zero`);
    throw e;
  }
}

/** `  ga: 45.00% · 120/3000 generations · 1.3s, ETA 31s`: the learner's n/total with an ETA from its rate so far. */
export function progressLine(name: string, p: Progress, since = 0): string {
  const acc = p.testAccuracy === undefined ? '' : `${percent(p.testAccuracy)} · `;
  const eta = p.done > 0 && p.done < p.total ? `, ETA ${clock(((p.wallSeconds - since) * (p.total - p.done)) / p.done)}` : ''; // at the pace of this phase, from `since`
  return `  ${name}: ${acc}${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} ${p.unit} · ${seconds(p.wallSeconds)}${eta}`;
}

function megabytes(b: number): string {
  return b >= 1e9 ? gb(b) : `${(b / 1e6).toFixed(1)} MB`; // decimal units, as every memory refusal prints them
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
export function workRatio(
  runs: { name: string; testAccuracy: number; work: number; seconds: number; trace: TracePoint[] }[],
): { text: string; value: { target: number; ga: number; sgd: number | null; ratio: number | null; sgdSeconds: number | null } } | undefined {
  const ga = runs.find((r) => r.name === 'ga'),
    sgd = runs.find((r) => r.name === 'sgd');
  if (!ga || !sgd) return undefined;
  const target = ga.testAccuracy;
  const hit = sgd.trace.find((p) => p.testAccuracy >= target);
  if (!hit) {
    return {
      text: `SGD did not reach GA's ${percent(target)} within its budget (it ended at ${percent(sgd.testAccuracy)} after ${sgd.work.toExponential(2)} example-forwards; GA used ${ga.work.toExponential(2)})`,
      value: { target, ga: ga.work, sgd: null, ratio: null, sgdSeconds: null },
    };
  }
  const ratio = ga.work / Math.max(hit.work, 1);
  return {
    text: `work to reach GA's final ${percent(target)}: GA ${ga.work.toExponential(2)} example-forwards in ${seconds(ga.seconds)}, SGD ${hit.work.toExponential(2)} in ${seconds(hit.seconds)} — GA needed ${ratio >= 100 ? Math.round(ratio).toLocaleString('en-US') : ratio.toPrecision(3)}× the work of backprop`,
    value: { target, ga: ga.work, sgd: hit.work, ratio, sgdSeconds: hit.seconds },
  };
}
