import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { examples } from '../../src/data/dataset.js';
import type { Examples } from '../../src/data/dataset.js';
import { evaluate } from '../../src/train/metrics.js';
import { type EpochMetrics, SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining, type TrainState } from '../../src/train/session.js';
import { orderedPoints, tanhTrainer } from '../helpers.js';

describe('runTraining', () => {
  const train = orderedPoints(1),
    test = orderedPoints(2, 7),
    validation = orderedPoints(3, 4);

  it('each epoch: the mean of its batch losses, the running accuracy, and test/validation from evaluate() at its end', async () => {
    const t = tanhTrainer(),
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
    await runTraining(tanhTrainer(), train, new Rng(4), initialState(train.count), { epochs: 1, test, evaluate: false, onEpochEnd: (m) => ends.push(m) });
    await runTraining(tanhTrainer(), train, new Rng(4), initialState(train.count), { epochs: 1, onEpochEnd: (m) => ends.push(m) });
    expect(ends.map((m) => m.testLoss)).toEqual([undefined, undefined]);
  });

  it('stopped between batches, then resumed from its state: the weights of an uninterrupted run', async () => {
    const straight = tanhTrainer();
    await runTraining(straight, train, new Rng(4), initialState(train.count), { epochs: 3 });
    for (const stopAt of [1, 2, 3]) {
      const t = tanhTrainer(),
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
    const t = tanhTrainer(1e200, 'linear');
    const r = await runTraining(t, train, new Rng(4), initialState(train.count), { epochs: 2 });
    expect(r.status).toBe('diverged');
    if (r.status !== 'diverged') return;
    expect([r.epoch, r.batch]).toEqual([1, 2]);
    expect(r.what).toMatch(/^the loss is (Infinity|NaN)$/);
    expect(r.diagnosis.message.length).toBeGreaterThan(0);
    for (const W of t.net.weights) for (const v of W.data) expect(Number.isFinite(v)).toBe(true);
  });
});
describe('runTraining, more', () => {
  const train = orderedPoints(1);
  it('onBatch reports the running mean loss and accuracy; a diagnosis knows the first batch loss', async () => {
    const t = tanhTrainer(1e200, 'linear');
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
    const r = await runTraining(tanhTrainer(), train, new Rng(4), state, { epochs: 2, test: orderedPoints(2, 7), shouldStop: () => state.epoch === 2 && state.batch === 3 });
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
    const r = await runTraining(tanhTrainer(), train, new Rng(4), state, { epochs: 2, yieldMs: 0, shouldStop: () => ++asks === 4 });
    const mid = (performance.now() - t0) / 1000;
    expect(r).toEqual({ status: 'interrupted' });
    expect(state.seconds).toBeGreaterThanOrEqual(0);
    expect(state.seconds).toBeLessThanOrEqual(mid);
    await runTraining(tanhTrainer(), train, new Rng(4), state, { epochs: 2 });
    const wall = (performance.now() - t0) / 1000;
    for (const m of state.history) {
      expect(m.seconds).toBeGreaterThanOrEqual(0);
      expect(m.seconds).toBeLessThanOrEqual(wall);
    }
  });
});
describe('runTraining: schedules, early stops, yields and overflowing weights', () => {
  const train = orderedPoints(1);
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };

  it('rate(epoch) sets η as each epoch starts: the epochs report it and train at it', async () => {
    const t = tanhTrainer(),
      ends: EpochMetrics[] = [];
    await runTraining(t, train, new Rng(4), initialState(train.count), { epochs: 3, rate: (e) => 0.1 * e, onEpochEnd: (m) => ends.push(m) });
    expect(ends.map((m) => m.lr)).toEqual([0.1, 0.2, 0.1 * 3]);
    // the same run with η set by hand between one-epoch runs
    const byHand = tanhTrainer(),
      rng = new Rng(4),
      state = initialState(train.count);
    for (const e of [1, 2, 3]) {
      byHand.lr = 0.1 * e;
      await runTraining(byHand, train, rng, state, { epochs: e });
    }
    for (let l = 0; l < 2; l++) expect(Array.from(t.net.weights[l].data)).toEqual(Array.from(byHand.net.weights[l].data));
  });

  it('onBatch gets the epoch’s running accuracy: the examples classified right so far over those seen', async () => {
    const t = tanhTrainer();
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
    const t = tanhTrainer(),
      rng = new Rng(4),
      state = initialState(train.count);
    const r = await runTraining(t, train, rng, state, { epochs: 3, stopAfter: (m) => m.epoch === 1 });
    expect(r).toEqual({ status: 'stopped', epoch: 1 });
    expect([state.epoch, state.batch, state.history.length]).toEqual([2, 0, 1]);
    expect(await runTraining(t, train, rng, state, { epochs: 3 })).toEqual({ status: 'done' });
    expect(state.history.map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(await runTraining(tanhTrainer(), train, new Rng(4), initialState(train.count), { epochs: 1, stopAfter: () => true })).toEqual({ status: 'done' });
  });

  it('shouldStop is asked inside an epoch only after a yield: with yieldMs never reached, only at the epoch end', async () => {
    const state = initialState(train.count);
    const r = await runTraining(tanhTrainer(), train, new Rng(4), state, { epochs: 2, yieldMs: 1e9, shouldStop: () => true });
    expect(r).toEqual({ status: 'interrupted' });
    expect([state.epoch, state.batch]).toEqual([2, 0]);
  });

  it('an epoch of one batch yields to the event loop at its end, so that a signal arrives', async () => {
    let signalled = false;
    setImmediate(() => (signalled = true));
    const state = initialState(train.count);
    const one = new SgdTrainer(tanhTrainer().net, { lr: 0.5, batchSize: 12, weightDecay: 0 }, jsKernels);
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
      const t = new SgdTrainer(tanhTrainer().net, { lr: 0.5, batchSize, weightDecay: 0 }, jsKernels);
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

describe('runTraining: float64 divergence, clipping counts and per-step rates', () => {
  /** One input of 1000, twice: each step multiplies the error by about 1 − η·10⁶ = −1.5, the loss by 2.25 (a crossing the mean loss, not the batch's sum, decides). */
  const big = examples(Float32Array.of(1000, 1000), Uint8Array.of(0, 0), 1);
  const blowUp = () => {
    const net = Network.create({ sizes: [1, 1], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' }, 'normal', new Rng(2), 'float64');
    net.weights[0].data[0] = 1;
    net.biases[0][0] = 0;
    return new SgdTrainer(net, { lr: 2.5e-6, batchSize: 2, weightDecay: 0 }, jsKernels);
  };

  it('a float64 loss beyond float32’s range stops the run as diverged, at the batch, with the mean loss', async () => {
    const t = blowUp();
    const losses: number[] = [];
    const r = await runTraining(t, big, new Rng(1), initialState(2), { epochs: 500, evaluate: false, onBatch: (_e, _b, loss) => losses.push(loss) });
    expect(r.status).toBe('diverged');
    if (r.status !== 'diverged') return;
    // By hand: z = 1000w + b against the one-hot target 1, δ = z − 1, w ← w − η·1000δ, b ← b − ηδ; the mean loss ½δ².
    let w = 1,
      b = 0,
      loss = 0;
    const seen: number[] = [];
    for (;;) {
      const d = 1000 * w + b - 1;
      loss = 0.5 * d * d;
      if (loss > 3.4028234663852886e38) break;
      seen.push(loss);
      [w, b] = [w - 2.5e-6 * 1000 * d, b - 2.5e-6 * d];
    }
    expect(losses.map((l, i) => l / seen[i])).toEqual(seen.map(() => expect.closeTo(1, 9)));
    expect([r.epoch, r.batch]).toEqual([seen.length + 1, 1]); // one batch an epoch
    expect(Number(r.what.replace('the loss is ', '')) / loss).toBeCloseTo(1, 9);
    expect(r.diagnosis.kind).toBe('loss-blew-up');
    expect(r.diagnosis.message).toMatch(/^the loss blew up: it rose from 5\.0e\+5 at its lowest to \d\.\de\+\d+, beyond .*; try a smaller learning rate, e\.g\. --lr 2\.5e-7$/);
    // The loss the message names is the batch's mean (two significant digits), not its sum.
    expect(Number(/ to (\S+), beyond/.exec(r.diagnosis.message)?.[1]) / loss).toBeCloseTo(1, 1);
  });

  it('counts the steps clipping changed, 0 when it changed none, and nothing without clipping', async () => {
    const run = async (clip: { clipNorm?: number }) => {
      const t = tanhTrainer();
      const t2 = new SgdTrainer(t.net, { ...t.opts, ...clip }, jsKernels);
      const ends: EpochMetrics[] = [];
      const state = initialState(orderedPoints(1).count);
      await runTraining(t2, orderedPoints(1), new Rng(4), state, { epochs: 2, evaluate: false, onEpochEnd: (m) => ends.push(m) });
      return ends.map((m) => m.clipped);
    };
    expect(await run({ clipNorm: 1e-9 })).toEqual([3, 3]); // every one of the 3 steps an epoch, counted afresh each epoch
    expect(await run({ clipNorm: 1e9 })).toEqual([0, 0]);
    expect(await run({})).toEqual([undefined, undefined]);
  });

  it('a per-step rate is asked for each batch by its epoch and its 1-based number', async () => {
    const asked: [number, number][] = [];
    const t = tanhTrainer();
    await runTraining(t, orderedPoints(1), new Rng(4), initialState(orderedPoints(1).count), {
      epochs: 2,
      evaluate: false,
      rate: (e, b) => (asked.push([e, b]), 0.01 * b),
    });
    expect(asked).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
      [2, 1],
      [2, 2],
      [2, 3],
    ]);
    expect(t.lr).toBe(0.03);
  });
});
