import { Matrix, type DType, type Float } from '../linalg/index.js';
import { activation, type Activation, type ActivationName } from './activations.js';
import { cost, type Cost, type CostName } from './costs.js';
import type { Rng } from '../base/rng.js';
import { formatLayers, layerGeometry, layerSpecs, outputShape, type ConvGeometry, type ImageShape, type LayerSpec, type LayerToken } from './layers.js';

export const INITS = ['normal', 'xavier', 'he'] as const;
export type InitName = (typeof INITS)[number];

/** What a network is, independent of its numbers (stored in model files). */
export interface Architecture {
  /** Units per layer, input first: [784, 30, 10]. */
  sizes: number[];
  /** Activation of the hidden layers. */
  activation: ActivationName;
  /** Activation of the output layer. */
  outputActivation: ActivationName;
  cost: CostName;
  /**
   * Conv nets only (absent for dense nets, whose files stay as they were):
   * the input image as channels × rows × columns, and the spec of each layer
   * 1..L (src/nn/layers.ts), the last the dense output layer. sizes[l] is
   * then the number of values layer l hands on.
   */
  input?: ImageShape;
  layers?: LayerSpec[];
  /**
   * The hidden layers l with batch normalisation between Z^l and f
   * (src/nn/batchnorm.ts), ascending; absent when none (files stay as they were).
   */
  batchNorm?: number[];
}

/**
 * A layer's batch normalisation: its parameters [γ; β] (the network's
 * biases[index], so the optimizers and checkpoints carry them) and its
 * running averages, which evaluation uses.
 */
export interface BatchNormLayer {
  /** The layer l it normalises. */
  layer: number;
  /** Features F: n_l for a dense layer, c_out for a conv layer. */
  features: number;
  /** Its entry in Network.weights (0 × F) and Network.biases ([γ; β], 2F): L + its rank. */
  index: number;
  params: Float;
  runningMean: Float;
  runningVar: Float;
}

/** The conv geometry of each layer 0..L (undefined for dense layers and the input), checked against arch.sizes. */
export function architectureGeometry(arch: Architecture): (ConvGeometry | undefined)[] {
  if (!arch.layers || !arch.input) return arch.sizes.map(() => undefined);
  const { geometry, sizes } = layerGeometry(arch.input, arch.layers);
  if (sizes.join(',') !== arch.sizes.join(',')) throw new Error(`layers give sizes ${sizes.join(',')}, but the architecture says ${arch.sizes.join(',')}`);
  return geometry;
}

/**
 * The architecture of a conv net: the hidden layers the tokens describe
 * between the input image and a dense output layer of `classes` units.
 * Throws LayerSpecError (one line naming the token) when they do not fit.
 */
export function convArchitecture(tokens: readonly LayerToken[], input: ImageShape, classes: number, rest: Pick<Architecture, 'activation' | 'outputActivation' | 'cost'>): Architecture {
  const layers: LayerSpec[] = [...layerSpecs(tokens), { kind: 'dense', units: classes }];
  const { sizes } = layerGeometry(input, layers);
  return { sizes, activation: rest.activation, outputActivation: rest.outputActivation, cost: rest.cost, input, layers }; // only these keys: the architecture is saved
}

/**
 * The --layers value that rebuilds an architecture: the sizes, input first
 * (dense), or the layers between the image and the output (conv), with a
 * `bn` token after each batch-normalised layer.
 */
export function layersFlag(arch: Architecture): string {
  const bn = new Set(arch.batchNorm ?? []);
  if (arch.layers) return formatLayers(arch.layers.slice(0, -1), bn);
  return arch.sizes.flatMap((n, l) => (bn.has(l) ? [String(n), 'bn'] : [String(n)])).join(',');
}

/** W^l's shape: n_l × n_(l−1) for a dense layer, c_out × (c_in·kh·kw) for a conv layer (PyTorch's [out, in, kh, kw] flattened). */
export function weightShape(sizes: readonly number[], g: ConvGeometry | undefined, l: number): [number, number] {
  return g ? [g.cOut, g.K] : [sizes[l], sizes[l - 1]];
}

/**
 * Why a network of this architecture makes no sense to train, as one line
 * naming an alternative; undefined when it does. Refused: softmax as a hidden
 * activation, and an output activation whose values the cost cannot take
 * (Cost.refuses).
 */
export function pairingProblem(arch: Pick<Architecture, 'activation' | 'outputActivation' | 'cost'>): string | undefined {
  if (arch.activation === 'softmax') {
    return '--activation softmax: softmax normalises a whole layer into one distribution, it is an output activation; use --activation relu, sigmoid or tanh for hidden layers';
  }
  return cost(arch.cost).refuses(arch.outputActivation);
}

