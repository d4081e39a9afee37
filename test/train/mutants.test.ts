// evaluate() by hand and runTraining's epochs, interruptions and divergence in process
// (written against the mutants Stryker left alive in src/train, which the CLI tests reach only through dist/).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import { backprop, drawDropoutMasks, Gradients, sgdStep, Workspace, type GradientMethod } from '../../src/nn/backprop.js';
import { Rng } from '../../src/base/rng.js';
import { fillBatch, type Examples } from '../../src/data/dataset.js';
import { argmaxColumn, evaluate, outputs } from '../../src/train/metrics.js';
import { SgdTrainer, type EpochMetrics } from '../../src/train/sgd.js';
import { initialState, runTraining, type TrainState } from '../../src/train/session.js';
import { diagnose, firstNonFinite } from '../../src/train/diagnose.js';
import { Optimizer, OPTIMIZER_DEFAULTS, OPTIMIZERS, slotCount, type OptimizerName } from '../../src/train/optimizers.js';
import { copyWeights, EarlyStopping, watched } from '../../src/train/early-stop.js';
import { learningRate, type Schedule, type ScheduleName } from '../../src/train/schedule.js';
import { CSV_COLUMNS, RunLog, type LogRecord } from '../../src/train/run-log.js';
import type { Augmenter } from '../../src/data/augment.js';

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

