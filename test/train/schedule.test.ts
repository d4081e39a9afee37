import { describe, expect, it } from 'vitest';
import { learningRate, type Schedule, type ScheduleName } from '../../src/train/schedule.js';
import { EarlyStopping } from '../../src/train/early-stop.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';

const rates = (s: Partial<Schedule> & Pick<Schedule, 'name'>, epochs: number, lr = 1) =>
  Array.from({ length: epochs }, (_, i) => learningRate({ warmup: 0, decay: 0.1, stepEvery: 1, ...s }, lr, i + 1, epochs));

describe('learning-rate schedules, by hand', () => {
  it('constant', () => expect(rates({ name: 'constant' }, 3, 0.2)).toEqual([0.2, 0.2, 0.2]));
  it('step: ×γ every s epochs', () => {
    const r = rates({ name: 'step', decay: 0.5, stepEvery: 2 }, 5);
    expect(r).toEqual([1, 1, 0.5, 0.5, 0.25]);
  });
  it('exponential: ×γ each epoch', () => {
    const r = rates({ name: 'exponential', decay: 0.9 }, 3);
    expect(r[0]).toBe(1);
    expect(r[1]).toBeCloseTo(0.9, 15);
    expect(r[2]).toBeCloseTo(0.81, 15);
  });
  it('cosine: η·½(1 + cos(π(k−1)/K)) from η down towards 0', () => {
    const r = rates({ name: 'cosine' }, 4);
    expect(r[0]).toBe(1);
    expect(r[1]).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(r[2]).toBeCloseTo(0.5, 15);
    expect(r[3]).toBeCloseTo(0.5 * (1 + Math.cos((3 * Math.PI) / 4)), 15);
  });
  it('warm-up: η·e/(W+1), then the schedule starts at η', () => {
    const r = rates({ name: 'cosine', warmup: 3 }, 5, 0.4);
    expect(r.slice(0, 3)).toEqual([0.1, 0.2, 0.30000000000000004]);
    expect(r[3]).toBe(0.4);
    expect(r[4]).toBeCloseTo(0.2, 15); // K = 2: ½(1 + cos(π/2))
  });
});

describe('early stopping', () => {
  const net = Network.create({ sizes: [2, 2], activation: 'linear', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(1));
  const epoch = (e: number, validationLoss: number, validationAccuracy = 0.5) => ({ epoch: e, loss: 1, trainAccuracy: 0.5, seconds: 0, validationLoss, validationAccuracy });

  it('stops after `patience` epochs without a strictly better validation loss, keeping the best weights', () => {
    const es = new EarlyStopping('val-loss', 2);
    const seen: boolean[] = [];
    [0.5, 0.4, 0.4, 0.45].forEach((v, i) => {
      net.weights[0].data[0] = i; // tell the epochs' weights apart
      seen.push(es.observe(epoch(i + 1, v), net));
    });
    expect(seen).toEqual([true, true, false, false]);
    expect(es.best).toEqual({ epoch: 2, value: 0.4 });
    expect(es.shouldStop(3)).toBe(false);
    expect(es.shouldStop(4)).toBe(true);
    expect(es.bestWeights?.weights[0].data[0]).toBe(1);
  });

  it('accuracy: higher is better; replay finds the best of a resumed run', () => {
    const es = new EarlyStopping('val-accuracy', 3);
    es.replay([epoch(1, 1, 0.8), epoch(2, 1, 0.9), epoch(3, 1, 0.85)]);
    expect(es.best).toEqual({ epoch: 2, value: 0.9 });
    expect(es.since(3)).toBe(1);
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
