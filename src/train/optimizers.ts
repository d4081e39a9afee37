import type { Float } from '../linalg/index.js';
import type { Gradients } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'amsgrad', 'rmsprop', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The hyper-parameters an update rule may take, besides η and λ. */
export const HYPER_PARAMETERS = {
  /** μ of momentum and nesterov. */
  momentum: { symbol: 'μ', default: 0.9, help: 'μ of momentum and nesterov: v ← μv + g' },
  /** β₁, β₂ and ε of adam and adamw (Kingma & Ba's defaults). */
  beta1: { symbol: 'β₁', default: 0.9, help: "β₁ of adam and adamw, the first moment's decay" },
  beta2: { symbol: 'β₂', default: 0.999, help: "β₂ of adam and adamw, the second moment's decay" },
  eps: { symbol: 'ε', default: 1e-8, help: 'ε of adam, adamw, amsgrad, rmsprop and adagrad: θ ← θ − η m̂/(√v̂ + ε)' },
  /** α of rmsprop (PyTorch's default). */
  alpha: { symbol: 'α', default: 0.99, help: 'α of rmsprop, the decay of its mean square: v ← αv + (1 − α)g²' },
  /** G₀ of adagrad: PyTorch's initial_accumulator_value (tf.train.adagrad's initialAccumulatorValue). */
  accumulator: { symbol: 'G₀', default: 0, help: "G₀ of adagrad, the starting value of its sum of squares G ← G + g² (PyTorch's initial_accumulator_value)" },
} as const;
export type HyperParameter = keyof typeof HYPER_PARAMETERS;

/** An optimizer and its hyper-parameters (those it does not use are ignored). α and G₀ came with rmsprop and adagrad: records written before them lack them. */
export type OptimizerConfig = { name: OptimizerName } & Record<Exclude<HyperParameter, 'alpha' | 'accumulator'>, number> & Partial<Record<'alpha' | 'accumulator', number>>;

/** Kingma & Ba's defaults for Adam (ε = 1e-8), and μ = 0.9 for momentum. */
export const OPTIMIZER_DEFAULTS: Required<Omit<OptimizerConfig, 'name'>> = {
  momentum: HYPER_PARAMETERS.momentum.default,
  beta1: HYPER_PARAMETERS.beta1.default,
  beta2: HYPER_PARAMETERS.beta2.default,
  eps: HYPER_PARAMETERS.eps.default,
  alpha: HYPER_PARAMETERS.alpha.default,
  accumulator: HYPER_PARAMETERS.accumulator.default,
};

/** The default η of adam, adamw and amsgrad: Kingma & Ba's α = 0.001. */
export const ADAM_LR = 0.001;
/** The default η of rmsprop: Keras's 0.001 (PyTorch's is 0.01). */
export const RMSPROP_LR = 0.001;
/** The default η of adagrad: PyTorch's 0.01. */
export const ADAGRAD_LR = 0.01;

/** What one step of a rule knows besides the parameter, its gradient and its slots. */
export interface StepContext {
  /** η of this step. */
  lr: number;
  /** λ of the parameter: the weight decay on weights, 0 on biases. */
  lambda: number;
  /** The step count t (1 on the first step) and the bias corrections 1 − β₁ᵗ, 1 − β₂ᵗ. */
  t: number;
  c1: number;
  c2: number;
}

/**
 * An update rule as data (the shape of tinygrad's and PyTorch's optimizers):
 * the slots it keeps per parameter, the hyper-parameters it takes, its
 * default η, and its update of one parameter tensor θ from its gradient g.
 */
export interface UpdateRule {
  /** The tensors it keeps per parameter, zero at the start: velocity v, or the moments m and v. */
  slots: readonly string[];
  hyper: readonly HyperParameter[];
  /** η when --lr is not given; absent: the network's own default. */
  lr?: number;
  /** The value its slots start at (absent: 0): adagrad's G₀. */
  start?: (h: OptimizerConfig) => number;
  /** One step on θ (in place) with gradient g of the mean cost, without the L2 term. */
  update(p: Float, g: Float, slots: Float[], h: OptimizerConfig, s: StepContext): void;
}