describe('diagnose(), by hand on a planted pass', () => {
  // A 2-2-2 float64 network, linear output, quadratic cost: |W¹| reaches 2, |W²| reaches 4. One finite pass of a
  // batch of 2; each test plants the non-finite value it is about (or none) and reads the diagnosis.
  function pass(output: 'linear' | 'sigmoid' = 'linear', dtype: 'float32' | 'float64' = 'float64') {
    const net = new Network(
      { sizes: [2, 2, 2], activation: 'tanh', outputActivation: output, cost: 'quadratic' },
      [Matrix.from(2, 2, [0.5, -1, 2, 0.25], dtype), Matrix.from(2, 2, [1, -3, 0.5, -4], dtype)],
      dtype === 'float64' ? [Float64Array.from([0.1, -0.2]), Float64Array.from([0, 0.3])] : [Float32Array.from([0.1, -0.2]), Float32Array.from([0, 0.3])],
    );
    const ws = new Workspace(net, 2);
    ws.input.data.set([0.5, 1, -1, 0.25]);
    const y = Matrix.from(2, 2, [1, 0, 0, 1], dtype);
    backprop(net, ws, y, new Gradients(net), jsKernels);
    return { net, ws, y };
  }
  const flat = { first: 1, lowest: 1, last: 1 };
  const lower = 'try a smaller learning rate, e.g. --lr 0.01';

  it('a finite pass: the loss became NaN, an overflow, with no layer', () => {
    const { net, ws, y } = pass();
    expect(firstNonFinite(net, ws, y)).toBeUndefined();
    expect(diagnose(net, ws, y, {}, 0.1)).toEqual({ kind: 'non-finite', cause: 'overflow', message: `the loss became NaN: ${lower}` });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({ kind: 'non-finite', cause: 'overflow', firstLoss: 1, lowestLoss: 1, lastLoss: 1, message: `the loss became NaN: ${lower}` });
  });

  it('rising: above the first loss and more than twice the lowest, both strictly', () => {
    const { net, ws, y } = pass();
    const d = diagnose(net, ws, y, { first: 1, lowest: 1, last: 3 }, 0.1);
    expect(d).toEqual({
      kind: 'loss-blew-up',
      cause: 'learning-rate',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 3,
      message: `the loss blew up: it rose from 1.00 at its lowest to 3.00, then the loss became NaN; ${lower}`,
    });
    // not above the first, not above twice the lowest, below the first though above twice the lowest
    for (const losses of [
      { first: 3, lowest: 1, last: 3 },
      { first: 1, lowest: 1.5, last: 3 },
      { first: 5, lowest: 1, last: 3 },
    ])
      expect(diagnose(net, ws, y, losses, 0.1)).toMatchObject({ kind: 'non-finite', cause: 'overflow', message: `the loss became NaN: ${lower}` });
  });

  it('the advice: a tenth of η, or a smaller weight decay once ηλ ≥ 1 (from exactly 1)', () => {
    const { net, ws, y } = pass();
    expect(diagnose(net, ws, y, {}, 0.4, 2).message).toBe('the loss became NaN: try a smaller learning rate, e.g. --lr 0.04');
    expect(diagnose(net, ws, y, {}, 0.5, 2).message).toBe(
      'the loss became NaN: --weight-decay 2 with η = 0.5 scales W by 1 − ηλ = 0.00 each step (it must stay within (0, 1)): try a smaller --weight-decay, e.g. 0.2',
    );
    expect(diagnose(net, ws, y, {}, 1, 3).message).toBe(
      'the loss became NaN: --weight-decay 3 with η = 1 scales W by 1 − ηλ = -2.00 each step (it must stay within (0, 1)): try a smaller --weight-decay, e.g. 0.1',
    );
  });

  it('a non-finite input: the data, before anything else (even a rising loss)', () => {
    const { net, ws, y } = pass();
    ws.x.data[1] = NaN;
    ws.z[1].data[0] = Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'input', layer: 0, value: NaN });
    expect(diagnose(net, ws, y, { first: 1, lowest: 1, last: 3 }, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'data',
      layer: 0,
      quantity: 'input',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 3,
      message: 'an input of the batch is NaN: the data holds a non-finite value',
    });
  });

  it('non-finite weights of any layer, or only a bias: the learning rate, whatever the loss did', () => {
    let { net, ws, y } = pass();
    net.weights[1].data[2] = Infinity;
    ws.z[1].data[0] = NaN; // the weights are looked at first
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 2, value: Infinity });
    net.weights[0].data[0] = NaN; // a NaN weight is named as NaN (it is falsy: it once fell through to the finite biases, "W^1 became 0")
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 1, value: NaN });
    net.weights[0].data[0] = 0;
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'loss-blew-up',
      cause: 'learning-rate',
      layer: 2,
      quantity: 'weights',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message: `the loss blew up: W^2 became Infinity in the last update; ${lower}`,
    });
    ({ net, ws, y } = pass());
    net.biases[0][1] = -Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 1, value: -Infinity });
    expect(diagnose(net, ws, y, flat, 0.1).message).toBe(`the loss blew up: W^1 became -Infinity in the last update; ${lower}`);
    ({ net, ws, y } = pass());
    net.weights[0].data[0] = -Infinity;
    net.biases[0][0] = Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 1, value: -Infinity });
  });

  it('z or a overflowing: the layer, its largest weight, float64 offered only for float32; the data only for layer 1 past 10⁶', () => {
    let { net, ws, y } = pass();
    ws.z[2].data[1] = -Infinity;
    ws.x.data[0] = 2e6; // huge inputs, but layer 1 is fine
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'z', layer: 2, value: -Infinity });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'overflow',
      layer: 2,
      quantity: 'z',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message: `layer 2 overflowed float64 (z^2 became -Infinity, its weights reach |W| = 4.00) while the loss was 1.00: ${lower}`,
    });
    ({ net, ws, y } = pass());
    ws.a[2].data[3] = NaN;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'a', layer: 2, value: NaN });
    expect(diagnose(net, ws, y, {}, 0.1).message).toBe(`layer 2 overflowed float64 (a^2 became NaN, its weights reach |W| = 4.00) on the first batch: ${lower}`);
    ({ net, ws, y } = pass());
    ws.a[1].data[0] = Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'a', layer: 1, value: Infinity });
    // layer 1: the inputs at 10⁶ are not yet huge; past it they are
    for (const [input, cause] of [
      [1e6, 'overflow'],
      [0.5, 'overflow'],
      [2e6, 'data'],
    ] as const) {
      ({ net, ws, y } = pass());
      ws.x.data[2] = input;
      ws.z[1].data[1] = NaN;
      const d = diagnose(net, ws, y, { first: 0.5, lowest: 0.5, last: 0.5 }, 0.1);
      expect(d).toMatchObject({ kind: 'non-finite', cause, layer: 1, quantity: 'z' });
      expect(d.message).toBe(
        cause === 'data'
          ? 'layer 1 overflowed (z^1 became NaN) while the loss was 0.500: the inputs reach 2.0e+6; scale them to [0, 1]'
          : `layer 1 overflowed float64 (z^1 became NaN, its weights reach |W| = 2.00) while the loss was 0.500: ${lower}`,
      );
    }
    ({ net, ws, y } = pass('linear', 'float32'));
    ws.z[2].data[0] = Infinity;
    expect(diagnose(net, ws, y, {}, 0.1).message).toBe(`layer 2 overflowed float32 (z^2 became Infinity, its weights reach |W| = 4.00) on the first batch: ${lower}, or --dtype float64`);
  });

  it('a non-finite cost or δ^L from finite z and a: the pairing; δ below the output: overflow through the next weights', () => {
    let { net, ws, y } = pass();
    ws.z[2].data[0] = ws.a[2].data[0] = 1e200; // finite, but ½(a − y)² is not
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'cost', layer: 2, value: Infinity });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'pairing',
      layer: 2,
      quantity: 'cost',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message:
        'the cost became Infinity at the output layer (quadratic cost after a linear output) from finite z^2 and a^2 while the loss was 1.00: a numerical fault of this cost/activation pairing, not the learning rate',
    });
    ({ net, ws, y } = pass('sigmoid'));
    ws.delta[2].data[1] = NaN;
    ws.delta[1].data[0] = Infinity; // δ^L is computed first
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'delta', layer: 2, value: NaN });
    expect(diagnose(net, ws, y, {}, 0.1)).toMatchObject({
      cause: 'pairing',
      message:
        'δ^2 became NaN at the output layer (quadratic cost after a sigmoid output) from finite z^2 and a^2 on the first batch: a numerical fault of this cost/activation pairing, not the learning rate',
    });
    ({ net, ws, y } = pass());
    ws.delta[1].data[3] = -Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'delta', layer: 1, value: -Infinity });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'overflow',
      layer: 1,
      quantity: 'delta',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message: `δ^1 overflowed float64 back-propagating through W^2 (|W| up to 4.00; δ^1 became -Infinity) while the loss was 1.00: ${lower}`,
    });
  });

  it('numbers in messages: 3 significant digits, exponential from 10⁵ and below 10⁻³ (0 as 0.00)', () => {
    const { net, ws, y } = pass();
    ws.z[2].data[0] = NaN;
    const shown = (last: number) => /while the loss was (\S+):/.exec(diagnose(net, ws, y, { first: last, lowest: last, last }, 0.1).message)![1];
    expect([1e5, 99999, 0.5, 1e-3, 2e-4, 0, -0.25].map(shown)).toEqual(['1.0e+5', '1.00e+5', '0.500', '0.00100', '2.0e-4', '0.00', '-0.250']);
  });
});