/**
 * The default learning rate η for an architecture: `rate` (0.2 for train), or
 * a tenth of it when the quadratic cost follows an output that does not
 * saturate (linear, relu, leaky-relu): nothing then bounds a − y or f'(z),
 * and on the embedded digits 784-100-10 networks with such outputs diverge or
 * oscillate at η = 0.2 and 0.1, and train at 0.05 and below.
 */
export function defaultLearningRate(arch: Pick<Architecture, 'outputActivation' | 'cost'>, rate: number): number {
  const unbounded = arch.outputActivation === 'linear' || arch.outputActivation === 'relu' || arch.outputActivation === 'leaky-relu';
  return arch.cost === 'quadratic' && unbounded ? rate / 10 : rate;
}

/** One row of a model summary (Keras's model.summary()): layer l maps n_(l−1) inputs to n_l units. */
export interface LayerSummary {
  layer: number;
  inputs: number;
  units: number;
  activation: ActivationName;
  /** n_l · n_(l−1) weights and n_l biases (dense), c_out·c_in·kh·kw weights and c_out biases (conv). */
  parameters: number;
  /** What the layer is: "dense", "conv 5×5×20 + maxpool 2". */
  kind: string;
  /** The output's shape, as Keras prints it: [units], or [c, h, w] for a conv layer after its pooling. */
  shape: number[];
  /** W^l's shape as stored: [n_l, n_(l−1)], or [c_out, c_in, kh, kw]. */
  weightShape: number[];
}

/**
 * A fully connected network: W^l is n_l × n_(l-1), b^l has n_l entries, for
 * l = 1..L. Arrays are 0-based: weights[0] is W^1.
 */
export class Network {
  readonly sizes: number[];
  readonly activations: Activation[];
  readonly cost: Cost;
  readonly weights: Matrix[];
  readonly biases: Float[];
  /** Each layer's conv geometry (index l = 1..L; undefined for dense layers). */
  readonly geometry: (ConvGeometry | undefined)[];
  /** Each layer's batch normalisation (index l = 1..L; undefined without). */
  readonly norm: (BatchNormLayer | undefined)[];

  constructor(
    readonly arch: Architecture,
    weights: Matrix[],
    biases: Float[],
    /** The activation objects of layers 1..L when they are not arch's (withActivations). */
    activations?: Activation[],
    /** The cost object when it is not arch's (withCost). */
    costObject?: Cost,
    /** The running mean and variance of each batch normalisation, in arch.batchNorm's order (default 0 and 1, PyTorch's start). */
    running?: { mean: Float; variance: Float }[],
  ) {
    const { sizes } = arch;
    if (sizes.length < 2) throw new Error('a network needs at least an input and an output layer');
    const L = sizes.length - 1;
    const bn = arch.batchNorm ?? [];
    if (weights.length !== L + bn.length || biases.length !== L + bn.length) throw new Error(`expected ${L + bn.length} weight matrices and bias vectors`);
    this.geometry = architectureGeometry(arch);
    this.norm = sizes.map(() => undefined);
    bn.forEach((l, k) => {
      if (!Number.isInteger(l) || l < 1 || l >= L || this.norm[l] || (k > 0 && l < bn[k - 1]))
        throw new Error(`batch normalisation on layer ${l}: only hidden layers 1..${L - 1}, ascending, once each`);
      const features = this.geometry[l]?.cOut ?? sizes[l];
      const params = biases[L + k];
      if (params.length !== 2 * features || weights[L + k].data.length !== 0) throw new Error(`batch normalisation ${k + 1} (layer ${l}) needs γ and β of ${features} entries each`);
      const fresh = (v: number) => (params instanceof Float64Array ? new Float64Array(features) : new Float32Array(features)).fill(v);
      const r = running?.[k];
      if (r && (r.mean.length !== features || r.variance.length !== features)) throw new Error(`batch normalisation ${k + 1} (layer ${l}) needs running statistics of ${features} entries`);
      this.norm[l] = { layer: l, features, index: L + k, params, runningMean: r?.mean ?? fresh(0), runningVar: r?.variance ?? fresh(1) };
    });
    if (this.geometry[L]) throw new Error('the output layer must be dense');
    for (let l = 0; l < L; l++) {
      const W = weights[l];
      const [rows, cols] = weightShape(sizes, this.geometry[l + 1], l + 1);
      if (W.rows !== rows || W.cols !== cols) {
        throw new Error(`W${l + 1} is ${W.rows}x${W.cols}, expected ${rows}x${cols}`);
      }
      if (biases[l].length !== rows) throw new Error(`b${l + 1} has ${biases[l].length} entries, expected ${rows}`);
    }
    this.sizes = sizes.slice();
    if (activations && activations.length !== L) throw new Error(`expected ${L} activations, one per layer`);
    this.activations = activations ?? sizes.slice(1).map((_, l) => activation(l === L - 1 ? arch.outputActivation : arch.activation));
    this.cost = costObject ?? cost(arch.cost);
    this.weights = weights;
    this.biases = biases;
  }

