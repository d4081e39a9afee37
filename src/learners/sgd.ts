import type { Dataset, Examples } from '../data/dataset.js';
import { jsKernels, type Kernels } from '../linalg/index.js';
import { Network, type Architecture, type InitName } from '../nn/network.js';
import { Rng } from '../base/rng.js';
import { networkBytes } from '../data/limits.js';
import { evaluate } from '../train/metrics.js';
import { initialState, runTraining } from '../train/session.js';
import { SgdTrainer } from '../train/sgd.js';
import type { FitContext, FitResult, Learner } from './learner.js';
import { parametersFinite } from '../train/session.js';
import { Harness, TraceSchedule } from './harness.js';

export interface SgdLearnerOptions {
  lr: number;
  batchSize: number;
  epochs: number;
  init: InitName;
}

export const SGD_DEFAULTS = { lr: 0.2, batchSize: 32, epochs: 3 };

/**
 * Mini-batch SGD with the hand-written backprop (Rumelhart, Hinton & Williams
 * 1986), exactly as `backprop train` runs it (src/train): per batch of m,
 * W ← W − (η/m) Σ_x δ_x a_xᵀ. Work: a step on m examples is m forward and m
 * backward passes, counted as 2m example-forwards; its flops ≈ 3 × the
 * forward's (forward, δ recursion, weight gradients).
 */
export class SgdLearner implements Learner {
  readonly name = 'sgd' as const;
  private net?: Network;
  private kernels?: Kernels;

  constructor(
    readonly arch: Architecture,
    readonly opts: SgdLearnerOptions,
  ) {}

  describe(): string {
    const o = this.opts;
    return `SGD + backprop ${this.arch.sizes.join('-')}: η=${o.lr}, m=${o.batchSize}, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'}, init ${o.init}`;
  }

  get network(): Network {
    if (!this.net) throw new Error('sgd: fit() first');
    return this.net;
  }

  async fit(ds: Dataset, ctx: FitContext): Promise<FitResult> {
    const rng = new Rng(ctx.seed);
    const net = Network.create(this.arch, this.opts.init, rng);
    this.net = net;
    this.kernels = ctx.kernels;
    const trainer = new SgdTrainer(net, { lr: this.opts.lr, batchSize: this.opts.batchSize, weightDecay: 0 }, ctx.kernels);
    const weightCount = net.weights.reduce((s, W) => s + W.data.length, 0);
    const m = this.opts.batchSize;
    const h = new Harness(ctx);
    const schedule = new TraceSchedule(1.15, 0);
    const accuracy = () => evaluate(net, ctx.test, ctx.kernels).accuracy;
    h.pointNow(accuracy); // at initialisation
    let steps = 0;
    const state = initialState(ds.train.count);
    const total = this.opts.epochs * Math.ceil(ds.train.count / m);
    const run = await runTraining(trainer, ds.train, rng, state, {
      epochs: this.opts.epochs,
      evaluate: false,
      onBatch: (_epoch, batch) => {
        const size = Math.min(m, ds.train.count - (batch - 1) * m);
        steps++;
        h.work += 2 * size;
        h.flops += 6 * weightCount * size;
        if (schedule.due(steps)) h.pointNow(accuracy);
        h.progress(steps, total, 'updates');
      },
      shouldStop: () => h.shouldStop(),
      yieldMs: ctx.yieldMs,
    });
    if (h.trace[h.trace.length - 1].work !== h.work && h.stopped !== 'signal') h.pointNow(accuracy);
    const trace = h.trace;
    return {
      trace,
      parametersUpdated: net.parameterCount,
      peakBytes: networkBytes(net.sizes, m), // the estimate `learners` (and train) refuse a network by
      wallSeconds: h.wallSeconds(),
      details: { steps, epochs: state.history.length },
      // runTraining stops at the first non-finite loss, often before a weight is: finite() alone would pass a run that never trained.
      ...(run.status === 'diverged' ? { diverged: divergedAdvice(run.epoch, run.batch, run.diagnosis.message) } : {}),
    };
  }

  predict(ex: Examples): ArrayLike<number> {
    return evaluate(this.network, ex, this.kernels ?? jsKernels).predictions;
  }

  finite(): boolean {
    return parametersFinite(this.network);
  }
}

/**
 * Why runTraining stopped, for the learner's diverged row, as `train` says it: where, and the diagnosis with its
 * advice. The learners train in float32 only (they have no --dtype flag): the diagnosis's float64 suggestion is left out.
 */
export function divergedAdvice(epoch: number, batch: number, diagnosis: string): string {
  return `at epoch ${epoch}, batch ${batch}: ${diagnosis.replace(/, or --dtype float64$/, '')}`;
}