describe('runTraining: schedules, early stops, yields and overflowing weights', () => {
  const train = points(1);
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };

  it('rate(epoch) sets η as each epoch starts: the epochs report it and train at it', async () => {
    const t = trainer(),
      ends: EpochMetrics[] = [];
    await runTraining(t, train, new Rng(4), initialState(train.count), { epochs: 3, rate: (e) => 0.1 * e, onEpochEnd: (m) => ends.push(m) });
    expect(ends.map((m) => m.lr)).toEqual([0.1, 0.2, 0.1 * 3]);
    // the same run with η set by hand between one-epoch runs
    const byHand = trainer(),
      rng = new Rng(4),
      state = initialState(train.count);
    for (const e of [1, 2, 3]) {
      byHand.lr = 0.1 * e;
      await runTraining(byHand, train, rng, state, { epochs: e });
    }
    for (let l = 0; l < 2; l++) expect(Array.from(t.net.weights[l].data)).toEqual(Array.from(byHand.net.weights[l].data));
  });

  it('onBatch gets the epoch’s running accuracy: the examples classified right so far over those seen', async () => {
    const t = trainer();
    let right = 0,
      some = 0;
    await runTraining(t, train, new Rng(4), initialState(train.count), {
      epochs: 2,
      onEpochStart: () => (right = 0),
      onBatch: (_e, _b, _loss, acc, seen) => {
        right += t.correct;
        some += right > 0 && right < seen! ? 1 : 0;
        expect(acc).toBe(right / seen!);
      },
    });
    expect(some).toBeGreaterThan(0);
  });

  it('stopAfter ends the run after that epoch, pointing at the next; not after the last one', async () => {
    const t = trainer(),
      rng = new Rng(4),
      state = initialState(train.count);
    const r = await runTraining(t, train, rng, state, { epochs: 3, stopAfter: (m) => m.epoch === 1 });
    expect(r).toEqual({ status: 'stopped', epoch: 1 });
    expect([state.epoch, state.batch, state.history.length]).toEqual([2, 0, 1]);
    expect(await runTraining(t, train, rng, state, { epochs: 3 })).toEqual({ status: 'done' });
    expect(state.history.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(await runTraining(trainer(), train, new Rng(4), initialState(train.count), { epochs: 1, stopAfter: () => true })).toEqual({ status: 'done' });
  });

  it('shouldStop is asked inside an epoch only after a yield: with yieldMs never reached, only at the epoch end', async () => {
    const state = initialState(train.count);
    const r = await runTraining(trainer(), train, new Rng(4), state, { epochs: 2, yieldMs: 1e9, shouldStop: () => true });
    expect(r).toEqual({ status: 'interrupted' });
    expect([state.epoch, state.batch]).toEqual([2, 0]);
  });

  it('an epoch of one batch yields to the event loop at its end, so that a signal arrives', async () => {
    let signalled = false;
    setImmediate(() => (signalled = true));
    const state = initialState(train.count);
    const one = new SgdTrainer(trainer().net, { lr: 0.5, batchSize: 12, weightDecay: 0 }, jsKernels);
    const r = await runTraining(one, train, new Rng(4), state, { epochs: 5, yieldMs: 0, shouldStop: () => signalled });
    expect(r).toEqual({ status: 'interrupted' });
    expect([state.epoch, state.batch]).toEqual([2, 0]);
  });

  it('no yield before yieldMs ms have passed: a signal waits for the end of the run (inside epochs and at their ends)', async () => {
    // yieldMs of this worker's age, at least 1 s: far longer than these runs (one batch or epoch is held up 60 ms).
    while (performance.now() < 1000) await new Promise((r) => setTimeout(r, 50));
    for (const batchSize of [12, 5]) {
      let signalled = false,
        held = false;
      setImmediate(() => (signalled = true));
      const t = new SgdTrainer(trainer().net, { lr: 0.5, batchSize, weightDecay: 0 }, jsKernels);
      const hold = () => {
        if (!held) busy(60);
        held = true;
      };
      const r = await runTraining(t, train, new Rng(4), initialState(train.count), {
        epochs: 3,
        yieldMs: performance.now(),
        shouldStop: () => signalled,
        onBatch: batchSize === 5 ? hold : undefined,
        onEpochEnd: batchSize === 12 ? hold : undefined,
      });
      expect(r).toEqual({ status: 'done' });
      expect(signalled).toBe(false);
      await new Promise((r) => setImmediate(r));
      expect(signalled).toBe(true);
    }
  });

  // float32, one input, one linear output, quadratic cost, lr 3, a batch of one example: the loss (in float64) and
  // every δ stay finite, and the update overflows either W only (x = 10¹⁰) or b only (x = 0).
  for (const [what, W, b, x] of [
    ['weights', 1e20, 0, 1e10],
    ['biases', 1, -3e38, 0],
  ] as const)
    it(`${what} alone overflowing float32 in an update: "a weight is not finite" at that epoch's end`, async () => {
      const net = new Network({ sizes: [1, 1], activation: 'relu', outputActivation: 'linear', cost: 'quadratic' }, [Matrix.from(1, 1, [W], 'float32')], [Float32Array.from([b])]);
      const one: Examples = { features: Float32Array.from([x]), labels: Uint8Array.from([0]), count: 1, dim: 1 };
      const t = new SgdTrainer(net, { lr: 3, batchSize: 1, weightDecay: 0 }, jsKernels);
      const r = await runTraining(t, one, new Rng(4), initialState(1), { epochs: 2 });
      expect(what === 'weights' ? net.weights[0].data[0] : net.biases[0][0]).toBe(what === 'weights' ? -Infinity : Infinity);
      expect(Number.isFinite(what === 'weights' ? net.biases[0][0] : net.weights[0].data[0])).toBe(true);
      expect(r).toMatchObject({ status: 'diverged', epoch: 1, batch: 1, what: 'a weight is not finite', diagnosis: { quantity: 'weights', layer: 1 } });
    });
});