/**
 * The update rules applied to ∂C/∂θ from backprop, at learning rate η (which a
 * schedule may change between steps), with L2 weight decay λ on the weights
 * (not the biases). For sgd, momentum, nesterov and adam the decay is part of
 * the gradient, g = ∂C/∂θ + λθ; adamw decouples it (below). Every rule is the
 * one of tf.train.sgd / tf.train.momentum / tf.train.adam, so that
 * `gradcheck --train-steps` can compare them step by step.
 *
 * - sgd:      θ ← θ − η g
 * - momentum: v ← μ v + g,  θ ← θ − η v   (Polyak's heavy ball, as tf.train.momentum)
 * - nesterov: v ← μ v + g,  θ ← θ − η (g + μ v)   (Sutskever, Martens, Dahl & Hinton 2013,
 *             "On the importance of initialization and momentum in deep learning";
 *             tf.train.momentum with useNesterov)
 * - adam:     m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²,
 *             m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ),  θ ← θ − η m̂ / (√v̂ + ε)
 *             (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1)
 * - adamw:    the same moments of g = ∂C/∂θ, and θ ← θ − η (m̂ / (√v̂ + ε) + λ θ)
 *             (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2,
 *             with the schedule multiplier folded into η as PyTorch's AdamW does)
 * - amsgrad:  Adam's m and v, v_max ← max(v_max, v),  θ ← θ − η m̂ / (√(v_max / (1 − β₂ᵗ)) + ε)
 *             (Reddi, Kale & Kumar 2018, "On the Convergence of Adam and Beyond", Algorithm 2,
 *             with Adam's bias corrections as PyTorch's Adam(amsgrad=True) keeps them)
 * - rmsprop:  v ← α v + (1 − α) g²,  θ ← θ − η g / (√v + ε)
 *             (Tieleman & Hinton 2012, "Lecture 6.5 — RMSprop", COURSERA: Neural Networks for
 *             Machine Learning; ε outside the root as torch.optim.RMSprop, which tf.train.rmsprop
 *             puts inside)
 * - adagrad:  G ← G + g²,  θ ← θ − η g / (√G + ε), G starting at G₀
 *             (Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online Learning and
 *             Stochastic Optimization", the diagonal version; as torch.optim.Adagrad without lr_decay)
 */
export const RULES: Record<OptimizerName, UpdateRule> = {
  sgd: {
    slots: [],
    hyper: [],
    update(p, g, _slots, _h, { lr, lambda }) {
      // as SgdTrainer's unfused update: W ← (1 − ηλ)W − ηg
      for (let j = 0; j < p.length; j++) p[j] = (1 - lr * lambda) * p[j] - lr * g[j];
    },
  },
  momentum: { slots: ['v'], hyper: ['momentum'], update: (p, g, [v], h, s) => heavyBall(p, g, v, h.momentum, s, false) },
  nesterov: { slots: ['v'], hyper: ['momentum'], update: (p, g, [v], h, s) => heavyBall(p, g, v, h.momentum, s, true) },
  adam: { slots: ['m', 'v'], hyper: ['beta1', 'beta2', 'eps'], lr: ADAM_LR, update: (p, g, [m, v], h, s) => adam(p, g, m, v, h, s, false) },
  adamw: { slots: ['m', 'v'], hyper: ['beta1', 'beta2', 'eps'], lr: ADAM_LR, update: (p, g, [m, v], h, s) => adam(p, g, m, v, h, s, true) },
  amsgrad: { slots: ['m', 'v', 'vMax'], hyper: ['beta1', 'beta2', 'eps'], lr: ADAM_LR, update: (p, g, [m, v, vMax], h, s) => amsgrad(p, g, m, v, vMax, h, s) },
  rmsprop: {
    slots: ['v'],
    hyper: ['alpha', 'eps'],
    lr: RMSPROP_LR,
    update(p, g, [v], { alpha = HYPER_PARAMETERS.alpha.default, eps }, { lr, lambda }) {
      for (let j = 0; j < p.length; j++) {
        const gj = g[j] + lambda * p[j];
        v[j] = alpha * v[j] + (1 - alpha) * gj * gj; // v ← αv + (1 − α)g²
        p[j] -= (lr * gj) / (Math.sqrt(v[j]) + eps); // θ ← θ − η g/(√v + ε)
      }
    },
  },
  adagrad: {
    slots: ['G'],
    hyper: ['accumulator', 'eps'],
    lr: ADAGRAD_LR,
    start: (h) => h.accumulator ?? HYPER_PARAMETERS.accumulator.default,
    update(p, g, [G], { eps }, { lr, lambda }) {
      for (let j = 0; j < p.length; j++) {
        const gj = g[j] + lambda * p[j];
        G[j] += gj * gj; // G ← G + g²
        p[j] -= (lr * gj) / (Math.sqrt(G[j]) + eps); // θ ← θ − η g/(√G + ε)
      }
    },
  },
};

