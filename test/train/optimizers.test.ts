import { describe, expect, it } from 'vitest';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { jsKernels } from '../../src/linalg/js.js';
import { Gradients } from '../../src/nn/backprop.js';
import { trainParity, PARITY_TOLERANCE } from '../../src/check/parity.js';
import { tfTrain } from '../../src/check/tfjs-oracle.js';
import { Matrix } from '../../src/linalg/index.js';
import { fillBatch, identity } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/load.js';
import { Optimizer, OPTIMIZER_DEFAULTS, type OptimizerName } from '../../src/train/optimizers.js';

const ds = loadData({ data: 'embedded', limit: 400, testLimit: 10, seed: 1 });

describe('optimizers against tfjs (tf.train.momentum, tf.train.adam; adamw by its definition)', () => {
  const cases: [OptimizerName, number, number][] = [
    // name, η, λ
    ['momentum', 0.05, 0],
    ['nesterov', 0.05, 1e-3],
    ['adam', 0.002, 0],
    ['adam', 0.002, 1e-3],
    ['adamw', 0.002, 1e-2],
  ];
  for (const [name, lr, weightDecay] of cases) {
    it(`${name} (η = ${lr}, λ = ${weightDecay}): 25 steps from the same weights agree within ${PARITY_TOLERANCE}`, async () => {
      const net = Network.create({ sizes: [784, 16, 10], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(3));
      const p = await trainParity(net, ds.train, { steps: 25, batchSize: 10, lr, seed: 2, optimizer: { name, ...OPTIMIZER_DEFAULTS }, weightDecay }, jsKernels);
      expect(p.optimizer).toBe(name);
      expect(p.maxWeightDiff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    }, 60_000);
  }

  it('the tolerance tells the rules apart: momentum and nesterov, adam and adamw differ by far more after 20 steps', async () => {
    const net = Network.create({ sizes: [784, 16, 10], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(3), 'float32');
    const order = new Rng(2).shuffle(identity(ds.train.count));
    const batches = Array.from({ length: 20 }, (_, k) => {
      const x = Matrix.zeros(10, ds.train.dim),
        y = Matrix.zeros(10, 10);
      fillBatch(ds.train, order, 10 * k, x, y);
      return { x, y };
    });
    const maxDiff = (a: { W: Float32Array[] }, b: { W: Float32Array[] }) => Math.max(...a.W.map((w, l) => Math.max(...w.map((v, i) => Math.abs(v - b.W[l][i])))));
    const momentum = await tfTrain(net, batches, 0.05, { name: 'momentum', ...OPTIMIZER_DEFAULTS });
    const nesterov = await tfTrain(net, batches, 0.05, { name: 'nesterov', ...OPTIMIZER_DEFAULTS });
    expect(maxDiff(momentum, nesterov)).toBeGreaterThan(100 * PARITY_TOLERANCE);
    const adam = await tfTrain(net, batches, 0.002, { name: 'adam', ...OPTIMIZER_DEFAULTS }, 1e-2);
    const adamw = await tfTrain(net, batches, 0.002, { name: 'adamw', ...OPTIMIZER_DEFAULTS }, 1e-2);
    expect(maxDiff(adam, adamw)).toBeGreaterThan(10 * PARITY_TOLERANCE);
  }, 60_000);
});

describe('the update rules by hand', () => {
  // One parameter pair: W = [[1]], b = [0]; gradients 0.5 and 0.25.
  const net = () =>
    new Network(
      { sizes: [1, 1], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' },
      [Network.create({ sizes: [1, 1], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' }, 'xavier', new Rng(1), 'float64').weights[0]],
      [new Float64Array(1)],
    );
  function run(name: OptimizerName, steps: number, lr: number, lambda: number): { w: number; b: number; w0: number } {
    const n = net();
    n.weights[0].data[0] = 1;
    const g = new Gradients(n);
    g.gradW[0].data[0] = 0.5;
    g.gradB[0][0] = 0.25;
    const o = new Optimizer({ name, ...OPTIMIZER_DEFAULTS }, n);
    for (let t = 0; t < steps; t++) o.step(g, lr, lambda);
    return { w: n.weights[0].data[0], b: n.biases[0][0], w0: 1 };
  }

  it('momentum: v₁ = g, v₂ = μv₁ + g; θ₂ = θ₀ − η(v₁ + v₂)', () => {
    const { w, b } = run('momentum', 2, 0.1, 0);
    expect(w).toBeCloseTo(1 - 0.1 * (0.5 + (0.9 * 0.5 + 0.5)), 12);
    expect(b).toBeCloseTo(-0.1 * (0.25 + (0.9 * 0.25 + 0.25)), 12);
  });

  it('nesterov: θ₁ = θ₀ − η(g + μv₁) with v₁ = g', () => {
    expect(run('nesterov', 1, 0.1, 0).w).toBeCloseTo(1 - 0.1 * (0.5 + 0.9 * 0.5), 12);
  });

  it('adam: the first step is η·sign(g) (m̂ = g, v̂ = g²), up to ε', () => {
    const { w, b } = run('adam', 1, 0.01, 0);
    expect(w).toBeCloseTo(1 - 0.01 * (0.5 / (0.5 + 1e-8)), 12);
    expect(b).toBeCloseTo(-0.01 * (0.25 / (0.25 + 1e-8)), 12);
  });

  it('adam couples λ into g; adamw decays the weight apart from the moments', () => {
    // adam: g = 0.5 + 0.1·1 = 0.6, first step still ≈ η.  adamw: η(1 + λθ) = 0.01·(1 + 0.1).
    expect(run('adam', 1, 0.01, 0.1).w).toBeCloseTo(1 - 0.01 * (0.6 / (0.6 + 1e-8)), 12);
    expect(run('adamw', 1, 0.01, 0.1).w).toBeCloseTo(1 - 0.01 * (0.5 / (0.5 + 1e-8) + 0.1), 12);
    expect(run('adamw', 1, 0.01, 0.1).b).toBeCloseTo(-0.01 * (0.25 / (0.25 + 1e-8)), 12); // no decay on biases
  });
});