describe('SgdTrainer: optimizers and dropout', () => {
  const train = points(1),
    order = Uint32Array.from({ length: 12 }, (_, i) => i);
  const make = () => Network.create({ sizes: [2, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' }, 'xavier', new Rng(11), 'float64');
  const weightsOf = (net: Network) => [...net.weights.map((w) => Array.from(w.data)), ...net.biases.map((b) => Array.from(b))];
  const batchOf = (net: Network, start: number, m: number) => {
    const ws = new Workspace(net, m),
      y = Matrix.zeros(2, m, 'float64');
    fillBatch(train, order, start, ws.input, y);
    return { ws, y };
  };

  it('augment: each step distorts the batch it filled (its m images, with the run’s rng) before the passes, which see the distorted inputs', () => {
    const rng = new Rng(5);
    const calls: { length: number; m: number; rng: Rng }[] = [];
    const augmenter = {
      batch(x: Float32Array | Float64Array, m: number, r: Rng) {
        calls.push({ length: x.length, m, rng: r });
        for (let i = 0; i < 2 * m; i++) x[i] = -x[i];
      },
    } as unknown as Augmenter;
    const a = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, augment: { augmenter, rng } }, jsKernels);
    const b = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0 }, jsKernels);
    const negated: Examples = { ...train, features: train.features.map((v) => -v) };
    for (const start of [0, 4]) expect(a.step(train, order, start, 4)).toBe(b.step(negated, order, start, 4));
    expect(weightsOf(a.net)).toEqual(weightsOf(b.net));
    expect(calls.map((c) => [c.length, c.m, c.rng === rng])).toEqual([
      [8, 4, true],
      [8, 4, true],
    ]);
  });

  it('optimizer sgd is the plain fused step, with no optimizer state', () => {
    const a = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0.1, optimizer: { name: 'sgd', ...OPTIMIZER_DEFAULTS } }, jsKernels);
    const b = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0.1 }, jsKernels);
    expect(a.optimizer).toBeUndefined();
    for (const start of [0, 4]) expect(a.step(train, order, start, 4)).toBe(b.step(train, order, start, 4));
    expect(weightsOf(a.net)).toEqual(weightsOf(b.net));
  });

  it('another optimizer: backprop’s gradients, then its rule (Optimizer.step at η and λ)', () => {
    for (const name of ['momentum', 'adam'] as const) {
      const config = { name, ...OPTIMIZER_DEFAULTS };
      const t = new SgdTrainer(make(), { lr: 0.05, batchSize: 4, weightDecay: 0.1, optimizer: config }, jsKernels);
      const ref = make(),
        o = new Optimizer(config, ref),
        g = new Gradients(ref);
      for (const start of [0, 4, 8]) {
        const total = t.step(train, order, start, 4);
        const { ws, y } = batchOf(ref, start, 4);
        expect(total).toBe(backprop(ref, ws, y, g, jsKernels));
        o.step(g, 0.05, 0.1);
      }
      expect(t.optimizer!.t).toBe(3);
      expect(weightsOf(t.net)).toEqual(weightsOf(ref));
    }
  });

  it('with an optimizer, a step whose loss or any δ is not finite returns NaN and changes neither the weights nor the optimizer', () => {
    const poisoned =
      (what: 'loss' | 'delta'): GradientMethod =>
      (net, ws, y, grads, k) => {
        const total = backprop(net, ws, y, grads, k);
        if (what === 'loss') return NaN;
        ws.delta[1].data[2] = NaN; // δ¹ only: δ² is finite
        return total;
      };
    for (const what of ['loss', 'delta'] as const) {
      const t = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, optimizer: { name: 'momentum', ...OPTIMIZER_DEFAULTS } }, jsKernels, poisoned(what));
      const before = weightsOf(t.net);
      expect(t.step(train, order, 0, 4)).toBeNaN();
      expect(weightsOf(t.net)).toEqual(before);
      expect(t.optimizer!.t).toBe(0);
      expect(t.optimizer!.slots[0].every((s) => s.every((v) => v === 0))).toBe(true);
    }
  });

  it('dropout: each step draws the hidden masks from its RNG, then takes the fused step on the masked pass', () => {
    const t = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, dropout: { p: 0.5, rng: new Rng(9) } }, jsKernels);
    const plain = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0 }, jsKernels);
    const ref = make(),
      rng = new Rng(9);
    const ws = new Workspace(ref, 4),
      y = Matrix.zeros(2, 4, 'float64');
    ws.enableDropout();
    for (const start of [0, 4, 8]) {
      const total = t.step(train, order, start, 4);
      plain.step(train, order, start, 4);
      fillBatch(train, order, start, ws.input, y);
      drawDropoutMasks(ws, 0.5, () => rng.uniform());
      expect(total).toBe(sgdStep(ref, ws, y, 0.5, 0, jsKernels));
    }
    expect(weightsOf(t.net)).toEqual(weightsOf(ref));
    expect(weightsOf(t.net)).not.toEqual(weightsOf(plain.net));
    const noRng = new SgdTrainer(make(), { lr: 0.5, batchSize: 4, weightDecay: 0, dropout: { p: 0.5 } as unknown as { p: number; rng: Rng } }, jsKernels);
    expect(() => noRng.step(train, order, 0, 4)).toThrow('dropout without its RNG');
  });
});

