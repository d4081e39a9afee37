import { Matrix, type Kernels } from '../linalg/index.js';
import { allFinite, backprop, drawDropoutMasks, Gradients, passFinite, sgdStep, Workspace, type GradientMethod } from '../nn/backprop.js';
import { clipGradients, Optimizer, OPTIMIZER_DEFAULTS, type OptimizerConfig } from './optimizers.js';
import { smoothTargets } from '../nn/costs.js';
import type { Network } from '../nn/network.js';
import type { Rng } from '../base/rng.js';
import { fillBatch, type Examples } from '../data/dataset.js';
import type { Augmenter } from '../data/augment.js';
import { argmaxColumn } from './metrics.js';
import { diagnose, runawayLoss, type Diagnosis, type LossTrack } from './diagnose.js';

export interface SgdOptions {
  /** η */
  lr: number;
  /** m */
  batchSize: number;
  /** λ of the L2 penalty (λ/2)‖W‖², added to the mean batch cost; 0 for none (decoupled for adamw). */
  weightDecay: number;
  /** The update rule (optimizers.ts); plain SGD when absent. */
  optimizer?: OptimizerConfig;
  /** Inverted dropout on the hidden layers: p, the probability of dropping a unit, and the RNG its masks come from. */
  dropout?: { p: number; rng: Rng };
  /** Distorts each training batch as it is filled (augment.ts), with draws from the run's RNG; evaluation never sees it. */
  augment?: { augmenter: Augmenter; rng: Rng };
  /** ε of label smoothing: the batch's targets become (1 − ε)y + ε/K (costs.ts, smoothTargets); evaluation keeps the one-hot ones. */
  labelSmoothing?: number;
  /** Clip the gradients by global norm and/or by value before the update (optimizers.ts, clipGradients). */
  clipNorm?: number;
  clipValue?: number;
}

export interface EpochMetrics {
  epoch: number;
  /** Mean cost of the training batches during the epoch. */
  loss: number;
  /** Accuracy on the training batches as they were trained (running, as Keras reports it). */
  trainAccuracy: number;
  /** η during the epoch (a schedule changes it from epoch to epoch), or of its last step (a per-step schedule). */
  lr?: number;
  /** Steps of the epoch whose gradients --clip-norm or --clip-value changed (absent without clipping). */
  clipped?: number;
  testLoss?: number;
  testAccuracy?: number;
  validationLoss?: number;
  validationAccuracy?: number;
  seconds: number;
}

export interface TrainCallbacks {
  onEpochStart?(epoch: number, batches: number): void;
  /** After each batch: the epoch's running mean loss and accuracy, and the examples seen in it so far. */
  onBatch?(epoch: number, batch: number, loss: number, accuracy?: number, seen?: number): void;
  onEpochEnd?(metrics: EpochMetrics): void;
}

/**
 * Mini-batch stochastic gradient descent, one batch at a time (runTraining in
 * session.ts drives the epochs). For every batch of m examples:
 *   W ← W − η (∂C/∂W + λW),   b ← b − η ∂C/∂b
 * where ∂C/∂W = (1/m) Σ_x δ_x a_xᵀ comes from backprop. Plain SGD runs
 * fused (sgdStep: the update inside the gradient gemm, no gradient buffers);
 * another optimizer (momentum, nesterov, adam, adamw: optimizers.ts) takes
 * ∂C/∂W and ∂C/∂b from backprop and applies its own rule. Same rng state and
 * inputs give bit-identical weights.
 */
export class SgdTrainer {
  /** Only for a gradient method other than backprop or an optimizer other than sgd (sgdStep needs no gradient buffers). */
  private grads?: Gradients;
  /** The update rule and its state (velocity, moments), when it is not plain SGD. */
  readonly optimizer?: Optimizer;
  /** Plain SGD as a rule over the parameter list, for clipped steps (clipping needs the gradients that sgdStep never forms). */
  private readonly clippedSgd?: Optimizer;
  /** True when the gradients are clipped (--clip-norm, --clip-value). */
  readonly clipping: boolean;
  /** Whether clipping changed the gradients of the last step. */
  clipped = false;
  /** η of the next step: opts.lr, or what a schedule sets it to between epochs. */
  lr: number;
  /** U(0, 1) from the dropout RNG, bound once (a step allocates nothing). */
  private readonly uniform: () => number;
  private readonly workspaces = new Map<number, { ws: Workspace; y: Matrix }>();

