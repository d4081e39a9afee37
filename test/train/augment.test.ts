import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/linalg/index.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { examples, type Examples } from '../../src/data/dataset.js';
import { Augmenter, parseAugment } from '../../src/data/augment.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { evaluate } from '../../src/train/metrics.js';
import { initialState, runTraining, type TrainState } from '../../src/train/session.js';

const SIDE = 8;
const arch: Architecture = { sizes: [SIDE * SIDE, 12, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
const spec = parseAugment('shift=1,rotate=10,scale=0.1,elastic=8:2');

/** 8×8 images of a bar: horizontal (class 0), vertical (1) or diagonal (2), at a random place. */
function bars(n: number, seed: number): Examples {
  const rng = new Rng(seed);
  const f = new Float32Array(n * SIDE * SIDE);
  const l = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = (l[i] = i % 3);
    const at = 2 + rng.int(4);
    for (let k = 1; k < 7; k++) {
      const [x, y] = c === 0 ? [k, at] : c === 1 ? [at, k] : [k, k];
      f[i * 64 + y * SIDE + x] = 0.5 + 0.5 * rng.uniform();
    }
  }
  return examples(f, l, 64);
}

/** A trainer whose batches are distorted with draws from rng (Adam, so the optimizer's state matters too). */
function trainer(net: Network, rng: Rng): SgdTrainer {
  return new SgdTrainer(
    net,
    { lr: 0.01, batchSize: 8, weightDecay: 0, optimizer: { name: 'adam', momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, augment: { augmenter: new Augmenter(spec, SIDE, SIDE), rng } },
    jsKernels,
  );
}

describe('training with --augment', () => {
  it('a run stopped mid-epoch and continued from its RNG state, order and weights ends bit-identical to a straight one', async () => {
    const train = bars(60, 1);
    const straightRng = new Rng(4);
    const straight = Network.create(arch, 'he', straightRng);
    await runTraining(trainer(straight, straightRng), train, straightRng, initialState(train.count), { epochs: 3 });

    const rng = new Rng(4);
    const net = Network.create(arch, 'he', rng);
    const first = trainer(net, rng);
    const state = initialState(train.count);
    let batches = 0;
    const r = await runTraining(first, train, rng, state, { epochs: 3, yieldMs: 0, onBatch: () => batches++, shouldStop: () => batches >= 11 });
    expect(r.status).toBe('interrupted');
    expect([state.epoch, state.batch]).toEqual([2, 3]); // 8 batches an epoch: stopped in the middle of epoch 2

    // What a checkpoint keeps: the weights, the RNG state, the position and order, the optimizer's moments.
    const saved: TrainState = { ...state, order: Uint32Array.from(state.order), history: [...state.history] };
    const rng2 = new Rng(rng.state());
    const net2 = net.clone();
    const second = trainer(net2, rng2);
    second.optimizer?.restore(first.optimizer!.state());
    expect((await runTraining(second, train, rng2, saved, { epochs: 3 })).status).toBe('done');
    for (let l = 0; l < net2.depth; l++) {
      expect(net2.weights[l].data).toEqual(straight.weights[l].data);
      expect(net2.biases[l]).toEqual(straight.biases[l]);
    }
  });

  it('distorts training batches only: the examples are left as they were, and evaluation sees them undistorted', async () => {
    const train = bars(60, 2);
    const features = Float32Array.from(train.features);
    const rng = new Rng(5);
    const net = Network.create(arch, 'he', rng);
    const state = initialState(train.count);
    await runTraining(trainer(net, rng), train, rng, state, { epochs: 2, test: train });
    expect(train.features).toEqual(features);
    expect(state.history[1].testAccuracy).toBe(evaluate(net, train, jsKernels).accuracy);
    // the same seed without augmentation trains differently
    const plainRng = new Rng(5);
    const plain = Network.create(arch, 'he', plainRng);
    const s2 = initialState(train.count);
    await runTraining(
      new SgdTrainer(plain, { lr: 0.01, batchSize: 8, weightDecay: 0, optimizer: { name: 'adam', momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 } }, jsKernels),
      train,
      plainRng,
      s2,
      {
        epochs: 2,
      },
    );
    expect(s2.history[0].loss).not.toBe(state.history[0].loss);
  });
});
