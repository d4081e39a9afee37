import { InvalidArgumentError, Option, type Command } from 'commander';
import type { DataSelection } from '../data/load.js';
import { activation as activationOf, ACTIVATIONS, HIDDEN_ACTIVATIONS, isActivationName, type ActivationName } from '../nn/activations.js';
import { COST_ALIASES, type CostName } from '../nn/costs.js';
import { convArchitecture, INITS, pairingProblem, type Architecture, type InitName } from '../nn/network.js';
import { BACKENDS, getKernels, type BackendName, type Kernels } from '../linalg/index.js';
import { ADAM_LR, HYPER_PARAMETERS, OPTIMIZER_DEFAULTS, OPTIMIZERS, RULES, type HyperParameter, type OptimizerConfig, type OptimizerName } from '../train/optimizers.js';
import { UsageError } from './errors.js';
import { DataError } from '../data/dataset.js';
import { batchNormLayers, formatLayers, hasConv, layerGeometry, LayerSpecError, parseLayerList, workspaceBytes, type ImageShape, type LayerToken } from '../nn/layers.js';
import { totalmem } from 'node:os';
import { parseAugment, type AugmentConfig } from '../data/augment.js';
import { gb } from '../data/limits.js';
import { decimal } from '../data/csv.js';

// Argument parsers for commander: each throws InvalidArgumentError with what was expected.

export function positiveNumber(v: string): number {
  const x = decimal(v);
  if (!Number.isFinite(x) || x <= 0 || v.trim() === '') throw new InvalidArgumentError('expected a positive number.');
  return x;
}

export function nonNegativeNumber(v: string): number {
  const x = decimal(v);
  if (!Number.isFinite(x) || x < 0 || v.trim() === '') throw new InvalidArgumentError('expected a number ≥ 0.');
  return x;
}

export function positiveInt(v: string): number {
  const x = decimal(v);
  if (!Number.isSafeInteger(x) || x <= 0) throw new InvalidArgumentError('expected a positive integer (at most 2^53 − 1).');
  return x;
}

export function nonNegativeInt(v: string): number {
  const x = decimal(v);
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new InvalidArgumentError('expected an integer from 0 to 4294967295.');
  return x;
}

export function sizeList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  const xs = parts.map(decimal);
  if (parts.some((s) => s === '') || xs.some((x) => !Number.isInteger(x) || x <= 0)) {
    throw new InvalidArgumentError('expected comma-separated positive integers, e.g. 784,30,10.');
  }
  return xs;
}

/**
 * --layers/--hidden: sizes and layer tokens (src/nn/layers.ts): 100,
 * conv5x5x20, conv5x5x20p2, pool2, maxpool2, avgpool2.
 */
export function layerList(v: string): LayerToken[] {
  try {
    return parseLayerList(v);
  } catch (e) {
    if (e instanceof LayerSpecError) throw new InvalidArgumentError(`${e.message}.`);
    throw e;
  }
}

export function activationName(v: string): ActivationName {
  if (!isActivationName(v)) throw new InvalidArgumentError(`expected one of ${ACTIVATIONS.join(', ')}.`);
  return v;
}

export function costName(v: string): CostName {
  const c = COST_ALIASES[v];
  if (!c) throw new InvalidArgumentError(`expected one of quadratic, cross-entropy, log-likelihood.`);
  return c;
}