describe('Optimizer, against the update rules written out', () => {
  // A 2-3-2 network: its parameters W¹ (3×2), b¹ (3), W² (2×3), b² (2), each step given other gradients. Off-default
  // μ, β₁, β₂ and ε (large enough to matter), λ on the weights only.
  const config = { momentum: 0.7, beta1: 0.8, beta2: 0.95, eps: 1e-3, alpha: 0.9, accumulator: 0.05 };
  const net = (dtype: 'float32' | 'float64' = 'float64') => Network.create({ sizes: [2, 3, 2], activation: 'tanh', outputActivation: 'linear', cost: 'quadratic' }, 'normal', new Rng(6), dtype);
  const gradientsAt = (n: Network, step: number) => {
    const g = new Gradients(n);
    const rng = new Rng(100 + step);
    for (const t of [...g.gradW.map((w) => w.data), ...g.gradB]) for (let i = 0; i < t.length; i++) t[i] = rng.normal();
    return g;
  };
  /** θ after `steps` steps by the formulas of optimizers.ts's comment, one parameter at a time. */
  function byFormula(name: OptimizerName, steps: number, lr: number, lambda: number): number[][] {
    const n = net(),
      out: number[][] = [];
    const params = n.weights.flatMap((W, l) => [
      { p: Array.from(W.data), grad: (g: Gradients) => g.gradW[l].data, weight: true },
      { p: Array.from(n.biases[l]), grad: (g: Gradients) => g.gradB[l], weight: false },
    ]);
    for (const { p, grad, weight } of params) {
      const v = p.map(() => (name === 'adagrad' ? config.accumulator : 0)),
        m = p.map(() => 0),
        vMax = p.map(() => 0);
      for (let t = 1; t <= steps; t++) {
        const G = grad(gradientsAt(n, t));
        for (let j = 0; j < p.length; j++) {
          const decay = weight ? lambda : 0;
          const gj = G[j] + (name === 'adamw' ? 0 : decay * p[j]);
          if (name === 'sgd') p[j] -= lr * gj;
          else if (name === 'rmsprop') {
            v[j] = config.alpha * v[j] + (1 - config.alpha) * gj * gj;
            p[j] -= (lr * gj) / (Math.sqrt(v[j]) + config.eps);
          } else if (name === 'adagrad') {
            v[j] += gj * gj;
            p[j] -= (lr * gj) / (Math.sqrt(v[j]) + config.eps);
          } else if (name === 'momentum' || name === 'nesterov') {
            v[j] = config.momentum * v[j] + gj;
            p[j] -= lr * (name === 'nesterov' ? gj + config.momentum * v[j] : v[j]);
          } else {
            m[j] = config.beta1 * m[j] + (1 - config.beta1) * gj;
            v[j] = config.beta2 * v[j] + (1 - config.beta2) * gj * gj;
            vMax[j] = Math.max(vMax[j], v[j]);
            const mHat = m[j] / (1 - config.beta1 ** t),
              vHat = (name === 'amsgrad' ? vMax[j] : v[j]) / (1 - config.beta2 ** t);
            p[j] -= lr * (mHat / (Math.sqrt(vHat) + config.eps) + (name === 'adamw' ? decay * p[j] : 0));
          }
        }
      }
      out.push(p);
    }
    return out;
  }
  const run = (name: OptimizerName, steps: number, lr: number, lambda: number, dtype: 'float32' | 'float64' = 'float64') => {
    const n = net(dtype),
      o = new Optimizer({ name, ...config }, n);
    for (let t = 1; t <= steps; t++) o.step(gradientsAt(n, t), lr, lambda);
    return { o, params: n.weights.flatMap((W, l) => [Array.from(W.data), Array.from(n.biases[l])]) };
  };

  for (const name of OPTIMIZERS)
    it(`${name}: 3 steps with and without λ`, () => {
      for (const lambda of [0, 0.3]) {
        const want = byFormula(name, 3, 0.1, lambda);
        const { o, params } = run(name, 3, 0.1, lambda);
        params.forEach((p, i) => p.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 14)));
        expect(o.t).toBe(3);
        expect(o.state()).toEqual({ t: 3, slots: o.slots });
      }
    });

  it('slots: none for sgd, a velocity for momentum and nesterov, two moments for adam and adamw; zeros of the parameter’s precision', () => {
    expect(OPTIMIZERS.map(slotCount)).toEqual([0, 1, 1, 2, 2, 3, 1, 1]);
    for (const dtype of ['float32', 'float64'] as const) {
      const n = net(dtype);
      const o = new Optimizer({ name: 'adam', ...config }, n);
      expect(o.slots).toHaveLength(2);
      for (const slot of o.slots) {
        expect(slot.map((s) => s.length)).toEqual([6, 3, 6, 2]);
        expect(slot.every((s) => s instanceof (dtype === 'float64' ? Float64Array : Float32Array) && s.every((v) => v === 0))).toBe(true);
      }
      expect(new Optimizer({ name: 'sgd', ...config }, n).slots).toEqual([]);
      expect(new Optimizer({ name: 'nesterov', ...config }, n).slots).toHaveLength(1);
    }
  });

  it('restore continues a run exactly (t and slots); it refuses a state of another optimizer or shape, naming it', () => {
    for (const name of ['nesterov', 'adamw'] as const) {
      const straight = run(name, 4, 0.1, 0.3).params;
      const first = run(name, 2, 0.1, 0.3).o;
      const n = net(),
        o = new Optimizer({ name, ...config }, n);
      // n has its first two steps replayed by a second optimizer, then restores the first one's state
      const replay = new Optimizer({ name, ...config }, n);
      for (let t = 1; t <= 2; t++) replay.step(gradientsAt(n, t), 0.1, 0.3);
      o.restore(first.state());
      expect(o.t).toBe(2);
      for (let t = 3; t <= 4; t++) o.step(gradientsAt(n, t), 0.1, 0.3);
      expect(n.weights.flatMap((W, l) => [Array.from(W.data), Array.from(n.biases[l])])).toEqual(straight);
    }
    const o = new Optimizer({ name: 'momentum', ...config }, net());
    expect(() => o.restore({ t: 1, slots: [] })).toThrow('expected 1 optimizer slots, got 0');
    const short = o.slots.map((s) => s.map((p, i) => (i === 1 ? new Float64Array(p.length + 1) : p)));
    expect(() => o.restore({ t: 1, slots: short })).toThrow('optimizer slot 0 of parameter 1: expected 3 values, got 4');
  });

  it('a momentum step by hand: v = g + λθ on weights only, θ ← θ − ηv', () => {
    const n = new Network({ sizes: [1, 1], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' }, [Matrix.from(1, 1, [2], 'float64')], [Float64Array.from([1])]);
    const g = new Gradients(n);
    g.gradW[0].data[0] = 0.5;
    g.gradB[0][0] = 0.25;
    const o = new Optimizer({ name: 'momentum', ...config }, n);
    o.step(g, 0.1, 0.5); // v_W = 0.5 + 0.5·2 = 1.5, v_b = 0.25
    expect([n.weights[0].data[0], n.biases[0][0]]).toEqual([2 - 0.1 * 1.5, 1 - 0.1 * 0.25]);
    o.step(g, 0.1, 0); // v_W = 0.7·1.5 + 0.5
    expect(n.weights[0].data[0]).toBeCloseTo(2 - 0.15 - 0.1 * (0.7 * 1.5 + 0.5), 15);
  });
});

