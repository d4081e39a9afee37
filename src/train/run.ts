import type { Rng } from '../base/rng.js';
import type { Dataset } from '../data/dataset.js';
import { Augmenter } from '../data/augment.js';
import type { Kernels } from '../linalg/index.js';
import type { Network } from '../nn/network.js';
import { copyWeights, EarlyStopping } from './early-stop.js';
import { evaluate } from './metrics.js';
import type { OptimizerState } from './optimizers.js';
import { scheduleRate } from './schedule.js';
import { runTraining, type TrainState } from './session.js';
import type { RunRecord } from './settings.js';
import { SgdTrainer, type EpochMetrics } from './sgd.js';
import type { Diagnosis } from './diagnose.js';

/** What a run trains: its settings, data, network, RNG and position (new, or continued from a checkpoint). */
export interface RunSpec {
  record: RunRecord;
  ds: Pick<Dataset, 'train' | 'test' | 'validation' | 'shape'>;
  net: Network;
  rng: Rng;
  state: TrainState;
  kernels: Kernels;
  /** The optimizer's velocity or moments, continued from a checkpoint. */
  optimizerState?: OptimizerState;
  /** A resumed run with --early-stop: the best epoch's weights that its checkpoint kept (asked only when the replay found a best epoch). */
  bestWeights?: () => Network | undefined;
}

/** What a checkpoint of the run holds besides the network, the RNG and the settings. */
export interface RunSnapshot {
  state: TrainState;
  optimizer?: OptimizerState;
  /** --early-stop: the best epoch's weights so far. */
  best?: Network;
}

/** What the caller hears during the run; the run itself prints nothing. */
export interface RunHooks {
  onEpochStart?(epoch: number, batches: number): void;
  onBatch?(epoch: number, batch: number, loss: number, accuracy?: number, seen?: number): void;
  /** At each epoch end, after its evaluation; `best`: the new best epoch of --early-stop or --save-best. */
  onEpochEnd?(metrics: EpochMetrics, best: boolean): void;
  /** Asked between batches: stop now (a signal)? */
  shouldStop?: () => boolean;
  /** Milliseconds between yields to the event loop, after which shouldStop is asked (default 50). */
  yieldMs?: number;
  /** At each epoch end, with the state to persist. */
  checkpoint?: (snapshot: RunSnapshot) => void | Promise<void>;
}

/** The test metrics of the network a finished run keeps. */
export interface FinalMetrics {
  accuracy: number;
  loss: number;
  correct: number;
  count: number;
}

export type RunOutcome =
  | { status: 'interrupted'; snapshot: RunSnapshot }
  | { status: 'diverged'; epoch: number; batch: number; diagnosis: Diagnosis }
  | {
      status: 'done' | 'stopped';
      /** 'stopped': early stopping ended the run after this epoch. */
      stoppedAfter?: number;
      final: FinalMetrics;
      /** --early-stop or --save-best: the best epoch and its watched value. */
      best?: { epoch: number; value: number };
      /** --early-stop or --save-best: the epoch whose weights the network now holds (the best one, when its weights were kept). */
      keptEpoch?: number;
      /** Epochs since the best one when early stopping ended the run. */
      since?: number;
      epochsRun: number;
    };

/**
 * One training run below the CLI: the SGD trainer and its optimizer, the
 * learning-rate schedule, early stopping (replayed over a resumed run's
 * history, its best weights restored at the end) and the final test metrics.
 * It prints nothing and writes nothing: the hooks hear each batch and epoch,
 * and `checkpoint` is handed what to persist. The same spec and seed give the
 * same weights bit for bit.
 */
export class TrainingRun {
  readonly trainer: SgdTrainer;
  /** η of each step (epoch and batch, 1-based), when a schedule or warm-up changes it; absent for a constant rate. */
  readonly rate?: (epoch: number, batch: number) => number;
  readonly early?: EarlyStopping;

