import { loadData } from '../data/load.js';
import { Command, InvalidArgumentError } from 'commander';
import { jsKernels, type BackendName, type Kernels } from '../linalg/index.js';
import { jsonProvenance, provenance } from '../io/provenance.js';
import { Network, type InitName } from '../nn/network.js';
import { DataError, trainingLabelProblem, type Dataset } from '../data/dataset.js';
import { loadModel } from '../io/safetensors.js';
import { bugNoOp, BUGS, type BugName } from '../check/bugs.js';
import { GRADCHECK_DEFAULTS, gradcheck, timeBackpropVsFiniteDifferences, TOLERANCES, type GradcheckReport, type MethodResult, type TensorReport, type Timing } from '../check/gradcheck.js';
import { trainParity, type ParityReport } from '../check/parity.js';
import { checkBatch, checkNetwork, failedChecks, offKinks } from '../check/subject.js';
import { ADAM_LR, RULES, type OptimizerName } from '../train/optimizers.js';
import { loadTf } from '../check/tfjs-oracle.js';
import { EXIT, UsageError } from './errors.js';
import { Output, style } from './output.js';
import {
  addBackendOption,
  addDataOptions,
  addNetworkOptions,
  architecture,
  checkLayerMemory,
  choiceOption,
  examples,
  defaultInit,
  kernels,
  nonNegativeInt,
  addOptimizerOptions,
  optimizerConfig,
  type OptimizerOptions,
  oneOf,
  positiveInt,
  positiveNumber,
  type DataOptions,
  type NetworkOptions,
} from './options.js';
import { checkNetworkSize } from '../data/limits.js';

const DEFAULT_HIDDEN = [30, 30];

/** η of --train-steps for sgd, momentum and nesterov; adam and adamw take train's ADAM_LR. */
const GRADCHECK_LR = 0.1;

interface GradcheckCliOptions extends DataOptions, NetworkOptions, Omit<OptimizerOptions, 'eps'> {
  model?: string;
  batchSize: number;
  eps: number;
  coords: number;
  rtol: number;
  atol: number;
  tfTol: number;
  tfjs: boolean;
  trainSteps?: number;
  lr?: number;
  bug?: BugName;
  json: boolean;
  backend: BackendName;
}

export function gradcheckCommand(): Command {
  const cmd = new Command('gradcheck').description('check the hand-written gradients against finite differences, the computation-graph engine (float64) and TensorFlow.js autodiff (float32)');
  addNetworkOptions(cmd, DEFAULT_HIDDEN.join(','));
  cmd.option('--model <file>', 'check a saved model instead of a new network');
  addDataOptions(cmd);
  cmd
    .option('--batch-size <m>', 'examples in the batch whose cost is differentiated', positiveInt, 10)
    .option('--seed <n>', 'seed for the network, the batch and the sampled coordinates', nonNegativeInt, 1)
    .option('--eps <h>', 'step of the centered differences (C(θ+h) − C(θ−h)) / 2h, at least 1e-10', differenceStep, GRADCHECK_DEFAULTS.eps)
    .option('--coords <n>', 'check tensors of ≤ n entries fully, larger ones at n random entries', positiveInt, GRADCHECK_DEFAULTS.coords)
    .option('--rtol <r>', 'finite differences: relative tolerance of |Δ| ≤ atol + rtol·|g|', positiveNumber, TOLERANCES.finiteDifferences.rtol)
    .option('--atol <a>', 'finite differences: absolute tolerance', positiveNumber, TOLERANCES.finiteDifferences.atol)
    .option('--tf-tol <t>', 'tfjs (float32): largest tensor-level relative error ‖Δ‖/‖g‖', positiveNumber, TOLERANCES.tfjs.tensorRel)
    .option('--no-tfjs', 'skip the TensorFlow.js oracle')
    .option(
      '--train-steps <k>',
      'also run k steps of --optimizer here and in tfjs (tf.train.sgd, tf.train.momentum, tf.train.adam; adamw by its definition) from the same weights and compare',
      positiveInt,
    )
    .option('--lr <eta>', `learning rate of --train-steps (default: ${GRADCHECK_LR}; ${ADAM_LR} for adam, adamw and amsgrad, and each rule's own as train)`, positiveNumber);
  addOptimizerOptions(cmd, false); // --eps is the finite-difference step here: adam's ε is 1e-8
  cmd
    .addOption(choiceOption('--bug <name>', 'inject a classic backprop bug to see the check fail', Object.keys(BUGS), oneOf(Object.keys(BUGS) as BugName[])))
    .option('--json', 'print one JSON result on stdout', false);
  addBackendOption(cmd);
  cmd.addHelpText(
    'after',
    examples([
      ['a new 784-30-30-10 network against finite differences, the graph engine and TensorFlow.js', 'backprop gradcheck'],
      ['see the check fail: backprop without the f′(z) factor of δ', 'backprop gradcheck --bug drop-fprime'],
      ['a saved model, and 20 Adam steps here and in tf.train.adam from the same weights compared', 'backprop gradcheck --model model.safetensors --train-steps 20 --optimizer adam --lr 0.001'],
    ]),
  );
  return cmd.action(async (opts: GradcheckCliOptions) => {
    process.exitCode = await runGradcheck(opts);
  });
}

