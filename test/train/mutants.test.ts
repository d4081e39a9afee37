// evaluate() by hand and runTraining's epochs, interruptions and divergence in process
// (written against the mutants Stryker left alive in src/train, which the CLI tests reach only through dist/).
import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import { backprop } from '../../src/nn/backprop.js';
import { Rng } from '../../src/base/rng.js';
import type { Examples } from '../../src/data/dataset.js';
import { argmaxColumn, evaluate, outputs } from '../../src/train/metrics.js';
import { SgdTrainer, type EpochMetrics } from '../../src/train/sgd.js';
import { initialState, runTraining, type TrainState } from '../../src/train/session.js';

describe('evaluate, by hand', () => {
  // One layer, linear, quadratic: a = (x, 0.5 − x). x = 2 → (2, −1.5), predicted 0; x = −1 → (−1, 1.5), predicted 1;
  // x = 0.25 → (0.25, 0.25), a tie: the first class. Labels (0, 0, 1).
  const net = () => new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'linear', cost: 'quadratic' }, [Matrix.from(2, 1, [1, -1], 'float64')], [Float64Array.from([0, 0.5])]);
  const ex: Examples = { features: Float32Array.from([2, -1, 0.25]), labels: Uint8Array.from([0, 0, 1]), count: 3, dim: 1 };
  for (const chunk of [1000, 2, 1]) {
    it(`loss, accuracy, confusion and outputs (chunks of ${chunk})`, () => {
      const e = evaluate(net(), ex, jsKernels, chunk);
      // ½‖a − y‖²: ½(1 + 2.25), ½(4 + 2.25), ½(0.0625 + 0.5625)
      expect(e.loss).toBeCloseTo((1.625 + 3.125 + 0.3125) / 3, 12);
      expect([e.accuracy, e.correct, e.count]).toEqual([1 / 3, 1, 3]);
      expect(e.confusion).toEqual([
        [1, 1],
        [1, 0],
      ]);
      expect(Array.from(e.predictions)).toEqual([0, 1, 0]);
      expect(Array.from(e.trueOutputs)).toEqual([2, -1, 0.25]);
      expect(Array.from(e.predictedOutputs)).toEqual([2, 1.5, 0.25]);
    });
  }
  it('no examples: accuracy 0, not NaN', () => {
    const e = evaluate(net(), { features: new Float32Array(0), labels: new Uint8Array(0), count: 0, dim: 1 }, jsKernels);
    expect([e.accuracy, e.correct, e.count]).toEqual([0, 0, 0]);
  });
  it('outputs() is A^L of one example; argmaxColumn takes the first of equal entries', () => {
    expect(outputs(net(), [2], jsKernels)).toEqual([2, -1.5]);
    const a = Matrix.from(3, 3, [1, 5, 2, 3, 5, 2, 3, 0, 7], 'float64');
    expect([0, 1, 2].map((j) => argmaxColumn(a, j))).toEqual([1, 0, 2]);
  });
});

/** 12 points in 2-D, class 1 when x₀ > x₁. */
function points(seed: number, n = 12): Examples {
  const rng = new Rng(seed),
    features = new Float32Array(2 * n),
    labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    features[2 * i] = rng.uniform();
    features[2 * i + 1] = rng.uniform();
    labels[i] = features[2 * i] > features[2 * i + 1] ? 1 : 0;
  }
  return { features, labels, count: n, dim: 2 };
}

function trainer(lr = 0.5, output: 'sigmoid' | 'linear' = 'sigmoid') {
  const net = Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: output, cost: 'quadratic' }, 'xavier', new Rng(11), 'float64');
  return new SgdTrainer(net, { lr, batchSize: 5, weightDecay: 0 }, jsKernels);
}

