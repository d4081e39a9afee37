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
import { evaluate } from '../../src/train/metrics.js';
import { oneCycleRate } from '../../src/train/schedule.js';
import { Augmenter } from '../../src/data/augment.js';

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
    const flags: boolean[] = [];
    const outcome = await run.run({
      onEpochEnd(m, best) {
        seen.push(m);
        flags.push(best);
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
    expect(outcome.since).toBe(2);
    // onEpochEnd hears `best` exactly at the epochs whose validation loss beats every earlier one
    expect(flags).toEqual(seen.map((m, i) => seen.slice(0, i).every((p) => m.validationLoss! < p.validationLoss!)));
  });

  it('without early stopping the final metrics are the last epoch’s', async () => {
    const run = start(record({ epochs: 2 }));
    const flags: boolean[] = [];
    const outcome = await run.run({ onEpochEnd: (_m, best) => flags.push(best) });
    expect(outcome.status).toBe('done');
    if (outcome.status !== 'done') return;
    expect(flags).toEqual([false, false]); // nothing watched: no epoch is called best
    expect(outcome.stoppedAfter).toBeUndefined();
    expect(outcome.since).toBeUndefined();
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

describe('TrainingRun, its parts (mutation testing)', () => {
  // A run resumed after its last epoch trains nothing: what it reports comes from the history given.
  const m = (epoch: number, over: Partial<EpochMetrics> = {}): EpochMetrics => ({ epoch, loss: 1, trainAccuracy: 0.5, lr: 0.05, seconds: 0, ...over });
  const finished = (r: RunRecord, history: EpochMetrics[], bestWeights?: () => Network | undefined) => {
    const rng = new Rng(r.seed);
    const net = Network.create(r.arch, r.init, rng, r.dtype);
    const state: TrainState = { ...initialState(ds.train.count), epoch: r.epochs + 1, history };
    return new TrainingRun({ record: r, ds, net, rng, state, kernels: jsKernels, bestWeights });
  };
  const measured = (net: Network) => {
    const e = evaluate(net, ds.test, jsKernels);
    return { accuracy: e.accuracy, loss: e.loss, correct: e.correct, count: e.count };
  };

  it("the final metrics are the last epoch's as recorded, not measured again", async () => {
    const run = finished(
      record({ epochs: 3 }),
      [1, 2, 3].map((e) => m(e, { testAccuracy: 0.11 * e, testLoss: 7 + e })),
    );
    const outcome = await run.run();
    expect(outcome.status).toBe('done');
    if (outcome.status !== 'done') return;
    expect(outcome.final).toEqual({ accuracy: 0.33, loss: 10, correct: 33, count: 100 });
    expect(outcome.epochsRun).toBe(3);
  });

  it('without both test metrics recorded for the last epoch (or with no epoch at all) the network is measured', async () => {
    for (const last of [{}, { testAccuracy: 0.5 }, { testLoss: 9 }]) {
      const run = finished(record({ epochs: 2 }), [m(1, { testAccuracy: 0.2, testLoss: 8 }), m(2, last)]);
      const outcome = await run.run();
      if (outcome.status !== 'done') throw new Error(outcome.status);
      expect(outcome.final).toEqual(measured(run.spec.net));
    }
    const none = finished(record({ epochs: 0 }), []);
    const outcome = await none.run();
    if (outcome.status !== 'done') throw new Error(outcome.status);
    expect(outcome.final).toEqual(measured(none.spec.net));
  });

  it('--save-best resumed: the replay finds the best epoch, its kept weights are restored, and its recorded metrics are the final ones', async () => {
    const history = [0.5, 0.3, 0.4].map((v, i) => m(i + 1, { validationLoss: v, testAccuracy: 0.11 * (i + 1), testLoss: 7 + i }));
    const kept = Network.create(record().arch, 'he', new Rng(99));
    let asked = 0;
    const run = finished(record({ epochs: 3, saveBest: 'val-loss' }), history, () => (asked++, kept.clone()));
    expect(run.early?.best).toEqual({ epoch: 2, value: 0.3 });
    expect(asked).toBe(1);
    const outcome = await run.run();
    if (outcome.status !== 'done') throw new Error(outcome.status);
    expect(outcome).toMatchObject({ keptEpoch: 2, best: { epoch: 2, value: 0.3 }, final: { accuracy: 0.22, loss: 8, correct: 22, count: 100 } });
    expect(outcome.since).toBeUndefined(); // done, not stopped
    expect(outcome.stoppedAfter).toBeUndefined();
    expect(params(run.spec.net)).toEqual(params(kept));
  });

  it('resumed with no best epoch (nothing watched was recorded), the kept weights are not asked for; a best without kept weights keeps the last', async () => {
    let asked = 0;
    const none = finished(
      record({ epochs: 2, saveBest: 'val-loss' }),
      [m(1, { testAccuracy: 0.2, testLoss: 8 }), m(2, { testAccuracy: 0.3, testLoss: 9 })],
      () => (asked++, Network.create(record().arch, 'he', new Rng(99))),
    );
    const before = params(none.spec.net);
    expect(none.early?.best).toBeUndefined();
    const a = await none.run();
    expect(asked).toBe(0);
    expect(params(none.spec.net)).toEqual(before);
    if (a.status !== 'done') throw new Error(a.status);
    expect([a.keptEpoch, a.final.accuracy]).toEqual([undefined, 0.3]);
    // a best epoch, but a checkpoint with no weights of it (no bestWeights given at all)
    const history = [0.5, 0.6].map((v, i) => m(i + 1, { validationLoss: v, testAccuracy: 0.1 * (i + 1), testLoss: 7 + i }));
    const bare = finished(record({ epochs: 2, saveBest: 'val-loss' }), history);
    expect(bare.early?.best?.epoch).toBe(1);
    const b = await bare.run();
    if (b.status !== 'done') throw new Error(b.status);
    expect([b.keptEpoch, b.final.accuracy]).toEqual([undefined, 0.2]);
  });

  it('the per-step schedule counts ⌈300/16⌉ = 19 batches an epoch', () => {
    const schedule = { name: 'onecycle', warmup: 0, decay: 0.1, stepEvery: 1 } as const;
    const run = start(record({ schedule, epochs: 4 }));
    expect(run.rate!(2, 1)).toBe(oneCycleRate({}, 0.05, 20, 76)); // step 20 of 4 · 19
  });

  it('--augment gives the trainer an augmenter of the images’ shape; plain SGD ignores an optimizer state', () => {
    const run = start(record({ augment: { shift: 2 } }));
    expect(run.trainer.opts.augment?.augmenter).toBeInstanceOf(Augmenter);
    expect(run.trainer.opts.augment?.rng).toBe(run.spec.rng);
    expect(start(record()).trainer.opts.augment).toBeUndefined();
    const rng = new Rng(1);
    const net = Network.create(record().arch, 'he', rng);
    const sgd = new TrainingRun({ record: record(), ds, net, rng, state: initialState(ds.train.count), kernels: jsKernels, optimizerState: { t: 1 } as never });
    expect(sgd.trainer.optimizer).toBeUndefined();
  });

  it('checkpoints hold the next epoch’s state, the optimizer’s state and the best weights (none of either without them)', async () => {
    const snaps: RunSnapshot[] = [];
    await start(record({ epochs: 1 })).run({ checkpoint: (s) => void snaps.push(s) });
    expect(snaps.map((s) => [s.state.epoch, s.state.batch, s.optimizer, s.best])).toEqual([[2, 0, undefined, undefined]]);
    const run = start(record({ epochs: 1, saveBest: 'val-loss', optimizer: { ...OPTIMIZER_DEFAULTS, name: 'momentum' } }));
    await run.run({ checkpoint: (s) => void snaps.push(s) });
    expect(snaps[1].optimizer).toEqual(run.trainer.optimizer!.state());
    expect(params(snaps[1].best!)).toEqual(params(run.spec.net));
  });

  it('a diverging run says where', async () => {
    const outcome = await start(record({ lr: 1e30, epochs: 2 })).run();
    expect(outcome).toMatchObject({ status: 'diverged', epoch: 1 });
    if (outcome.status !== 'diverged') return;
    expect(outcome.batch).toBeGreaterThan(0);
    expect(outcome.diagnosis).toBeDefined();
  });
});
