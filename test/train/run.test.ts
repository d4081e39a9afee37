import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { loadData } from '../../src/data/load.js';
import { jsKernels } from '../../src/linalg/js.js';
import { Network } from '../../src/nn/network.js';
import { watched } from '../../src/train/early-stop.js';
import { initialState, type TrainState } from '../../src/train/session.js';
import { TrainingRun, type RunSnapshot } from '../../src/train/run.js';
import type { RunRecord } from '../../src/train/settings.js';
import type { EpochMetrics } from '../../src/train/sgd.js';
import { OPTIMIZER_DEFAULTS } from '../../src/train/optimizers.js';

// In-process runs of src/train/run.ts: early stopping's choice and restore, and a resume that ends
// with the weights of the uninterrupted run, without spawning the CLI.

const ds = loadData({ data: 'embedded', limit: 300, testLimit: 100, validation: 100, seed: 1 });

function record(over: Partial<RunRecord> = {}): RunRecord {
  return {
    data: 'embedded',
    arch: { sizes: [784, 16, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' },
    init: 'he',
    lr: 0.05,
    batchSize: 16,
    epochs: 4,
    weightDecay: 0,
    seed: 7,
    backend: 'js',
    dtype: 'float32',
    ...over,
  };
}

function start(r: RunRecord, from?: { net: Network; rng: Uint32Array; snapshot: RunSnapshot }): TrainingRun {
  const rng = new Rng(from ? from.rng : r.seed);
  const net = from ? from.net : Network.create(r.arch, r.init, rng, r.dtype);
  const state: TrainState = from ? from.snapshot.state : initialState(ds.train.count);
  return new TrainingRun({ record: r, ds, net, rng, state, kernels: jsKernels, optimizerState: from?.snapshot.optimizer, bestWeights: () => from?.snapshot.best });
}

/** The snapshot as a checkpoint would give it back: nothing shared with the stopped run. */
const copy = (s: RunSnapshot): RunSnapshot => ({ state: structuredClone(s.state), optimizer: structuredClone(s.optimizer), best: s.best?.clone() });

const params = (net: Network) => [...net.weights.map((W) => Array.from(W.data)), ...net.biases.map((b) => Array.from(b))];

describe('TrainingRun', () => {
  it('early stopping stops `patience` epochs after the best validation loss and keeps that epoch’s weights and test accuracy', async () => {
    const r = record({ lr: 0.5, epochs: 40, earlyStop: { patience: 2, metric: 'val-loss' } });
    const run = start(r);
    const snapshots = new Map<number, number[][]>();
    const seen: EpochMetrics[] = [];
    const outcome = await run.run({
      onEpochEnd(m) {
        seen.push(m);
        snapshots.set(m.epoch, params(run.spec.net));
      },
    });
    expect(outcome.status).toBe('stopped');
    if (outcome.status !== 'stopped') return;
    // The oracle: the epoch of the least validation loss, found here from the history.
    const best = seen.reduce((a, m) => (watched('val-loss', m)! < watched('val-loss', a)! ? m : a));
    expect(outcome.keptEpoch).toBe(best.epoch);
    expect(outcome.stoppedAfter).toBe(best.epoch + 2);
    expect(seen.length).toBe(best.epoch + 2);
    expect(params(run.spec.net)).toEqual(snapshots.get(best.epoch));
    expect(outcome.final.accuracy).toBe(best.testAccuracy);
    expect(outcome.final.correct).toBe(Math.round(best.testAccuracy! * 100));
  });

  it('without early stopping the final metrics are the last epoch’s', async () => {
    const run = start(record({ epochs: 2 }));
    const outcome = await run.run();
    expect(outcome.status).toBe('done');
    if (outcome.status !== 'done') return;
    expect(outcome.final.accuracy).toBe(run.spec.state.history[1].testAccuracy);
    expect(outcome.keptEpoch).toBeUndefined();
    expect(outcome.epochsRun).toBe(2);
  });

  it.each([
    ['sgd', record()],
    [
      'adam with a cosine schedule and early stopping',
      record({
        optimizer: { name: 'adam', momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
        lr: 0.003,
        schedule: { name: 'cosine', warmup: 1, decay: 0.1, stepEvery: 1 },
        earlyStop: { patience: 3, metric: 'val-accuracy' },
      }),
    ],
    ['momentum with dropout', record({ optimizer: { name: 'momentum', momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, dropout: 0.2 })],
    [
      'rmsprop with onecycle, clip-norm and label smoothing',
      record({
        optimizer: { ...OPTIMIZER_DEFAULTS, name: 'rmsprop' },
        lr: 0.003,
        schedule: { name: 'onecycle', warmup: 0, decay: 0.1, stepEvery: 1, pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4 },
        clipNorm: 0.5,
        labelSmoothing: 0.1,
      }),
    ],
    [
      'amsgrad with plateau (patience 0) and clip-value',
      record({
        optimizer: { ...OPTIMIZER_DEFAULTS, name: 'amsgrad' },
        lr: 0.03,
        epochs: 5,
        schedule: { name: 'plateau', warmup: 0, decay: 0.5, stepEvery: 1, patience: 0, metric: 'val-accuracy' },
        clipValue: 0.01,
      }),
    ],
    [
      'adagrad with a per-step cosine to η_min after warm-up steps',
      record({ optimizer: { ...OPTIMIZER_DEFAULTS, name: 'adagrad', accumulator: 0.1 }, lr: 0.01, schedule: { name: 'cosine', warmup: 10, decay: 0.1, stepEvery: 1, unit: 'step', etaMin: 0.001 } }),
    ],
    ['sgd with clip-norm (the clipped plain-SGD path)', record({ lr: 0.5, clipNorm: 1 })],
  ])('%s: stopped mid-epoch and resumed from the snapshot, it ends with the uninterrupted run’s weights bit for bit', async (_name, r) => {
    const whole = start(r);
    const w = await whole.run();
    expect(w.status).not.toBe('interrupted');

    const first = start(r);
    let batches = 0;
    const stopped = await first.run({ yieldMs: 0, shouldStop: () => ++batches >= 25 }); // epoch 2 of 19 batches each
    expect(stopped.status).toBe('interrupted');
    if (stopped.status !== 'interrupted') return;
    expect(stopped.snapshot.state.epoch).toBe(2);
    expect(stopped.snapshot.state.batch).toBeGreaterThan(0);
    const resumed = start(r, { net: first.spec.net.clone(), rng: first.spec.rng.state(), snapshot: copy(stopped.snapshot) });
    const rest = await resumed.run();
    expect(rest.status).toBe(w.status);
    expect(params(resumed.spec.net)).toEqual(params(whole.spec.net));
    expect(resumed.spec.state.history.map((m) => [m.loss, m.lr, m.clipped])).toEqual(whole.spec.state.history.map((m) => [m.loss, m.lr, m.clipped]));
    // what the case is about acts within the run: clipping clips, plateau drops η
    if (r.clipNorm || r.clipValue) expect(whole.spec.state.history.some((m) => m.clipped! > 0)).toBe(true);
    if (r.schedule?.name === 'plateau') expect(whole.spec.state.history.at(-1)!.lr).toBeLessThan(r.lr);
  });
});