describe('runTraining', () => {
  const train = points(1),
    test = points(2, 7),
    validation = points(3, 4);

  it('each epoch: the mean of its batch losses, the running accuracy, and test/validation from evaluate() at its end', async () => {
    const t = trainer(),
      state = initialState(train.count);
    const batchLosses: number[] = [],
      batches: number[] = [],
      ends: EpochMetrics[] = [],
      checkpoints: TrainState[] = [];
    const starts: [number, number][] = [];
    let lastEval: ReturnType<typeof evaluate> | undefined;
    const r = await runTraining(t, train, new Rng(4), state, {
      epochs: 2,
      test,
      validation,
      onEpochStart: (e, n) => starts.push([e, n]),
      onBatch: (_e, b, loss, _acc, seen) => {
        batchLosses.push(loss);
        batches.push(b);
        expect(seen).toBe(Math.min(5 * b, 12));
      },
      onEpochEnd: (m) => {
        ends.push(m);
        lastEval = evaluate(t.net, test, jsKernels);
      },
      onCheckpoint: (s) => {
        checkpoints.push({ ...s, order: s.order.slice() });
      },
    });
    expect(r).toEqual({ status: 'done' });
    expect(starts).toEqual([
      [1, 3],
      [2, 3],
    ]); // ⌈12/5⌉ batches, the last of 2
    expect(batches).toEqual([1, 2, 3, 1, 2, 3]);
    expect(ends.map((m) => m.epoch)).toEqual([1, 2]);
    expect(ends[1].loss).toBe(batchLosses[5]); // the running mean at the last batch
    expect(ends[1].testLoss).toBe(lastEval!.loss);
    expect(ends[1].testAccuracy).toBe(lastEval!.accuracy);
    expect(ends[1].validationLoss).toBe(evaluate(t.net, validation, jsKernels).loss);
    expect(ends[1].validationAccuracy).toBe(evaluate(t.net, validation, jsKernels).accuracy);
    expect(ends.every((m) => m.seconds >= 0 && m.trainAccuracy >= 0 && m.trainAccuracy <= 1)).toBe(true);
    expect(state.history).toEqual(ends);
    // the state as the next epoch finds it
    expect(checkpoints.map((s) => [s.epoch, s.batch, s.totalLoss, s.correct, s.seen, s.seconds])).toEqual([
      [2, 0, 0, 0, 0, 0],
      [3, 0, 0, 0, 0, 0],
    ]);
    expect(Array.from(checkpoints[0].order).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('evaluate: false and no test set skip the test columns', async () => {
    const ends: EpochMetrics[] = [];
    await runTraining(trainer(), train, new Rng(4), initialState(train.count), { epochs: 1, test, evaluate: false, onEpochEnd: (m) => ends.push(m) });
    await runTraining(trainer(), train, new Rng(4), initialState(train.count), { epochs: 1, onEpochEnd: (m) => ends.push(m) });
    expect(ends.map((m) => m.testLoss)).toEqual([undefined, undefined]);
  });

  it('stopped between batches, then resumed from its state: the weights of an uninterrupted run', async () => {
    const straight = trainer();
    await runTraining(straight, train, new Rng(4), initialState(train.count), { epochs: 3 });
    for (const stopAt of [1, 2, 3]) {
      const t = trainer(),
        rng = new Rng(4),
        state = initialState(train.count);
      let asks = 0;
      const first = await runTraining(t, train, rng, state, { epochs: 3, yieldMs: 0, shouldStop: () => ++asks === stopAt });
      expect(first).toEqual({ status: 'interrupted' });
      expect(state.batch).toBe(stopAt === 3 ? 0 : stopAt); // asked after batches 1 and 2, then at the epoch end
      expect(state.epoch).toBe(stopAt === 3 ? 2 : 1);
      const rest = await runTraining(t, train, rng, state, { epochs: 3 });
      expect(rest).toEqual({ status: 'done' });
      expect(state.history.map((m) => m.epoch)).toEqual([1, 2, 3]);
      for (let l = 0; l < 2; l++) expect(Array.from(t.net.weights[l].data)).toEqual(Array.from(straight.net.weights[l].data));
    }
  });

  it('a loss that goes non-finite stops the run at that batch with a diagnosis, the weights before it kept', async () => {
    const t = trainer(1e200, 'linear');
    const r = await runTraining(t, train, new Rng(4), initialState(train.count), { epochs: 2 });
    expect(r.status).toBe('diverged');
    if (r.status !== 'diverged') return;
    expect([r.epoch, r.batch]).toEqual([1, 2]);
    expect(r.what).toMatch(/^the loss is (Infinity|NaN)$/);
    expect(r.diagnosis.message.length).toBeGreaterThan(0);
    for (const W of t.net.weights) for (const v of W.data) expect(Number.isFinite(v)).toBe(true);
  });
});

describe('SgdTrainer', () => {
  const train = points(1);
  it('its update W ← (1 − ηλ)W − η∂C/∂W, b ← b − η∂C/∂b (for another gradient method) gives sgdStep’s weights', () => {
    for (const weightDecay of [0, 0.1]) {
      const make = () => Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' }, 'xavier', new Rng(11), 'float64');
      const a = new SgdTrainer(make(), { lr: 0.5, batchSize: 5, weightDecay }, jsKernels);
      const b = new SgdTrainer(make(), { lr: 0.5, batchSize: 5, weightDecay }, jsKernels, (n, w, y, g, k) => backprop(n, w, y, g, k));
      const order = Uint32Array.from({ length: 12 }, (_, i) => i);
      for (const start of [0, 5]) {
        a.step(train, order, start, 5);
        b.step(train, order, start, 5);
      }
      for (let l = 0; l < 2; l++) {
        a.net.weights[l].data.forEach((v, i) => expect(b.net.weights[l].data[i]).toBeCloseTo(v, 13));
        a.net.biases[l].forEach((v, i) => expect(b.net.biases[l][i]).toBeCloseTo(v, 13));
      }
    }
  });
  it('correct counts the batch examples the network classified right before the update; diagnose() before any step answers', () => {
    const t = trainer();
    const order = Uint32Array.from([3, 1, 4, 0, 5, 9, 2, 6, 8, 7, 11, 10]);
    const before = t.net.clone();
    const batch: Examples = { features: new Float32Array(8), labels: new Uint8Array(4), count: 4, dim: 2 };
    for (let j = 0; j < 4; j++) {
      batch.features.set(train.features.subarray(2 * order[2 + j], 2 * order[2 + j] + 2), 2 * j);
      batch.labels[j] = train.labels[order[2 + j]];
    }
    t.step(train, order, 2, 4);
    const right = evaluate(before, batch, jsKernels).correct;
    expect(t.correct).toBe(right);
    // and over every batch of an epoch, with some right and some wrong
    let total = 0,
      wrong = 0;
    for (const start of [0, 4, 8]) {
      const net = t.net.clone();
      const ex: Examples = { features: new Float32Array(8), labels: new Uint8Array(4), count: 4, dim: 2 };
      for (let j = 0; j < 4; j++) {
        ex.features.set(train.features.subarray(2 * order[start + j], 2 * order[start + j] + 2), 2 * j);
        ex.labels[j] = train.labels[order[start + j]];
      }
      t.step(train, order, start, 4);
      const e = evaluate(net, ex, jsKernels);
      expect(t.correct).toBe(e.correct);
      total += e.correct;
      wrong += 4 - e.correct;
    }
    expect(total).toBeGreaterThan(0);
    expect(wrong).toBeGreaterThan(0);
    expect(typeof trainer().diagnose({}).message).toBe('string');
  });
});

describe('runTraining, more', () => {
  const train = points(1);
  it('onBatch reports the running mean loss and accuracy; a diagnosis knows the first batch loss', async () => {
    const t = trainer(1e200, 'linear');
    const seen: [number, number][] = [];
    const r = await runTraining(t, train, new Rng(4), initialState(train.count), { epochs: 1, onBatch: (_e, _b, loss, acc) => seen.push([loss, acc!]) });
    expect(r.status).toBe('diverged');
    if (r.status !== 'diverged') return;
    expect(r.diagnosis.firstLoss).toBe(seen[0][0]);
    expect(seen[0][1]).toBeGreaterThanOrEqual(0);
    expect(seen[0][1]).toBeLessThanOrEqual(1);
    expect(seen[0][1] * 5).toBeCloseTo(Math.round(seen[0][1] * 5), 12); // correct / 5
  });
  it('weights that overflow in the last step of an epoch stop the run there: "a weight is not finite"', async () => {
    // float32 weights of 1e30: the loss (summed in float64) stays finite, the update overflows float32
    const net = Network.create({ sizes: [2, 2], activation: 'relu', outputActivation: 'linear', cost: 'quadratic' }, 'xavier', new Rng(1), 'float32');
    net.weights[0].data.fill(1e30);
    const t = new SgdTrainer(net, { lr: 1e10, batchSize: 12, weightDecay: 0 }, jsKernels);
    const r = await runTraining(t, train, new Rng(4), initialState(train.count), { epochs: 3 });
    expect(r.status).toBe('diverged');
    if (r.status !== 'diverged') return;
    expect([r.epoch, r.batch, r.what]).toEqual([1, 1, 'a weight is not finite']);
  });
  it('asked to stop after the last epoch: done, not interrupted; epoch seconds between 0 and the wall time', async () => {
    const t0 = performance.now();
    const state = initialState(train.count);
    const r = await runTraining(trainer(), train, new Rng(4), state, { epochs: 2, test: points(2, 7), shouldStop: () => state.epoch === 2 && state.batch === 3 });
    const wall = (performance.now() - t0) / 1000;
    expect(r).toEqual({ status: 'done' });
    for (const m of state.history) {
      expect(m.seconds).toBeGreaterThanOrEqual(0);
      expect(m.seconds).toBeLessThanOrEqual(wall);
    }
  });
  it('epoch seconds, and the seconds an interrupted epoch carries, lie between 0 and the wall time', async () => {
    const t0 = performance.now();
    const state = initialState(train.count);
    let asks = 0;
    const r = await runTraining(trainer(), train, new Rng(4), state, { epochs: 2, yieldMs: 0, shouldStop: () => ++asks === 4 });
    const mid = (performance.now() - t0) / 1000;
    expect(r).toEqual({ status: 'interrupted' });
    expect(state.seconds).toBeGreaterThanOrEqual(0);
    expect(state.seconds).toBeLessThanOrEqual(mid);
    await runTraining(trainer(), train, new Rng(4), state, { epochs: 2 });
    const wall = (performance.now() - t0) / 1000;
    for (const m of state.history) {
      expect(m.seconds).toBeGreaterThanOrEqual(0);
      expect(m.seconds).toBeLessThanOrEqual(wall);
    }
  });
  it('argmaxColumn finds a maximum after the first rise', () => {
    expect(argmaxColumn(Matrix.from(3, 2, [0, 1, 0, 3, 0, 5], 'float64'), 1)).toBe(2);
  });
});
