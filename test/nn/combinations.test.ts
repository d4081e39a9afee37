import { describe, expect, it } from 'vitest';
import { getKernels } from '../../src/linalg/index.js';
import { ACTIVATIONS } from '../../src/nn/activations.js';
import { COSTS } from '../../src/nn/costs.js';
import { defaultLearningRate, Network, pairingProblem } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { architecture, defaultInit } from '../../src/cli/options.js';
import { loadData } from '../../src/data/load.js';
import { TRAIN_DEFAULTS } from '../../src/cli/train.js';
import { UsageError } from '../../src/cli/errors.js';
import { cli } from '../helpers.js';

// Every hidden activation × output activation × cost the CLI can be asked for:
// accepted ones train 10 epochs at the default learning rate with every loss,
// weight and bias finite; refused ones give their one-line error.
const ds = loadData({ data: 'embedded', limit: 1000, testLimit: 500, seed: 1 });
const combos = ACTIVATIONS.flatMap((activation) => ACTIVATIONS.flatMap((outputActivation) => COSTS.map((cost) => ({ activation, outputActivation, cost }))));
const accepted = combos.filter((c) => !pairingProblem(c));

describe('every activation × output × cost combination', () => {
  it('accepts the sensible ones: 5 hidden activations × (quadratic with any output, cross-entropy with sigmoid or softmax, log-likelihood with softmax)', () => {
    expect(accepted.length).toBe(5 * (6 + 2 + 1));
  });

  for (const c of combos.filter((c) => pairingProblem(c))) {
    it(`refuses ${c.activation} → ${c.outputActivation}, ${c.cost} with one line naming an alternative`, () => {
      const opts = { hidden: [8], ...c };
      expect(() => architecture(opts, ds.train.dim, ds.classes, [8])).toThrow(UsageError);
      const msg = pairingProblem(c)!;
      expect(msg).not.toContain('\n');
      expect(msg).toMatch(/^--(activation|cost) /);
      expect(msg).toMatch(/use --(activation|output-activation|cost) /);
    });
  }

  it('train and compare refuse before any work: one line on stderr, exit 2', () => {
    for (const args of [
      ['train', '--output-activation', 'relu', '--cost', 'cross-entropy'],
      ['compare', '--output-activation', 'sigmoid', '--cost', 'log-likelihood'],
    ]) {
      const r = cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^backprop: error: --cost \S+ needs .*use --/);
    }
  });

  it('trains each accepted one for 10 epochs at its default η on 1000 embedded digits with nothing non-finite', async () => {
    const k = await getKernels('auto');
    const failures: string[] = [];
    for (const c of accepted) {
      const arch = { sizes: [ds.train.dim, 16, ds.classes], ...c };
      const rng = new Rng(1);
      const net = Network.create(arch, defaultInit(c.activation), rng);
      const trainer = new SgdTrainer(net, { lr: defaultLearningRate(arch, TRAIN_DEFAULTS.lr), batchSize: TRAIN_DEFAULTS.batchSize, weightDecay: 0 }, k);
      const state = initialState(ds.train.count);
      const r = await runTraining(trainer, ds.train, rng, state, { epochs: 10, test: ds.test });
      const finite = [...net.weights.map((w) => w.data), ...net.biases].every((t) => t.every(Number.isFinite));
      const losses = state.history.flatMap((h) => [h.loss, h.testLoss!]);
      const name = `${c.activation} → ${c.outputActivation}, ${c.cost}`;
      if (r.status !== 'done' || !finite || !losses.every(Number.isFinite) || state.history.length !== 10) failures.push(`${name}: ${JSON.stringify(r)}`);
      // and it learned something: at some epoch, well above chance (10%) on the test digits
      else if (!(Math.max(...state.history.map((h) => h.testAccuracy!)) > 0.15)) failures.push(`${name}: test accuracy never above 15%`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});

describe('the default run with --cost cross-entropy (softmax output)', () => {
  it('finishes all 10 epochs: δ^L no longer turns 0/0 once a float32 softmax output reaches 0 or 1', async () => {
    const full = loadData({ data: 'embedded', seed: TRAIN_DEFAULTS.seed });
    const opts = { hidden: TRAIN_DEFAULTS.hidden, activation: 'relu' as const, outputActivation: 'softmax' as const, cost: 'cross-entropy' as const };
    const arch = architecture(opts, full.train.dim, full.classes, TRAIN_DEFAULTS.hidden);
    const rng = new Rng(TRAIN_DEFAULTS.seed);
    const net = Network.create(arch, 'he', rng);
    const trainer = new SgdTrainer(net, { lr: defaultLearningRate(arch, TRAIN_DEFAULTS.lr), batchSize: TRAIN_DEFAULTS.batchSize, weightDecay: 0 }, await getKernels('auto'));
    const state = initialState(full.train.count);
    const r = await runTraining(trainer, full.train, rng, state, { epochs: TRAIN_DEFAULTS.epochs, test: full.test });
    expect(r.status).toBe('done');
    expect(state.history).toHaveLength(10);
    expect(state.history[9].testAccuracy).toBeGreaterThan(0.93);
  }, 60_000);
});
