import type { Float } from '../linalg/index.js';
import type { Gradients } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The hyper-parameters an update rule may take, besides η and λ. */
export const HYPER_PARAMETERS = {
  /** μ of momentum and nesterov. */
  momentum: { symbol: 'μ', default: 0.9, help: 'μ of momentum and nesterov: v ← μv + g' },
  /** β₁, β₂ and ε of adam and adamw (Kingma & Ba's defaults). */
  beta1: { symbol: 'β₁', default: 0.9, help: "β₁ of adam and adamw, the first moment's decay" },
  beta2: { symbol: 'β₂', default: 0.999, help: "β₂ of adam and adamw, the second moment's decay" },
  eps: { symbol: 'ε', default: 1e-8, help: 'ε of adam and adamw: θ ← θ − η m̂/(√v̂ + ε)' },
} as const;
export type HyperParameter = keyof typeof HYPER_PARAMETERS;

/** An optimizer and its hyper-parameters (those it does not use are ignored). */
export type OptimizerConfig = { name: OptimizerName } & Record<HyperParameter, number>;

/** Kingma & Ba's defaults for Adam (ε = 1e-8), and μ = 0.9 for momentum. */
export const OPTIMIZER_DEFAULTS: Omit<OptimizerConfig, 'name'> = {
  momentum: HYPER_PARAMETERS.momentum.default,
  beta1: HYPER_PARAMETERS.beta1.default,
  beta2: HYPER_PARAMETERS.beta2.default,
  eps: HYPER_PARAMETERS.eps.default,
};

/** The default η of adam and adamw: Kingma & Ba's α = 0.001. */
export const ADAM_LR = 0.001;

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

/** How many slot tensors (per parameter) an optimizer keeps: velocity v, or the moments m and v. */
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
    const zeros = (p: Float): Float => (p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length));
    this.slots = RULES[config.name].slots.map(() => this.params.map(({ p }) => zeros(p)));
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