describe('early stopping, by hand', () => {
  const net = () => Network.create({ sizes: [2, 2], activation: 'linear', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(1), 'float64');
  const epoch = (e: number, validationLoss?: number, validationAccuracy?: number): EpochMetrics => ({ epoch: e, loss: 1, trainAccuracy: 0.5, seconds: 0, validationLoss, validationAccuracy });

  it('watched() reads the validation loss or accuracy', () => {
    expect(watched('val-loss', epoch(1, 0.3, 0.9))).toBe(0.3);
    expect(watched('val-accuracy', epoch(1, 0.3, 0.9))).toBe(0.9);
    expect(watched('val-loss', epoch(1))).toBeUndefined();
  });

  it('no value, NaN or ∞ is never the best; strictly lower loss, strictly higher accuracy', () => {
    const loss = new EarlyStopping('val-loss', 2);
    const n = net();
    expect([epoch(1), epoch(2, NaN), epoch(3, Infinity), epoch(4, -Infinity)].map((m) => loss.observe(m, n))).toEqual([false, false, false, false]);
    expect(loss.best).toBeUndefined();
    expect(loss.bestWeights).toBeUndefined();
    expect([epoch(5, 0.5), epoch(6, 0.5), epoch(7, 0.6), epoch(8, 0.4)].map((m) => loss.observe(m, n))).toEqual([true, false, false, true]);
    expect(loss.best).toEqual({ epoch: 8, value: 0.4 });
    const acc = new EarlyStopping('val-accuracy', 2);
    expect([epoch(1, 9, 0.5), epoch(2, 0, 0.5), epoch(3, 0, 0.4), epoch(4, 9, 0.7)].map((m) => acc.observe(m, n))).toEqual([true, false, false, true]);
    expect(acc.best).toEqual({ epoch: 4, value: 0.7 });
  });

  it('since and shouldStop: epochs after the best (all of them before one), stopping at exactly `patience`', () => {
    const es = new EarlyStopping('val-loss', 3);
    expect([es.since(2), es.shouldStop(2), es.shouldStop(3)]).toEqual([2, false, true]);
    es.observe(epoch(2, 0.5), net());
    expect([es.since(4), es.shouldStop(4), es.shouldStop(5)]).toEqual([2, false, true]);
  });

  it('the best weights are a copy taken at the best epoch; replay finds the best without them; copyWeights restores them', () => {
    const n = net(),
      es = new EarlyStopping('val-loss', 2);
    n.weights[0].data[1] = 7;
    n.biases[0][0] = 3;
    es.observe(epoch(1, 0.5), n);
    n.weights[0].data[1] = 8;
    n.biases[0][0] = 4;
    es.observe(epoch(2, 0.6), n);
    expect([es.bestWeights!.weights[0].data[1], es.bestWeights!.biases[0][0]]).toEqual([7, 3]);
    copyWeights(es.bestWeights!, n);
    expect([n.weights[0].data[1], n.biases[0][0]]).toEqual([7, 3]);
    const resumed = new EarlyStopping('val-loss', 2);
    resumed.replay([epoch(1, 0.5), epoch(2, 0.4), epoch(3, 0.45)]);
    expect(resumed.best).toEqual({ epoch: 2, value: 0.4 });
    expect(resumed.bestWeights).toBeUndefined();
  });
});

describe('learning-rate schedules at their edges', () => {
  const s = (name: ScheduleName, warmup = 0, decay = 0.5, stepEvery = 2): Schedule => ({ name, warmup, decay, stepEvery });
  it('warm-up ends at epoch W (η·W/(W+1)), the schedule starts at W + 1 with η', () => {
    expect([1, 2, 3, 4].map((e) => learningRate(s('constant', 2), 3, e, 4))).toEqual([1, 2, 3, 3]);
    expect([1, 2, 3, 4].map((e) => learningRate(s('constant', 0, 0.5, 1), 3, e, 4))).toEqual([3, 3, 3, 3]); // never drops, whatever γ and s
    expect([1, 2, 3, 4, 5, 6].map((e) => learningRate(s('step', 1), 1, e, 6))).toEqual([0.5, 1, 1, 0.5, 0.5, 0.25]);
    expect([2, 3, 4].map((e) => learningRate(s('exponential', 1), 1, e, 4))).toEqual([1, 0.5, 0.25]);
  });
  it('cosine over the K = E − W epochs after warm-up, and over at least one epoch', () => {
    expect(learningRate(s('cosine', 2), 1, 4, 6)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(learningRate(s('cosine'), 1, 3, 1)).toBeCloseTo(0.5 * (1 + Math.cos(2 * Math.PI)), 15); // K = max(1, 1)
    expect(learningRate(s('cosine', 3), 1, 5, 2)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI)), 15); // K = max(1, −1)
  });
});