/** How the parity line names each optimizer, here and in tfjs. */
const TF_OPTIMIZER: Record<OptimizerName, [string, string]> = {
  sgd: ['SGD', 'tf.train.sgd'],
  momentum: ['momentum', 'tf.train.momentum'],
  nesterov: ['Nesterov', 'tf.train.momentum (useNesterov)'],
  adam: ['Adam', 'tf.train.adam'],
  adamw: ['AdamW', 'tf.train.adam and the decoupled decay'],
  amsgrad: ['AMSGrad', 'its definition in tfjs ops'],
  rmsprop: ['RMSprop', 'tf.train.rmsprop'],
  adagrad: ['Adagrad', 'tf.train.adagrad'],
};

const sci = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : String(x));
const num = (x: number) => (x < 1e-3 ? x.toExponential() : String(x));
const verdict = (pass: boolean) => (pass ? style.good('PASS') : style.bad('FAIL'));

/**
 * --eps: below 1e-10 the rounding of C(θ ± h) (about 2⁻⁵² C / h) swamps the
 * difference, and at 1e-300 θ ± h is θ itself: every difference is 0 and
 * correct gradients fail.
 */
function differenceStep(v: string): number {
  const h = positiveNumber(v);
  if (h < 1e-10) throw new InvalidArgumentError(`expected a step of at least 1e-10: below it the rounding of C(θ ± h) swamps the difference (the default is ${GRADCHECK_DEFAULTS.eps}).`);
  return h;
}

/** The network to check: --model's, or a new float64 one of --layers/--hidden (init undefined with --model); `drawn` conv biases moved off ReLU's kink. */
function subjectNetwork(opts: GradcheckCliOptions, ds: Dataset): { net: Network; init?: InitName; drawn: number } {
  if (opts.model) {
    if (opts.layers || opts.hidden) throw new UsageError('--model gives the architecture: drop --layers/--hidden');
    const net = loadModel(opts.model).network;
    if (net.sizes[0] !== ds.train.dim) {
      throw new UsageError(`--model ${opts.model} expects ${net.sizes[0]} inputs but ${ds.name} has ${ds.train.dim} values per example`);
    }
    return { net, drawn: offKinks(net, opts.seed) };
  }
  const arch = architecture(opts, ds.train.dim, ds.classes, DEFAULT_HIDDEN, ds.shape);
  checkNetworkSize(arch.sizes, Math.min(opts.batchSize, ds.train.count), opts.layers ? '--layers' : '--hidden', 8);
  checkLayerMemory(arch, Math.min(opts.batchSize, ds.train.count), opts.layers ? '--layers' : '--hidden', 8);
  const init = opts.init ?? defaultInit(arch.activation);
  return { net: checkNetwork(arch, init, opts.seed), init, drawn: 0 };
}