export function initName(v: string): InitName {
  if (!(INITS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${INITS.join(', ')}.`);
  return v as InitName;
}

export function backendName(v: string): BackendName {
  if (!(BACKENDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${BACKENDS.join(', ')}.`);
  return v as BackendName;
}

/** A parser that accepts one of `values`. */
export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}.`);
    return v as T;
  };
}

/**
 * An option that takes one of a few names: commander lists them in --help
 * (Option.choices); `parse` checks a value (and may map an alias to its name).
 */
export function choiceOption<T>(flags: string, description: string, values: readonly string[], parse: (v: string) => T, defaultValue?: T): Option {
  const o = new Option(flags, description).choices(values).argParser(parse);
  return defaultValue === undefined ? o : o.default(defaultValue);
}

/** Examples for the end of a command's --help (addHelpText('after', …)): what each does, then the command line. */
export function examples(list: [what: string, command: string | string[]][]): string {
  const commands = (c: string | string[]) => [c].flat().map((one) => `  $ ${one}`); // several: one after the other (a run Ctrl-C stops, then its --resume)
  return `\nExamples:\n${list.map(([what, c]) => [`  # ${what}`, ...commands(c)].join('\n')).join('\n')}`;
}

/** --quiet: the result line (and errors) only; no heading, progress or per-epoch lines. */
export function addQuietOption(cmd: Command): Command {
  return cmd.option('-q, --quiet', 'print only the result (and errors): no progress bar, heading or per-epoch lines', false);
}

/** Options that pick and cut the data (train, evaluate, gradcheck): loadData (src/data/load.ts) takes them. */
export type DataOptions = DataSelection;

export function addDataOptions(cmd: Command): Command {
  return cmd
    .option(
      '--data <NAME|DIR>',
      'dataset: embedded (10,000 MNIST digits shipped with the package), a name from `backprop datasets` (mnist, fashion-mnist, kmnist), a directory of MNIST-style IDX files, or a CSV file (label,v1,...,vD)',
      'embedded',
    )
    .option('--limit <n>', 'use only the first n training examples', positiveInt)
    .option('--test-limit <n>', 'use only the first n test examples', positiveInt);
}

/** Network shape flags shared by train and gradcheck. */
export interface NetworkOptions {
  layers?: LayerToken[];
  hidden?: LayerToken[];
  activation: ActivationName;
  outputActivation: ActivationName;
  cost: CostName;
  init?: InitName;
}

export function addNetworkOptions(cmd: Command, defaultHidden: string): Command {
  return cmd
    .option(
      '--layers <sizes>',
      'all layer sizes, input first, e.g. 784,30,10 (must match the data); or conv layers first, then sizes, between the image and the output: conv5x5x20 (5×5 kernels, 20 channels; conv5x5x20p2 pads by 2), pool2 or avgpool2, e.g. conv5x5x20,pool2,100 (also in --hidden); bn after a layer normalises it, e.g. 100,bn (docs/guide/batchnorm.md)',
      layerList,
    )
    .addOption(new Option('--hidden <sizes>', 'hidden layer sizes; input and output come from the data').argParser(layerList).default(undefined, defaultHidden))
    .addOption(choiceOption('--activation <name>', 'hidden activation', HIDDEN_ACTIVATIONS, activationName, 'relu'))
    .addOption(choiceOption('--output-activation <name>', 'output activation', ACTIVATIONS, activationName, 'softmax'))
    .addOption(choiceOption('--cost <name>', 'cost C', COSTS, costName, 'log-likelihood'))
    .addOption(choiceOption('--init <name>', 'weight init: normal is N(0,1) as in network.py', INITS, initName).default(undefined, 'he for relu and leaky-relu, xavier otherwise'));
}

/** The costs by their names in --help (costName also takes aliases such as mse and nll). */
export const COSTS: readonly CostName[] = ['quadratic', 'cross-entropy', 'log-likelihood'];

/**
 * The architecture asked for, checked against the data's input size and
 * classes. A list with conv layers (--layers or --hidden alike) gives the
 * layers between the input image (the data's `image` shape, rows × cols, with
 * inputs / (rows·cols) channels) and the output layer, which has one unit per class.
 */
export function architecture(opts: NetworkOptions, inputs: number, classes: number, defaultHidden: number[], image?: readonly [number, number]): Architecture {
  if (opts.layers && opts.hidden) throw new UsageError('give either --layers or --hidden, not both');
  const flag = opts.layers ? '--layers' : '--hidden';
  const { given, batchNorm } = takeBatchNorm(opts.layers ?? opts.hidden, flag, !!opts.layers);
  if (given && hasConv(given)) return withBatchNorm(checkedConvArchitecture(opts, flag, given, inputs, classes, image), batchNorm, flag);
  let sizes: number[];
  if (opts.layers) {
    sizes = given as number[];
    if (sizes.length < 2) throw new UsageError('--layers needs at least an input and an output size, e.g. 784,10');
    if (sizes[0] !== inputs) throw new UsageError(`--layers starts with ${sizes[0]} inputs but the data has ${inputs} values per example`);
    if (sizes[sizes.length - 1] < classes) {
      throw new UsageError(`--layers ends with ${sizes[sizes.length - 1]} outputs but the data has ${classes} classes`);
    }
  } else {
    sizes = [inputs, ...((given as number[] | undefined) ?? defaultHidden), classes];
  }
  const arch = { sizes, activation: opts.activation, outputActivation: opts.outputActivation, cost: opts.cost };
  const refused = pairingProblem(arch);
  if (refused) throw new UsageError(refused);
  return withBatchNorm(arch, batchNorm, flag);
}

/** The `bn` tokens of --layers/--hidden taken out (batchNormLayers): the rest, and the layers they normalise. */
function takeBatchNorm(tokens: LayerToken[] | undefined, flag: string, layersFlag: boolean): { given?: LayerToken[]; batchNorm: number[] } {
  if (!tokens) return { batchNorm: [] };
  try {
    const { tokens: given, layers } = batchNormLayers(tokens, layersFlag && !hasConv(tokens) ? 0 : 1);
    return { given, batchNorm: layers };
  } catch (e) {
    if (e instanceof LayerSpecError) throw new UsageError(`${flag}: ${e.message}`);
    throw e;
  }
}

/** arch with its batch-normalised layers (absent when none, so files stay as they were); refuses a `bn` on the output layer. */
function withBatchNorm(arch: Architecture, layers: number[], flag: string): Architecture {
  if (layers.length === 0) return arch;
  if (layers[layers.length - 1] >= arch.sizes.length - 1)
    throw new UsageError(`${flag}: "bn" after the output layer: batch normalisation goes on hidden layers (Z → BN → f), the output's Z is the cost's`);
  return { ...arch, batchNorm: layers };
}

function checkedConvArchitecture(opts: NetworkOptions, flag: string, tokens: LayerToken[], inputs: number, classes: number, image?: readonly [number, number]): Architecture {
  if (!image || inputs % (image[0] * image[1]) !== 0) {
    throw new UsageError(`${flag}: conv layers need images, but the data has ${inputs} values per example and no rows × cols shape`);
  }
  const input: ImageShape = [inputs / (image[0] * image[1]), image[0], image[1]];
  try {
    const arch = convArchitecture(tokens, input, classes, { activation: opts.activation, outputActivation: opts.outputActivation, cost: opts.cost });
    const refused = pairingProblem(arch);
    if (refused) throw new UsageError(refused);
    return arch;
  } catch (e) {
    if (e instanceof LayerSpecError) throw new UsageError(`${flag}: ${e.message} (on ${input.join('×')} images)`);
    throw e;
  }
}

/**
 * Refuses, with one line, a network whose training buffers for batches of m
 * (im2col buffers included, src/nn/layers.ts workspaceBytes) would take more
 * than half of this machine's memory.
 */
export function checkLayerMemory(arch: Architecture, m: number, flag: string, bytesPer = 4): void {
  if (!arch.layers || !arch.input) return;
  const { geometry, sizes } = layerGeometry(arch.input, arch.layers);
  const bytes = workspaceBytes(sizes, geometry, m, bytesPer);
  if (bytes > totalmem() / 2 || bytes > Number.MAX_SAFE_INTEGER) {
    throw new DataError(
      `${flag}: a ${formatLayers(arch.layers)} network with batches of ${m} needs about ${gb(bytes)} to train (estimated, im2col buffers included), more than half of this machine's ${gb(totalmem())}; use fewer channels or smaller batches`,
    );
  }
}

