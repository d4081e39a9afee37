import { describe, expect, it } from 'vitest';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { jsKernels } from '../../src/linalg/js.js';
import { Gradients } from '../../src/nn/backprop.js';
import { trainParity, PARITY_TOLERANCE } from '../../src/check/parity.js';
import { tfTrain } from '../../src/check/tfjs-oracle.js';
import { Matrix } from '../../src/linalg/index.js';
import { fillBatch, identity } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/load.js';
import { ADAM_LR, clipGradients, Optimizer, OPTIMIZER_DEFAULTS, optimizerLabel, OPTIMIZERS, RULES, slotCount, type OptimizerConfig, type OptimizerName } from '../../src/train/optimizers.js';

const ds = loadData({ data: 'embedded', limit: 400, testLimit: 10, seed: 1 });

describe('optimizers against tfjs (tf.train.momentum, adam, rmsprop, adagrad; adamw and amsgrad by their definitions)', () => {
  const cases: [OptimizerName, number, number, Partial<OptimizerConfig>?][] = [
    // name, η, λ, hyper-parameters other than the defaults
    ['momentum', 0.05, 0],
    ['nesterov', 0.05, 1e-3],
    ['adam', 0.002, 0],
    ['adam', 0.002, 1e-3],
    ['adamw', 0.002, 1e-2],
    ['amsgrad', 0.002, 1e-3],
    // tf.train.rmsprop puts ε inside the root (√(v + ε²) here) and PyTorch outside (√v + ε): at ε = 1e-8 that alone
    // moves weights with gradients near ε by up to 2.3e-3 in 25 steps; at ε = 1e-12 the rules are the same to 6e-7
    ['rmsprop', 0.001, 0, { eps: 1e-12 }],
    ['rmsprop', 0.001, 1e-3, { alpha: 0.9, eps: 1e-12 }],
    // G₀ = 0.1 (tf.train.adagrad's default): tfjs adds its ε inside the root, which G₀ makes negligible (tfjs-oracle.ts)
    ['adagrad', 0.01, 1e-3, { accumulator: 0.1 }],
  ];
  for (const [name, lr, weightDecay, over] of cases) {
    it(`${name} (η = ${lr}, λ = ${weightDecay}${over ? `, ${JSON.stringify(over)}` : ''}): 25 steps from the same weights agree within ${PARITY_TOLERANCE}`, async () => {
      const net = Network.create({ sizes: [784, 16, 10], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(3));
      const p = await trainParity(net, ds.train, { steps: 25, batchSize: 10, lr, seed: 2, optimizer: { name, ...OPTIMIZER_DEFAULTS, ...over }, weightDecay }, jsKernels);
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

describe('the rules as data, over flat parameter lists', () => {
  it('every rule states its slots and hyper-parameters; labels and slot counts come from them', () => {
    expect(Object.fromEntries(OPTIMIZERS.map((o) => [o, [RULES[o].slots.join(','), RULES[o].hyper.join(','), RULES[o].lr]]))).toEqual({
      sgd: ['', '', undefined],
      momentum: ['v', 'momentum', undefined],
      nesterov: ['v', 'momentum', undefined],
      adam: ['m,v', 'beta1,beta2,eps', ADAM_LR],
      adamw: ['m,v', 'beta1,beta2,eps', ADAM_LR],
      amsgrad: ['m,v,vMax', 'beta1,beta2,eps', ADAM_LR],
      rmsprop: ['v', 'alpha,eps', 0.001],
      adagrad: ['G', 'accumulator,eps', 0.01],
    });
    expect(OPTIMIZERS.map(slotCount)).toEqual([0, 1, 1, 2, 2, 3, 1, 1]);
    expect(optimizerLabel({ name: 'nesterov', ...OPTIMIZER_DEFAULTS, momentum: 0.8 })).toBe('nesterov μ=0.8');
    expect(optimizerLabel({ name: 'adamw', ...OPTIMIZER_DEFAULTS })).toBe('adamw β₁=0.9 β₂=0.999 ε=1e-8');
    expect(optimizerLabel(undefined)).toBe('sgd');
  });

  it('Adam on one float64 scalar: two steps as computed by hand from Kingma & Ba, Algorithm 1', () => {
    const theta = Float64Array.of(1);
    const o = Optimizer.flat({ name: 'adam', ...OPTIMIZER_DEFAULTS }, [theta]);
    o.stepFlat([Float64Array.of(0.5)], 0.1, 0);
    // t = 1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25: θ = 1 − 0.1 · 0.5 / (0.5 + 1e-8)
    expect(theta[0]).toBeCloseTo(1 - (0.1 * 0.5) / (0.5 + 1e-8), 15);
    o.stepFlat([Float64Array.of(-1)], 0.1, 0);
    // t = 2: m = 0.9·0.05 − 0.1 = −0.055, v = 0.999·0.00025 + 0.001 = 0.00124975
    const m = -0.055 / (1 - 0.81),
      v = 0.00124975 / (1 - 0.998001);
    expect(theta[0]).toBeCloseTo(1 - (0.1 * 0.5) / (0.5 + 1e-8) - (0.1 * m) / (Math.sqrt(v) + 1e-8), 12);
    expect(o.t).toBe(2);
  });

  it('adamw decays only the tensors marked as weights; adam folds λ into g', () => {
    const [w, b] = [Float64Array.of(2), Float64Array.of(2)];
    Optimizer.flat({ name: 'adamw', ...OPTIMIZER_DEFAULTS }, [w, b], [true, false]).stepFlat([Float64Array.of(0), Float64Array.of(0)], 0.1, 0.5);
    expect(w[0]).toBeCloseTo(2 - 0.1 * 0.5 * 2, 15); // m̂ = 0: only the decoupled decay
    expect(b[0]).toBe(2);
  });

  it.each(OPTIMIZERS)('%s: a network stepped through step() and its flat list through stepFlat() end bit-identical', (name) => {
    const arch: Architecture = { sizes: [784, 8, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
    const a = Network.create(arch, 'he', new Rng(4)),
      b = a.clone();
    const grads = new Gradients(a);
    const rng = new Rng(5);
    const config = { name, ...OPTIMIZER_DEFAULTS };
    const oa = new Optimizer(config, a);
    const ob = Optimizer.flat(
      config,
      b.weights.flatMap((W, l) => [W.data, b.biases[l]]),
      b.weights.flatMap(() => [true, false]),
    );
    for (let step = 0; step < 3; step++) {
      for (const g of [...grads.gradW.map((G) => G.data), ...grads.gradB]) for (let i = 0; i < g.length; i++) g[i] = rng.uniform() - 0.5;
      oa.step(grads, 0.01, 1e-3);
      ob.stepFlat(
        grads.gradW.flatMap((G, l) => [G.data, grads.gradB[l]]),
        0.01,
        1e-3,
      );
    }
    expect(b.weights.map((W) => Array.from(W.data))).toEqual(a.weights.map((W) => Array.from(W.data)));
    expect(b.biases.map((x) => Array.from(x))).toEqual(a.biases.map((x) => Array.from(x)));
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

describe("rmsprop, adagrad and amsgrad by hand (PyTorch's definitions)", () => {
  const step = (config: Partial<OptimizerConfig> & { name: OptimizerName }, grads: number[], lr: number, theta = 1) => {
    const p = Float64Array.of(theta);
    const o = Optimizer.flat({ ...OPTIMIZER_DEFAULTS, ...config }, [p]);
    for (const g of grads) o.stepFlat([Float64Array.of(g)], lr, 0);
    return p[0];
  };

  it('rmsprop: v = (1 − α)g², θ ← θ − ηg/(√v + ε); ε outside the root', () => {
    // t = 1: v = 0.01 · 0.25 = 0.0025, √v = 0.05: θ = 1 − 0.01 · 0.5/(0.05 + 1e-8)
    expect(step({ name: 'rmsprop' }, [0.5], 0.01)).toBeCloseTo(1 - (0.01 * 0.5) / (0.05 + 1e-8), 14);
    // t = 2 with g = −1: v = 0.99 · 0.0025 + 0.01 = 0.012475
    const theta1 = 1 - (0.01 * 0.5) / (0.05 + 1e-8);
    expect(step({ name: 'rmsprop' }, [0.5, -1], 0.01)).toBeCloseTo(theta1 + 0.01 / (Math.sqrt(0.012475) + 1e-8), 14);
    // a large ε shows where it sits: √v + ε = 0.05 + 0.1, not √(v + ε) = 0.3240…
    expect(step({ name: 'rmsprop', eps: 0.1 }, [0.5], 0.01)).toBeCloseTo(1 - (0.01 * 0.5) / 0.15, 14);
  });

  it('adagrad: G = G₀ + Σg², θ ← θ − ηg/(√G + ε)', () => {
    // G₀ = 0: G₁ = 0.25 (step η·sign g), G₂ = 0.25 + 0.0625 = 0.3125
    expect(step({ name: 'adagrad' }, [0.5, 0.25], 0.1)).toBeCloseTo(1 - (0.1 * 0.5) / (0.5 + 1e-8) - (0.1 * 0.25) / (Math.sqrt(0.3125) + 1e-8), 14);
    // G₀ = 0.75: G₁ = 1
    expect(step({ name: 'adagrad', accumulator: 0.75 }, [0.5], 0.1)).toBeCloseTo(1 - (0.1 * 0.5) / (1 + 1e-8), 14);
  });

  it('amsgrad: v_max keeps the largest v, so a shrinking v does not enlarge the step (where adam would)', () => {
    // g = 1, then 0: v₁ = 0.001, v₂ = 0.000999 < v₁, v_max = 0.001; m₂ = 0.09
    const c1 = 1 - 0.81,
      c2 = 1 - 0.998001;
    const first = 1 - (0.01 * 1) / (1 + 1e-8); // m̂ = 1, v̂ = 1
    expect(step({ name: 'amsgrad' }, [1, 0], 0.01)).toBeCloseTo(first - (0.01 * (0.09 / c1)) / (Math.sqrt(0.001 / c2) + 1e-8), 14);
    expect(step({ name: 'adam' }, [1, 0], 0.01)).toBeCloseTo(first - (0.01 * (0.09 / c1)) / (Math.sqrt(0.000999 / c2) + 1e-8), 14);
    expect(step({ name: 'amsgrad' }, [1, 0], 0.01)).not.toBeCloseTo(step({ name: 'adam' }, [1, 0], 0.01), 9);
  });
});

describe('gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_)', () => {
  it('by norm: the global norm over every tensor, scaled by c/(‖g‖ + 1e-6) only when that is below 1', () => {
    const g = [Float64Array.of(3, 0), Float64Array.of(4)]; // ‖g‖ = 5
    expect(clipGradients(g, { clipNorm: 1 })).toBe(true);
    const f = 1 / (5 + 1e-6);
    expect(Array.from(g[0])).toEqual([3 * f, 0]);
    expect(g[1][0]).toBe(4 * f);
    const small = [Float64Array.of(0.3, 0.4)]; // ‖g‖ = 0.5 ≤ 1: unchanged
    expect(clipGradients(small, { clipNorm: 1 })).toBe(false);
    expect(Array.from(small[0])).toEqual([0.3, 0.4]);
  });

  it('by value: each entry into [−v, v]; then the norm of what is left', () => {
    const g = [Float64Array.of(2, -3, 0.05)];
    expect(clipGradients(g, { clipValue: 0.1 })).toBe(true);
    expect(Array.from(g[0])).toEqual([0.1, -0.1, 0.05]);
    expect(clipGradients([Float64Array.of(0.05, -0.1)], { clipValue: 0.1 })).toBe(false);
    const both = [Float64Array.of(2, -3)];
    clipGradients(both, { clipValue: 1, clipNorm: 1 }); // [1, −1], then ÷ (√2 + 1e-6)
    expect(both[0][0]).toBeCloseTo(1 / (Math.SQRT2 + 1e-6), 15);
  });
});

describe('Optimizer.flat and the edge of clipping', () => {
  it('decays every tensor when no weight list is given, only the listed ones otherwise', () => {
    const sgd = { ...OPTIMIZER_DEFAULTS, name: 'sgd' as const };
    const a = Float64Array.of(1, 2),
      b = Float64Array.of(4);
    Optimizer.flat(sgd, [a, b]).stepFlat([Float64Array.of(0, 0), Float64Array.of(0)], 0.5, 0.1); // θ ← θ − η(g + λθ)
    expect([...a, ...b]).toEqual([0.95, 1.9, 3.8]);
    const c = Float64Array.of(1),
      d = Float64Array.of(4);
    Optimizer.flat(sgd, [c, d], [true, false]).stepFlat([Float64Array.of(0), Float64Array.of(0)], 0.5, 0.1);
    expect([...c, ...d]).toEqual([0.95, 4]);
  });

  it('a norm exactly at the limit (factor 1) is not clipped', () => {
    const g = Float64Array.of(3, 4); // ‖g‖ = 5: the factor is (5 + 10⁻⁶)/(5 + 10⁻⁶) = 1
    expect(clipGradients([g], { clipNorm: 5 + 1e-6 })).toBe(false);
    expect([...g]).toEqual([3, 4]);
  });
});