/** subjectNetwork, with the batch it can be checked on: one larger than the data, or of one example under batch normalisation, is refused. */
function checkedSubject(opts: GradcheckCliOptions, ds: Dataset, out: Output): ReturnType<typeof subjectNetwork> {
  const subject = subjectNetwork(opts, ds);
  const { net, drawn } = subject;
  if (opts.batchSize > ds.train.count) throw new UsageError(`--batch-size ${opts.batchSize} is larger than the ${ds.train.count} training examples`);
  // A normalised layer takes its statistics over m examples × P positions (P = 1 for a dense layer): one value is its own mean.
  if (opts.batchSize === 1 && net.norm.some((n, l) => n && (net.geometry[l]?.P ?? 1) === 1))
    throw new UsageError(`--batch-size 1 with batch normalisation of a dense layer: a batch of one is its own mean, so every normalised value is 0 (Z = β, at ReLU's kink); give at least 2`);
  if (drawn)
    out.note(
      `${drawn} conv bias${drawn === 1 ? '' : 'es'} of the model ${drawn === 1 ? 'was' : 'were'} exactly 0 (never trained): drawn from N(0, 0.1²) as for a new network, so that no blank patch sits at ReLU's kink`,
    );
  return subject;
}

async function runGradcheck(opts: GradcheckCliOptions): Promise<number> {
  const out = new Output(opts.json);
  const ds = loadData(opts);
  // As train does: labels with gaps would size the output layer by the largest label (a model's own output count decides with --model).
  // (Only the gaps: a check of gradients on one class is still a check.)
  const labels = opts.model || opts.layers || !ds.missingClasses?.length ? undefined : trainingLabelProblem(ds, true);
  if (labels) throw new DataError(labels);
  const { net, init, drawn } = checkedSubject(opts, ds, out);
  const { x, y } = checkBatch(ds.train, net.sizes[net.depth], opts.batchSize, opts.seed);

  if (opts.bug === 'flip-kernel' && !net.arch.layers) throw new UsageError('--bug flip-kernel flips conv kernels: give conv layers, e.g. --hidden conv5x5x4,pool2,30');
  const noOp = opts.bug && bugNoOp(opts.bug, net, x.rows);
  if (noOp) throw new UsageError(`--bug ${opts.bug} would change nothing here: ${noOp}`);
  const method = opts.bug ? BUGS[opts.bug] : undefined;
  const optimizer = optimizerConfig({ ...opts, eps: undefined });
  const lr = opts.lr ?? RULES[optimizer.name].lr ?? GRADCHECK_LR;
  const report = await gradcheck(net, x, y, {
    eps: opts.eps,
    coords: opts.coords,
    rtol: opts.rtol,
    atol: opts.atol,
    tfTensorRel: opts.tfTol,
    seed: opts.seed,
    tfjs: opts.tfjs,
    method,
  });
  const tfBackend = opts.tfjs ? (await loadTf()).backend : undefined;
  const timing = timeBackpropVsFiniteDifferences(net, x, y);
  const parityOn = async (k: Kernels, steps: number) => ({
    ...(await trainParity(net, ds.train, { steps, batchSize: opts.batchSize, lr, seed: opts.seed, optimizer }, k, method)),
    kernels: k.name,
  });
  const parity = opts.trainSteps ? await parityOn(await kernels(opts), opts.trainSteps) : undefined;
  const pass = report.pass && (parity?.pass ?? true);
  const heading = `${x.rows} ${ds.name} examples · P = ${net.parameterCount.toLocaleString('en-US')} parameters · mean cost ${report.loss.toFixed(6)}`;
  printGradcheck(out, opts, { net, init, heading, tfBackend, report, timing, parity, pass });
  out.result({
    command: 'gradcheck',
    architecture: { ...net.arch, init, parameters: net.parameterCount },
    model: opts.model,
    convBiasesDrawn: opts.model ? drawn : undefined, // a saved model's conv biases that were exactly 0, drawn off ReLU's kink
    data: ds.name,
    batch: x.rows,
    loss: report.loss,
    eps: opts.eps,
    coords: opts.coords,
    bug: opts.bug,
    tolerances: { finiteDifferences: { rtol: opts.rtol, atol: opts.atol }, tfjs: { tensorRel: opts.tfTol }, graph: TOLERANCES.graph },
    tfjsBackend: tfBackend,
    tensors: report.tensors,
    timing,
    trainParity: parity,
    pass,
    // The gradients are computed in float64 on the js loops whatever --backend says (which runs the training parity, named in trainParity.kernels).
    ...jsonProvenance(provenance({ name: 'js', kernels: jsKernels }, 'float64', opts.seed, { ...opts, json: undefined })),
  });
  return pass ? EXIT.ok : EXIT.failed;
}