export function defaultInit(activation: ActivationName): InitName {
  return activationOf(activation).stalls === 'dies' ? 'he' : 'xavier'; // units that die (the ReLU family) want He's larger variance
}

export function addBackendOption(cmd: Command): Command {
  return cmd.addOption(choiceOption('--backend <name>', 'kernel provider (see `backprop info`)', BACKENDS, backendName, 'auto'));
}

export function kernels(opts: { backend: BackendName }): Promise<Kernels> {
  return getKernels(opts.backend);
}

/** A number in [0, 1): a decay rate such as μ, β₁ or β₂. */
export function unitInterval(v: string): number {
  const x = decimal(v);
  if (!Number.isFinite(x) || x < 0 || x >= 1 || v.trim() === '') throw new InvalidArgumentError('expected a number from 0 up to (not including) 1.');
  return x;
}

/** --augment's list of distortions (data/augment.ts), e.g. shift=2,elastic=34:4. */
export function augmentSpec(v: string): AugmentConfig {
  try {
    return parseAugment(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** --optimizer and its hyper-parameters (train; gradcheck without --eps, which there is the finite-difference step). */
export interface OptimizerOptions {
  optimizer: OptimizerName;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  alpha?: number;
  accumulator?: number;
}

export function addOptimizerOptions(cmd: Command, withEps: boolean): Command {
  const d = OPTIMIZER_DEFAULTS;
  cmd
    .addOption(
      choiceOption(
        '--optimizer <name>',
        `update rule: sgd, momentum (heavy ball), nesterov, adam, adamw (decoupled weight decay), amsgrad, rmsprop or adagrad; --lr defaults to ${ADAM_LR} for adam, adamw and amsgrad, ${RULES.rmsprop.lr} for rmsprop, ${RULES.adagrad.lr} for adagrad`,
        OPTIMIZERS,
        oneOf(OPTIMIZERS),
        'sgd',
      ),
    )
    .addOption(new Option('--momentum <mu>', HYPER_PARAMETERS.momentum.help).argParser(unitInterval).default(undefined, String(d.momentum)))
    .addOption(new Option('--beta1 <b>', HYPER_PARAMETERS.beta1.help).argParser(unitInterval).default(undefined, String(d.beta1)))
    .addOption(new Option('--beta2 <b>', HYPER_PARAMETERS.beta2.help).argParser(unitInterval).default(undefined, String(d.beta2)));
  if (withEps) cmd.addOption(new Option('--eps <e>', HYPER_PARAMETERS.eps.help).argParser(positiveNumber).default(undefined, String(d.eps)));
  cmd
    .addOption(new Option('--alpha <a>', HYPER_PARAMETERS.alpha.help).argParser(unitInterval).default(undefined, String(d.alpha)))
    .addOption(new Option('--accumulator <g0>', HYPER_PARAMETERS.accumulator.help).argParser(nonNegativeNumber).default(undefined, String(d.accumulator)));
  return cmd;
}

/** The optimizer asked for; a hyper-parameter given for an optimizer that has none of that name is a usage error. */
export function optimizerConfig(opts: OptimizerOptions): OptimizerConfig {
  const name = opts.optimizer;
  for (const k of Object.keys(HYPER_PARAMETERS) as HyperParameter[]) {
    if (opts[k] !== undefined && !RULES[name].hyper.includes(k))
      throw new UsageError(`--${k} ${opts[k]}: --optimizer ${name} has no such parameter; it belongs to --optimizer ${OPTIMIZERS.filter((o) => RULES[o].hyper.includes(k)).join(' or ')}`);
  }
  const d = OPTIMIZER_DEFAULTS;
  return {
    name,
    momentum: opts.momentum ?? d.momentum,
    beta1: opts.beta1 ?? d.beta1,
    beta2: opts.beta2 ?? d.beta2,
    eps: opts.eps ?? d.eps,
    alpha: opts.alpha ?? d.alpha,
    accumulator: opts.accumulator ?? d.accumulator,
  };
}
