import type { Float } from '../linalg/index.js';
import type { Gradients } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** An optimizer and its hyper-parameters (those it does not use are ignored). */
export interface OptimizerConfig {
  name: OptimizerName;
  /** μ of momentum and nesterov. */
  momentum: number;
  /** β₁, β₂ and ε of adam and adamw. */
  beta1: number;
  beta2: number;
  eps: number;
}

/** Kingma & Ba's defaults for Adam (ε = 1e-8), and μ = 0.9 for momentum. */
export const OPTIMIZER_DEFAULTS: Omit<OptimizerConfig, 'name'> = { momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** The default η of adam and adamw: Kingma & Ba's α = 0.001. */
export const ADAM_LR = 0.001;

/** How many slot tensors (per parameter) an optimizer keeps: velocity v, or the moments m and v. */
export function slotCount(name: OptimizerName): number {
  return name === 'sgd' ? 0 : name === 'momentum' || name === 'nesterov' ? 1 : 2;
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
 *
 * The slots start at zero and t at 0; t counts the steps taken.
 */
export class Optimizer {
  readonly slots: Float[][];
  t = 0;
  private readonly params: { p: Float; weight: boolean }[];

  constructor(
    readonly config: OptimizerConfig,
    readonly net: Network,
  ) {
    this.params = parameters(net);
    const zeros = (p: Float): Float => (p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length));
    this.slots = Array.from({ length: slotCount(config.name) }, () => this.params.map(({ p }) => zeros(p)));
  }

  /** One step from the gradients of the mean cost (without the L2 term). */
  step(grads: Gradients, lr: number, weightDecay: number): void {
    const { name, momentum: mu, beta1, beta2, eps } = this.config;
    this.t++;
    const c1 = 1 - beta1 ** this.t,
      c2 = 1 - beta2 ** this.t;
    for (let i = 0; i < this.params.length; i++) {
      const { p, weight } = this.params[i];
      const l = i >> 1;
      const g = weight ? grads.gradW[l].data : grads.gradB[l];
      const lambda = weight ? weightDecay : 0;
      const decoupled = name === 'adamw';
      const coupled = decoupled ? 0 : lambda;
      switch (name) {
        case 'sgd': // as SgdTrainer's unfused update: W ← (1 − ηλ)W − ηg
          for (let j = 0; j < p.length; j++) p[j] = (1 - lr * coupled) * p[j] - lr * g[j];
          break;
        case 'momentum':
        case 'nesterov': {
          const v = this.slots[0][i];
          for (let j = 0; j < p.length; j++) {
            const gj = g[j] + coupled * p[j];
            v[j] = mu * v[j] + gj;
            p[j] -= lr * (name === 'nesterov' ? gj + mu * v[j] : v[j]);
          }
          break;
        }
        case 'adam':
        case 'adamw': {
          const m = this.slots[0][i],
            v = this.slots[1][i];
          const decay = decoupled ? lambda : 0;
          for (let j = 0; j < p.length; j++) {
            const gj = g[j] + coupled * p[j];
            m[j] = beta1 * m[j] + (1 - beta1) * gj;
            v[j] = beta2 * v[j] + (1 - beta2) * gj * gj;
            p[j] -= lr * (m[j] / c1 / (Math.sqrt(v[j] / c2) + eps) + decay * p[j]);
          }
          break;
        }
      }
    }
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