  constructor(readonly spec: RunSpec) {
    const { record: run, ds, net, rng, kernels } = spec;
    const dropout = run.dropout ? { p: run.dropout, rng } : undefined;
    const augment = run.augment && ds.shape ? { augmenter: new Augmenter(run.augment, ds.shape[0], ds.shape[1]), rng } : undefined;
    this.trainer = new SgdTrainer(net, { ...run, dropout, augment }, kernels);
    if (spec.optimizerState) this.trainer.optimizer?.restore(spec.optimizerState);
    const batches = Math.ceil(ds.train.count / run.batchSize);
    this.rate = run.schedule ? scheduleRate(run.schedule, run.lr, run.epochs, batches, () => spec.state.history) : undefined;
    // --save-best without --early-stop: the same watch of the best epoch, with a patience that never runs out.
    const watch = run.earlyStop ?? (run.saveBest ? { metric: run.saveBest, patience: Infinity } : undefined);
    if (watch) {
      const early = (this.early = new EarlyStopping(watch.metric, watch.patience));
      if (spec.state.history.length) {
        early.replay(spec.state.history);
        if (early.best) early.bestWeights = spec.bestWeights?.();
      }
    }
  }

  /** Where the run is now, for a checkpoint. */
  snapshot(): RunSnapshot {
    return { state: this.spec.state, optimizer: this.trainer.optimizer?.state(), best: this.early?.bestWeights };
  }

  /** Trains from the spec's position to the last epoch, an early stop, a divergence or shouldStop(). */
  async run(hooks: RunHooks = {}): Promise<RunOutcome> {
    const { record: run, ds, net, rng, state } = this.spec;
    const early = this.early;
    const checkpoint = hooks.checkpoint;
    const result = await runTraining(this.trainer, ds.train, rng, state, {
      epochs: run.epochs,
      test: ds.test,
      validation: ds.validation,
      shouldStop: hooks.shouldStop,
      yieldMs: hooks.yieldMs,
      rate: this.rate,
      stopAfter: early ? (m) => early.shouldStop(m.epoch) : undefined,
      onEpochStart: hooks.onEpochStart,
      onBatch: hooks.onBatch,
      onEpochEnd: (m) => {
        const best = early?.observe(m, net) ?? false; // observed whether or not anyone listens
        hooks.onEpochEnd?.(m, best);
      },
      onCheckpoint: checkpoint ? (s) => checkpoint({ state: s, optimizer: this.trainer.optimizer?.state(), best: early?.bestWeights }) : undefined,
    });
    if (result.status === 'interrupted') return { status: 'interrupted', snapshot: this.snapshot() };
    if (result.status === 'diverged') return { status: 'diverged', epoch: result.epoch, batch: result.batch, diagnosis: result.diagnosis };
    // --early-stop: the model is the best epoch's, and so is its test accuracy.
    const keptEpoch = early?.best && early.bestWeights ? early.best.epoch : undefined;
    if (early?.bestWeights) copyWeights(early.bestWeights, net);
    return {
      status: result.status,
      stoppedAfter: result.status === 'stopped' ? result.epoch : undefined,
      since: result.status === 'stopped' && early?.best ? early.since(result.epoch) : undefined,
      final: this.finalMetrics(keptEpoch),
      best: early?.best,
      keptEpoch,
      epochsRun: state.history.length,
    };
  }

  /** The last (or best) epoch already measured the final network on the test set; evaluated here only when it did not. */
  private finalMetrics(bestEpoch: number | undefined): FinalMetrics {
    const { state, ds, net, kernels } = this.spec;
    const last = bestEpoch !== undefined ? state.history.find((m) => m.epoch === bestEpoch) : state.history.at(-1);
    if (last?.testAccuracy !== undefined && last.testLoss !== undefined)
      return { accuracy: last.testAccuracy, loss: last.testLoss, correct: Math.round(last.testAccuracy * ds.test.count), count: ds.test.count };
    const e = evaluate(net, ds.test, kernels);
    return { accuracy: e.accuracy, loss: e.loss, correct: e.correct, count: e.count };
  }
}