describe('RunLog', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'bp-runlog-'));
  const m: EpochMetrics = { epoch: 2, loss: 0.5, trainAccuracy: 0.75, lr: 0.1, testLoss: 0.6, testAccuracy: 0.7, validationLoss: 0.65, validationAccuracy: 0.72, seconds: 4 };

  it('an epoch record carries the metrics and examples per second (none for 0 s)', () => {
    expect(RunLog.epoch(m, 1000)).toEqual({
      kind: 'epoch',
      epoch: 2,
      lr: 0.1,
      loss: 0.5,
      trainAccuracy: 0.75,
      validationLoss: 0.65,
      validationAccuracy: 0.72,
      testLoss: 0.6,
      testAccuracy: 0.7,
      seconds: 4,
      examplesPerSecond: 250,
    });
    expect(RunLog.epoch({ ...m, seconds: 0 }, 1000).examplesPerSecond).toBeUndefined();
  });

  it('--log: one JSON object a line; --csv: the header once, then a row a record with empty cells for what is absent', () => {
    const d = dir(),
      json = join(d, 'run.jsonl'),
      csv = join(d, 'run.csv');
    const batch: LogRecord = { kind: 'batch', epoch: 1, batch: 3, loss: 0.25, trainAccuracy: 0.5 };
    for (const records of [[batch], [RunLog.epoch(m, 1000)]]) {
      const log = new RunLog({ json, csv });
      expect(log.active).toBe(true);
      for (const r of records) log.record(r);
      log.close();
      expect(log.active).toBe(false);
      log.close(); // closed once
    }
    expect(readFileSync(json, 'utf8')).toBe(`${JSON.stringify(batch)}\n${JSON.stringify(RunLog.epoch(m, 1000))}\n`);
    expect(readFileSync(csv, 'utf8')).toBe([CSV_COLUMNS.join(','), 'batch,1,3,,0.25,0.5,,,,,,,', 'epoch,2,,0.1,0.5,0.75,0.65,0.72,0.6,0.7,4,250,', ''].join('\n'));
    expect(CSV_COLUMNS.join(',')).toBe('kind,epoch,batch,lr,loss,train_accuracy,validation_loss,validation_accuracy,test_loss,test_accuracy,seconds,examples_per_second,clipped');
    expect(new RunLog({}).active).toBe(false);
    const onlyJson = join(d, 'only.jsonl');
    const log = new RunLog({ json: onlyJson });
    log.record(batch);
    log.close();
    expect(readFileSync(onlyJson, 'utf8')).toBe(`${JSON.stringify(batch)}\n`);
  });

  it('a failed write (a full disk) stops the log, says why, and the run goes on without it', () => {
    const good = join(dir(), 'run.jsonl');
    const log = new RunLog({ json: good, csv: '/dev/full' }); // the CSV header already fails
    expect(log.failed).toBe('/dev/full: ENOSPC: no space left on device, write');
    expect(log.active).toBe(false);
    log.record(RunLog.epoch(m, 10));
    log.close();
    expect(readFileSync(good, 'utf8')).toBe('');
    const full = new RunLog({ json: '/dev/full' });
    expect(full.failed).toBeUndefined();
    expect(() => full.record(RunLog.epoch(m, 10))).not.toThrow();
    expect(full.failed).toBe('/dev/full: ENOSPC: no space left on device, write');
    full.close();
  });
});