  /** Number of weight layers L. */
  get depth(): number {
    return this.sizes.length - 1;
  }

  get dtype(): DType {
    return this.weights[0].dtype;
  }

  /** Layer by layer: W^l's and b^l's entries and the output's shape; the parameters sum to parameterCount. */
  summary(): LayerSummary[] {
    return this.sizes.slice(1).map((units, l) => {
      const g = this.geometry[l + 1],
        W = this.weights[l],
        bn = this.norm[l + 1];
      const pool = g?.spec.pool ? ` + ${g.spec.pool.kind}pool ${g.spec.pool.size}` : '';
      return {
        layer: l + 1,
        inputs: this.sizes[l],
        units,
        activation: this.activations[l].name,
        parameters: W.data.length + this.biases[l].length + (bn ? bn.params.length : 0),
        kind: (g ? `conv ${g.spec.kh}×${g.spec.kw}×${g.cOut}${g.spec.padding ? ` pad ${g.spec.padding}` : ''}${pool}` : 'dense') + (bn ? ' + batchnorm' : ''),
        shape: outputShape(g, units),
        weightShape: g ? [g.cOut, g.cIn, g.spec.kh, g.spec.kw] : [W.rows, W.cols],
      };
    });
  }

  /** Total number of parameters P. */
  get parameterCount(): number {
    let p = 0;
    for (let l = 0; l < this.weights.length; l++) p += this.weights[l].data.length + this.biases[l].length;
    return p;
  }

  /**
   * The same weights and biases (shared, not copied) with each layer's
   * activation replaced by change(activation, l), l = 0 for layer 1. For the
   * demonstrations of what a gradient check catches (a backward pass that
   * forgets f′, `check/bugs.ts`); `arch` still names the real activations.
   */
  withActivations(change: (a: Activation, l: number) => Activation): Network {
    return new Network(this.arch, this.weights, this.biases, this.activations.map(change), this.cost, this.running());
  }

  /** The same weights and biases (shared) with another cost object: a textbook δ^L without its shortcut, say. */
  withCost(c: Cost): Network {
    return new Network(this.arch, this.weights, this.biases, this.activations, c, this.running());
  }

  /** The running statistics of the batch normalisations, in arch.batchNorm's order (shared, not copied). */
  running(): { mean: Float; variance: Float }[] {
    return this.norm.filter((n) => n !== undefined).map((n) => ({ mean: n.runningMean, variance: n.runningVar }));
  }

  /** A deep copy, optionally in another precision. */
  clone(dtype: DType = this.dtype): Network {
    const copy = (b: Float) => (dtype === 'float64' ? Float64Array.from(b) : Float32Array.from(b));
    return new Network(
      { ...this.arch, sizes: this.sizes.slice() },
      this.weights.map((W) => W.as(dtype)),
      this.biases.map(copy),
      undefined,
      undefined,
      this.running().map((r) => ({ mean: copy(r.mean), variance: copy(r.variance) })),
    );
  }

  /**
   * A new network with random weights: `normal` is N(0, 1) for W and b as in
   * Nielsen's network.py; `xavier` is N(0, 1/n_in); `he` is N(0, 2/n_in).
   * Biases are N(0, 1) for `normal` and 0 otherwise. n_in is the fan-in, a
   * row of W: c_in·kh·kw for a conv layer.
   */
  static create(arch: Architecture, init: InitName, rng: Rng, dtype: DType = 'float32'): Network {
    const weights: Matrix[] = [];
    const biases: Float[] = [];
    const geometry = architectureGeometry(arch);
    for (let l = 1; l < arch.sizes.length; l++) {
      const [nOut, nIn] = weightShape(arch.sizes, geometry[l], l);
      const std = init === 'normal' ? 1 : init === 'xavier' ? Math.sqrt(1 / nIn) : Math.sqrt(2 / nIn);
      const W = Matrix.zeros(nOut, nIn, dtype);
      for (let i = 0; i < W.data.length; i++) W.data[i] = std * rng.normal();
      const b = dtype === 'float64' ? new Float64Array(nOut) : new Float32Array(nOut);
      if (init === 'normal') for (let i = 0; i < nOut; i++) b[i] = rng.normal();
      weights.push(W);
      biases.push(b);
    }
    // batch normalisation starts as the identity on the batch's statistics: γ = 1, β = 0 (no draws: the other weights stay as without it)
    for (const l of arch.batchNorm ?? []) {
      const F = geometry[l]?.cOut ?? arch.sizes[l];
      weights.push(Matrix.zeros(0, F, dtype));
      biases.push((dtype === 'float64' ? new Float64Array(2 * F) : new Float32Array(2 * F)).fill(1, 0, F));
    }
    return new Network(arch, weights, biases);
  }
}