/** v ← μ v + g,  θ ← θ − η v (heavy ball) or θ − η (g + μ v) (Nesterov), with g = ∂C/∂θ + λθ. */
function heavyBall(p: Float, g: Float, v: Float, mu: number, { lr, lambda }: StepContext, nesterov: boolean): void {
  for (let j = 0; j < p.length; j++) {
    const gj = g[j] + lambda * p[j];
    v[j] = mu * v[j] + gj;
    p[j] -= lr * (nesterov ? gj + mu * v[j] : v[j]);
  }
}

/** Adam's moments of g and θ ← θ − η (m̂ / (√v̂ + ε) + λ_d θ): λ in g (adam) or decoupled as λ_d (adamw). */
function adam(p: Float, g: Float, m: Float, v: Float, { beta1, beta2, eps }: OptimizerConfig, { lr, lambda, c1, c2 }: StepContext, decoupled: boolean): void {
  const coupled = decoupled ? 0 : lambda,
    decay = decoupled ? lambda : 0;
  for (let j = 0; j < p.length; j++) {
    const gj = g[j] + coupled * p[j];
    m[j] = beta1 * m[j] + (1 - beta1) * gj;
    v[j] = beta2 * v[j] + (1 - beta2) * gj * gj;
    p[j] -= lr * (m[j] / c1 / (Math.sqrt(v[j] / c2) + eps) + decay * p[j]);
  }
}

/** Adam's moments and their running maximum v_max (AMSGrad); θ ← θ − η m̂ / (√(v_max/(1 − β₂ᵗ)) + ε), g = ∂C/∂θ + λθ. */
function amsgrad(p: Float, g: Float, m: Float, v: Float, vMax: Float, { beta1, beta2, eps }: OptimizerConfig, { lr, lambda, c1, c2 }: StepContext): void {
  for (let j = 0; j < p.length; j++) {
    const gj = g[j] + lambda * p[j];
    m[j] = beta1 * m[j] + (1 - beta1) * gj;
    v[j] = beta2 * v[j] + (1 - beta2) * gj * gj;
    if (v[j] > vMax[j]) vMax[j] = v[j]; // v_max ← max(v_max, v)
    p[j] -= lr * (m[j] / c1 / (Math.sqrt(vMax[j] / c2) + eps));
  }
}

/** How many slot tensors (per parameter) an optimizer keeps: velocity v, the moments m and v (and v_max), or adagrad's G. */
export function slotCount(name: OptimizerName): number {
  return RULES[name].slots.length;
}

/** The optimizer with the hyper-parameters it uses: "sgd", "momentum μ=0.9", "adam β₁=0.9 β₂=0.999 ε=1e-8". */
export function optimizerLabel(o: OptimizerConfig | undefined): string {
  if (!o) return 'sgd';
  return [o.name, ...RULES[o.name].hyper.map((k) => `${HYPER_PARAMETERS[k].symbol}=${o[k]}`)].join(' ');
}

/**
 * What an optimizer remembers between steps, for checkpoints: the step count
 * t and its slots, slots[s][p] for parameter p in the order W¹, b¹, W², b², …
 */
export interface OptimizerState {
  t: number;
  slots: Float[][];
}

/** The parameters of a network in the order W¹, b¹, W², b², … and whether each is a weight (L2 applies to weights only). */
function parameters(net: Network): { p: Float; weight: boolean }[] {
  return net.weights.flatMap((W, l) => [
    { p: W.data, weight: true },
    { p: net.biases[l], weight: false },
  ]);
}

/**
 * One optimizer over a flat list of parameter tensors (W¹, b¹, W², b², … for a
 * network), its rule taken from RULES; λ applies to the tensors marked as
 * weights. The slots start at zero and t at 0; t counts the steps taken.
 */
