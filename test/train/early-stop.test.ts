import { describe, expect, it } from 'vitest';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import type { EpochMetrics } from '../../src/train/sgd.js';
import { copyWeights, EarlyStopping, watched } from '../../src/train/early-stop.js';

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
