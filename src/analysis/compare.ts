import type { DType, Kernels } from '../linalg/index.js';
import type { ActivationName } from '../nn/activations.js';
import { Network, type Architecture, type InitName } from '../nn/network.js';
import { Rng } from '../base/rng.js';
import type { Dataset } from '../data/dataset.js';
import { evaluate } from '../train/metrics.js';
import { SgdTrainer, type TrainCallbacks } from '../train/sgd.js';
import { initialState, runTraining } from '../train/session.js';
import { evaluationBatch, layerStats, type LayerStats } from './layers.js';

export interface CompareSpec {
  activation: ActivationName;
  init: InitName;
  lr: number;
}

export interface CompareConfig {
  runs: CompareSpec[];
  /** The network, dense or conv, with or without batch normalisation; each run replaces its hidden activation. */
  arch: Architecture;
  batchSize: number;
  epochs: number;
  /** Also measure every N batches (0: at initialisation and epoch ends only). */
  every: number;
  seed: number;
  /** Examples in the evaluation batch the statistics are measured on. */
  evalSize: number;
  /** Number type of the weights and arithmetic (default float32). */
  dtype?: DType;
  /** Asked between batches (runTraining's cadence) and before each run after the first: yes ends the study with the runs so far, the last one as far as it got. */
  shouldStop?: () => boolean;
}

/** One measurement: after `step` batches (epoch = step / batches per epoch). */
export interface Snapshot {
  step: number;
  epoch: number;
  /** Mean cost and accuracy on the test set. */
  testLoss: number;
  testAccuracy: number;
  layers: LayerStats[];
}

export interface CompareRun extends CompareSpec {
  sizes: number[];
  snapshots: Snapshot[];
  /** Layer statistics with activation histograms, at initialisation and at the end. */
  initial: LayerStats[];
  final: LayerStats[];
  diverged?: string;
  /** shouldStop ended this run before its last epoch: its snapshots are those measured. */
  interrupted?: true;
}

/**
 * Trains the same architecture once per activation on identical data and
 * batches: one seed draws the initial weights (scaled by each run's init) and
 * a separate seeded stream shuffles, so every run sees the same batches in the
 * same order. Measures the layers at initialisation, every `every` batches and
 * at each epoch end.
 */
export async function compareActivations(
  ds: Dataset,
  cfg: CompareConfig,
  kernels: Kernels,
  onEpoch?: (run: CompareSpec, epoch: number) => void,
  progress: (run: number) => TrainCallbacks = () => ({}),
): Promise<CompareRun[]> {
  const runs: CompareRun[] = [];
  const batchesPerEpoch = Math.ceil(ds.train.count / cfg.batchSize);
  for (const [i, spec] of cfg.runs.entries()) {
    if (i > 0 && cfg.shouldStop?.()) break;
    const shown = progress(i); // a progress display's callbacks (the CLI's bar), told of each batch
    const arch: Architecture = { ...cfg.arch, activation: spec.activation };
    const sizes = arch.sizes;
    const net = Network.create(arch, spec.init, new Rng(cfg.seed), cfg.dtype);
    const batch = evaluationBatch(net, ds.train, cfg.seed, cfg.evalSize);
    const snapshot = (step: number): Snapshot => {
      const t = evaluate(net, ds.test, kernels);
      return { step, epoch: step / batchesPerEpoch, testLoss: t.loss, testAccuracy: t.accuracy, layers: layerStats(net, batch, kernels) };
    };
    const run: CompareRun = { ...spec, sizes, snapshots: [snapshot(0)], initial: layerStats(net, batch, kernels, true), final: [] };
    const trainer = new SgdTrainer(net, { lr: spec.lr, batchSize: cfg.batchSize, weightDecay: 0 }, kernels);
    let step = 0;
    const result = await runTraining(trainer, ds.train, new Rng(cfg.seed + 1), initialState(ds.train.count), {
      epochs: cfg.epochs,
      evaluate: false,
      shouldStop: cfg.shouldStop,
      onEpochStart: shown.onEpochStart,
      onBatch(...a) {
        shown.onBatch?.(...a);
        step++;
        if (cfg.every > 0 && step % cfg.every === 0 && step % batchesPerEpoch !== 0) run.snapshots.push(snapshot(step));
      },
      onEpochEnd(m) {
        run.snapshots.push(snapshot(step));
        shown.onEpochEnd?.(m);
        onEpoch?.(spec, m.epoch);
      },
    });
    if (result.status === 'interrupted') run.interrupted = true;
    if (result.status === 'diverged') run.diverged = `diverged at epoch ${result.epoch}, batch ${result.batch}: ${result.diagnosis.message}`;
    run.final = layerStats(net, batch, kernels, true);
    runs.push(run);
  }
  return runs;
}