export class Optimizer {
  readonly slots: Float[][];
  t = 0;
  private readonly params: { p: Float; weight: boolean }[];

  /** Over a network's parameters W¹, b¹, W², b², … (λ on the weights). */
  constructor(
    readonly config: OptimizerConfig,
    net: Network | { p: Float; weight: boolean }[],
  ) {
    this.params = Array.isArray(net) ? net : parameters(net);
    const start = RULES[config.name].start?.(config) ?? 0;
    const filled = (p: Float): Float => (p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length)).fill(start);
    this.slots = RULES[config.name].slots.map(() => this.params.map(({ p }) => filled(p)));
  }

  /** Over a flat list of parameter tensors; `weight[i]`: λ applies to tensor i (all of them when absent). */
  static flat(config: OptimizerConfig, params: Float[], weight?: boolean[]): Optimizer {
    return new Optimizer(
      config,
      params.map((p, i) => ({ p, weight: weight?.[i] ?? true })),
    );
  }

  /** One step from the gradients of the mean cost (without the L2 term), one per parameter tensor in order. */
  stepFlat(grads: readonly Float[], lr: number, weightDecay: number): void {
    const rule = RULES[this.config.name];
    this.t++;
    const { beta1, beta2 } = this.config;
    const s: StepContext = { lr, lambda: 0, t: this.t, c1: 1 - beta1 ** this.t, c2: 1 - beta2 ** this.t };
    for (let i = 0; i < this.params.length; i++) {
      const { p, weight } = this.params[i];
      s.lambda = weight ? weightDecay : 0;
      rule.update(
        p,
        grads[i],
        this.slots.map((slot) => slot[i]),
        this.config,
        s,
      );
    }
  }

  /** One step from a network's gradients of the mean cost (without the L2 term). */
  step(grads: Gradients, lr: number, weightDecay: number): void {
    this.stepFlat(
      grads.gradW.flatMap((gW, l) => [gW.data, grads.gradB[l]]),
      lr,
      weightDecay,
    );
  }

  state(): OptimizerState {
    return { t: this.t, slots: this.slots };
  }

  /** Continues from a checkpoint's state (same optimizer, same network shape). */
  restore(s: OptimizerState): void {
    if (s.slots.length !== this.slots.length) throw new Error(`expected ${this.slots.length} optimizer slots, got ${s.slots.length}`);
    this.t = s.t;
    s.slots.forEach((slot, k) =>
      slot.forEach((x, i) => {
        if (x.length !== this.slots[k][i].length) throw new Error(`optimizer slot ${k} of parameter ${i}: expected ${this.slots[k][i].length} values, got ${x.length}`);
        this.slots[k][i].set(x);
      }),
    );
  }
}

/** What gradient clipping does before the update rule sees the gradients: by global norm c, and by value v (each absent: not that one). */
export interface Clipping {
  clipNorm?: number;
  clipValue?: number;
}

/**
 * Clips the gradients of the mean cost (without the L2 term) in place, before
 * the update rule and its weight decay; returns true when it changed them.
 * By value, as torch.nn.utils.clip_grad_value_: g ← min(max(g, −v), v) entry by entry.
 * Then by norm over every tensor at once, as torch.nn.utils.clip_grad_norm_
 * (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
 * neural networks", Algorithm 1):
 *   ‖g‖ = √(Σ_tensors Σ_i g_i²),   g ← g · c / (‖g‖ + 10⁻⁶)   when that factor is below 1.
 */
export function clipGradients(grads: readonly Float[], { clipNorm, clipValue }: Clipping): boolean {
  let clipped = false;
  if (clipValue !== undefined) {
    for (const g of grads)
      for (let i = 0; i < g.length; i++) {
        const c = Math.min(Math.max(g[i], -clipValue), clipValue);
        if (c !== g[i]) {
          g[i] = c;
          clipped = true;
        }
      }
  }
  if (clipNorm !== undefined) {
    let sum = 0;
    for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
    const factor = clipNorm / (Math.sqrt(sum) + 1e-6); // c / (‖g‖ + 10⁻⁶)
    if (factor < 1) {
      for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= factor;
      clipped = true;
    }
  }
  return clipped;
}