  constructor(
    readonly net: Network,
    readonly opts: SgdOptions,
    readonly kernels: Kernels,
    /**
     * How gradients are computed, when not by backprop: a broken variant in the gradient-check
     * demonstrations. Given, it takes the general path (gradients into buffers, then the update).
     */
    private readonly gradient?: GradientMethod,
  ) {
    this.lr = opts.lr;
    const rng = opts.dropout?.rng;
    this.uniform = rng
      ? () => rng.uniform()
      : () => {
          throw new Error('dropout without its RNG');
        };
    if (opts.optimizer && opts.optimizer.name !== 'sgd') this.optimizer = new Optimizer(opts.optimizer, net);
    this.clipping = opts.clipNorm !== undefined || opts.clipValue !== undefined;
    if (this.clipping && !this.optimizer) this.clippedSgd = new Optimizer({ ...(opts.optimizer ?? OPTIMIZER_DEFAULTS), name: 'sgd' }, net);
  }

  /** Buffers for a batch size, created once (the last batch of an epoch may be smaller). */
  private buffers(m: number): { ws: Workspace; y: Matrix } {
    let b = this.workspaces.get(m);
    if (!b) {
      b = { ws: new Workspace(this.net, m), y: Matrix.zeros(this.net.sizes[this.net.depth], m, this.net.dtype) };
      if (this.opts.dropout) b.ws.enableDropout();
      this.workspaces.set(m, b);
    }
    return b;
  }

  /** Examples of the last step that the network (before the update) classified right. */
  correct = 0;

  /** The buffers of the last step: its forward and backward pass, for diagnose(). */
  private last?: { ws: Workspace; y: Matrix };

  /** Why a float64 step's mean loss went beyond float32's range (lossBeyondRange), with this trainer's η, λ and --lr. */
  runaway(losses: LossTrack, loss: number): Diagnosis {
    return runawayLoss(losses, loss, this.lr, this.opts.weightDecay, this.opts.lr);
  }

  /** Why the last step went non-finite (sgdStep leaves the weights as they were before it, and its pass in the workspace). */
  diagnose(losses: LossTrack): Diagnosis {
    const b = this.last ?? this.buffers(this.opts.batchSize);
    return diagnose(this.net, b.ws, b.y, losses, this.lr, this.opts.weightDecay, this.opts.lr);
  }

  /** Trains on the batch order[start, start + m); returns the summed cost Σ_x C_x (and sets `correct`). */
  step(ex: Examples, order: ArrayLike<number>, start: number, m: number): number {
    const { ws, y } = (this.last = this.buffers(m));
    fillBatch(ex, order, start, ws.input, y);
    if (this.opts.labelSmoothing) smoothTargets(y, this.opts.labelSmoothing); // y' = (1 − ε)y + ε/K
    if (this.opts.augment) this.opts.augment.augmenter.batch(ws.input.data, m, this.opts.augment.rng);
    if (this.opts.dropout) drawDropoutMasks(ws, this.opts.dropout.p, this.uniform);
    let total: number;
    const rule = this.optimizer ?? this.clippedSgd;
    if (!this.gradient && !rule) {
      total = sgdStep(this.net, ws, y, this.lr, this.opts.weightDecay, this.kernels);
    } else {
      this.grads ??= new Gradients(this.net);
      total = (this.gradient ?? backprop)(this.net, ws, y, this.grads, this.kernels);
      if (rule) {
        // As sgdStep: a non-finite step changes nothing (the weights and the optimizer's state stay the last good ones).
        // backprop's ∂C/∂b^l = δ^l 1/m are row sums of δ (passFinite); another gradient method's are checked on every δ.
        const grads = this.grads;
        if (this.gradient ? !Number.isFinite(total) || ws.delta.some((d) => !allFinite(d.data)) : !passFinite(this.net, ws, total, (l) => grads.gradB[l - 1])) return NaN;
        if (this.clipping) this.clipped = clipGradients([...this.grads.gradW.map((g) => g.data), ...this.grads.gradB], this.opts);
        rule.step(this.grads, this.lr, this.opts.weightDecay);
      } else this.update(this.grads);
    }
    let correct = 0;
    for (let j = 0; j < m; j++) if (argmaxColumn(ws.output, j) === ex.labels[order[start + j]]) correct++;
    this.correct = correct;
    return total;
  }

  /** W ← W − η (∂C/∂W + λW),  b ← b − η ∂C/∂b (for a gradient method other than backprop). */
  private update(grads: Gradients): void {
    const { lr } = this;
    const { weightDecay } = this.opts;
    const shrink = 1 - lr * weightDecay;
    for (let l = 0; l < this.net.depth; l++) {
      const W = this.net.weights[l].data,
        gW = grads.gradW[l].data;
      if (shrink === 1) for (let i = 0; i < W.length; i++) W[i] -= lr * gW[i];
      else for (let i = 0; i < W.length; i++) W[i] = shrink * W[i] - lr * gW[i];
      const b = this.net.biases[l],
        gb = grads.gradB[l];
      for (let i = 0; i < b.length; i++) b[i] -= lr * gb[i];
    }
  }
}