/** What the check found, in words: the heading, each tensor's table, the timing, the training parity and the verdict. */
function printGradcheck(
  out: Output,
  opts: GradcheckCliOptions,
  r: { net: Network; init?: InitName; heading: string; tfBackend?: string; report: GradcheckReport; timing: Timing; parity?: ParityReport; pass: boolean },
): void {
  const a = r.net.arch;
  out.line(
    style.bold('backprop gradcheck') +
      ` ${r.net.sizes.join('-')} ${a.activation}→${a.outputActivation}, ${a.cost}` +
      (r.init ? `, init ${r.init}` : `, ${opts.model}`) +
      ` · ${r.heading}` +
      (opts.bug ? style.warn(` · injected bug: ${opts.bug}`) : ''),
  );
  out.line(
    style.dim(
      `finite differences: float64, h = ${num(opts.eps)}, PASS when every |Δ| ≤ ${num(opts.atol)} + ${num(opts.rtol)}·|g|` +
        (opts.tfjs ? ` · tfjs autodiff (${r.tfBackend}, float32): PASS when ‖Δ‖/‖g‖ ≤ ${num(opts.tfTol)}` : '') +
        ` · graph: |Δ| ≤ ${num(TOLERANCES.graph.atol)} + ${num(TOLERANCES.graph.rtol)}·|g|` +
        ` · Δ = method − backprop`,
    ),
  );
  for (const t of r.report.tensors) printTensor(out, t, opts);
  out.line('');
  const timing = r.timing;
  out.line(
    `why backprop: one forward+backward pass takes ${ms(timing.backprop)}; finite differences need 2P = ${(2 * timing.parameters).toLocaleString('en-US')} forward passes` +
      ` × ${ms(timing.forward)} = ${secs(timing.finiteDifferencesAll)} — backprop is ${Math.round(timing.speedup).toLocaleString('en-US')}× faster`,
  );
  const parity = r.parity;
  if (parity) {
    out.line(
      `training parity: ${parity.steps} ${TF_OPTIMIZER[parity.optimizer][0]} steps (m = ${parity.batchSize}, η = ${parity.lr}) here and with ${TF_OPTIMIZER[parity.optimizer][1]} from the same weights:` +
        ` max |ΔW| = ${sci(parity.maxWeightDiff)}, ‖ΔW‖/‖update‖ = ${sci(parity.updateRel)} (PASS when ${parity.bound}) ${verdict(parity.pass)}`,
    );
  }
  out.line(r.pass ? style.good('PASS: the hand-written gradients agree with every oracle') : style.bad(`FAIL: ${failedChecks(r.report, parity).join(', ')}`));
}

function printTensor(out: Output, t: TensorReport, opts: GradcheckCliOptions): void {
  const fd = t.finiteDifferences;
  out.line('');
  out.line(style.bold(t.name) + ` ${t.shape.join('×')} · ${t.size.toLocaleString('en-US')} entries` + (fd.checked < t.size ? ` · finite differences at ${fd.checked} random entries` : ''));
  out.line(style.dim(`  ${'method'.padEnd(30)}${'max |Δ|'.padStart(10)}${'max rel'.padStart(10)}${'‖Δ‖/‖g‖'.padStart(10)}   result`));
  const row = (name: string, r: MethodResult) => out.line(`  ${name.padEnd(30)}${sci(r.maxAbs).padStart(10)}${sci(r.maxRel).padStart(10)}${sci(r.tensorRel).padStart(10)}   ${verdict(r.pass)}`);
  row('finite differences (float64)', fd);
  if (t.tfjs) row('tfjs autodiff (float32)', t.tfjs);
  else if (!opts.tfjs) out.line(style.dim(`  ${'tfjs autodiff (float32)'.padEnd(30)}skipped (--no-tfjs)`));
  if (t.graph) row('computation graph (float64)', t.graph);
  else out.line(style.dim(`  ${'computation graph (float64)'.padEnd(30)}not built for conv layers or batch normalisation`));
}

function ms(s: number): string {
  return s < 1e-3 ? `${(s * 1e6).toFixed(0)} µs` : `${(s * 1e3).toFixed(2)} ms`;
}

function secs(s: number): string {
  return s < 60 ? `${s.toFixed(2)} s` : `${(s / 60).toFixed(1)} min`;
}
