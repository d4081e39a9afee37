// Tests written against the mutants Stryker left alive in src/nn (npm run test:mutation):
// each asserts a value computed by hand or by centered finite differences.
import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix, type DType } from '../../src/linalg/index.js';
import { backprop, drawDropoutMasks, feedforward, Gradients, sgdStep, Workspace } from '../../src/nn/backprop.js';
import { activation, ACTIVATIONS, isActivationName, type ActivationName } from '../../src/nn/activations.js';
import { cost, COSTS, softplus, type CostName } from '../../src/nn/costs.js';
import { defaultLearningRate, Network, pairingProblem, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import type { Examples } from '../../src/data/dataset.js';

/** A column-per-example matrix from its columns. */
function columns(cols: number[][], dtype: DType = 'float64'): Matrix {
  const n = cols[0].length,
    m = cols.length;
  const x = Matrix.zeros(n, m, dtype);
  cols.forEach((c, j) => c.forEach((v, i) => x.set(i, j, v)));
  return x;
}

function forward(name: ActivationName, z: Matrix): Matrix {
  const a = Matrix.zeros(z.rows, z.cols, z.dtype);
  activation(name).forward(z, a);
  return a;
}

describe('weight decay shrinks W and never b', () => {
  const arch: Architecture = { sizes: [2, 3, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' };
  const lr = 0.5,
    lambda = 0.2;
  function stepped(decay: number, viaUpdate: boolean) {
    const net = Network.create(arch, 'normal', new Rng(9), 'float64');
    const w0 = net.weights.map((W) => Float64Array.from(W.data));
    const ex: Examples = { count: 4, dim: 2, features: Float32Array.from([0.1, 0.9, 0.8, 0.2, 0.5, 0.5, 0.3, 0.7]), labels: Uint8Array.from([0, 1, 1, 0]) };
    // a gradient method given explicitly takes SgdTrainer.update's path instead of sgdStep
    const gradient = viaUpdate ? backprop : undefined;
    const trainer = new SgdTrainer(net, { lr, batchSize: 4, weightDecay: decay }, jsKernels, gradient);
    trainer.step(ex, [0, 1, 2, 3], 0, 4);
    return { net, w0 };
  }
  for (const viaUpdate of [false, true]) {
    it(`${viaUpdate ? 'SgdTrainer.update' : 'sgdStep'}: b is the same with and without λ; W differs by exactly −ηλW`, () => {
      const plain = stepped(0, viaUpdate),
        decayed = stepped(lambda, viaUpdate);
      for (let l = 0; l < 2; l++) {
        expect(Array.from(decayed.net.biases[l])).toEqual(Array.from(plain.net.biases[l]));
        const W0 = plain.w0[l],
          Wp = plain.net.weights[l].data,
          Wd = decayed.net.weights[l].data;
        for (let i = 0; i < W0.length; i++) expect(Wd[i] - Wp[i]).toBeCloseTo(-lr * lambda * W0[i], 12);
      }
    });
  }
  it('sgdStep with λ = 0 moves W and b by exactly −η ∂C/∂W and −η ∂C/∂b', () => {
    const net = Network.create(arch, 'normal', new Rng(3), 'float64');
    const ws = new Workspace(net, 2);
    ws.input.data.set([0.3, -0.4, 0.9, 0.1]);
    const y = columns([
      [1, 0],
      [0, 1],
    ]);
    const g = new Gradients(net);
    backprop(net, ws, y, g, jsKernels);
    const before = net.clone();
    const total = sgdStep(net, ws, y, lr, 0, jsKernels);
    expect(Number.isFinite(total)).toBe(true);
    for (let l = 0; l < 2; l++) {
      for (let i = 0; i < g.gradB[l].length; i++) expect(net.biases[l][i]).toBeCloseTo(before.biases[l][i] - lr * g.gradB[l][i], 12);
      for (let i = 0; i < g.gradW[l].data.length; i++) expect(net.weights[l].data[i]).toBeCloseTo(before.weights[l].data[i] - lr * g.gradW[l].data[i], 12);
    }
  });
});

describe('softmax and log-sum-exp at large logits', () => {
  const L = Math.log1p(Math.exp(-1)); // ln(1 + e^−1)
  for (const dtype of ['float32', 'float64'] as const) {
    for (const big of [100, 1000]) {
      it(`${dtype}, z = (${big}, ${big - 1}, 0) and (−${big}, −${big + 1}, −${2 * big}): a = (1, e^−1, ~0)/(1 + e^−1)`, () => {
        const z = columns(
          [
            [big, big - 1, 0],
            [-big, -big - 1, -2 * big],
          ],
          dtype,
        );
        const a = forward('softmax', z);
        for (let j = 0; j < 2; j++) {
          expect(a.get(0, j)).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
          expect(a.get(1, j)).toBeCloseTo(Math.exp(-1) / (1 + Math.exp(-1)), 6);
          expect(a.get(2, j)).toBeLessThan(1e-30);
          expect(a.get(2, j)).toBeGreaterThanOrEqual(0);
        }
      });
      it(`${dtype}, z = (${big}, ${big - 1}, 0): −ln a_i = lse − z_i for log-likelihood and the cross-entropy in log space`, () => {
        const z = columns(
          [
            [big, big - 1, 0],
            [big, big - 1, 0],
          ],
          dtype,
        );
        const a = forward('softmax', z);
        const y = columns(
          [
            [1, 0, 0],
            [0, 0, 1],
          ],
          dtype,
        );
        const sm = activation('softmax');
        // −ln a_0 = L, −ln a_2 = big + L
        expect(cost('log-likelihood').total(sm, z, a, y)).toBeCloseTo(L + big + L, 9);
        // y = e_0: −ln a_0 − ln(1 − a_1) − ln(1 − a_2) = L + L + 0; y = e_2: (big + L) + (1 + L) + L
        expect(cost('cross-entropy').total(sm, z, a, y)).toBeCloseTo(2 * L + big + 1 + 3 * L, 9);
      });
      it(`${dtype}, sigmoid cross-entropy at z = ±${big}: ln(1 + e^${big}) = ${big} on the wrong side, ~e^−${big} on the right one`, () => {
        const z = columns(
          [
            [big, -big],
            [-big, big],
          ],
          dtype,
        );
        const a = forward('sigmoid', z);
        const y = columns(
          [
            [0, 1],
            [0, 1],
          ],
          dtype,
        );
        // example 1: y = (0, 1), z = (big, −big): both wrong by `big`; example 2: both right
        expect(cost('cross-entropy').total(activation('sigmoid'), z, a, y)).toBeCloseTo(2 * big + 2 * softplus(-big), 9);
      });
    }
  }
  it('softplus(x) = ln(1 + eˣ) on both sides and far out', () => {
    for (const x of [-3, -0.5, 0, 0.5, 3]) expect(softplus(x)).toBeCloseTo(Math.log(1 + Math.exp(x)), 14);
    expect(softplus(800)).toBe(800);
    expect(softplus(-800)).toBe(0);
    expect(softplus(-40)).toBeCloseTo(Math.exp(-40), 30);
  });
});

/** C(z) from the cost's log-space total, in float64. */
function costAt(c: CostName, out: ActivationName, z: Matrix, y: Matrix): number {
  return cost(c).total(activation(out), z, forward(out, z), y);
}

function delta(c: CostName, out: ActivationName, z: Matrix, y: Matrix): Matrix {
  const a = forward(out, z),
    d = Matrix.zeros(z.rows, z.cols, z.dtype);
  cost(c).delta(activation(out), z, a, y, d);
  return d;
}

describe("each cost's δ^L = ∂C_x/∂z^L against centered differences, saturated outputs included", () => {
  // Saturated columns (|z| up to 30) beside moderate ones; targets hit and missed.
  const zCols = [
    [30, -25, 0.5],
    [-30, 28, -0.2],
    [12, 11.5, -14],
    [0.3, -0.7, 1.1],
  ];
  const yOneHot = [
    [0, 1, 0],
    [1, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
  ];
  const ySoft = [
    [0.5, 0.25, 0],
    [0.2, 0.3, 0.1],
    [0, 0, 0.9],
    [1, 0, 0],
  ];
  const outputs: ActivationName[] = ACTIVATIONS.filter((o) => o !== 'relu' && o !== 'leaky-relu'); // kinks: a centered difference straddles them
  for (const c of COSTS) {
    for (const out of outputs) {
      if (cost(c).refuses(out)) continue;
      for (const [label, targets] of [
        ['one-hot', yOneHot],
        ['soft', ySoft],
      ] as const) {
        it(`${c} × ${out}, ${label} targets`, () => {
          const z = columns(zCols),
            y = columns(targets.map((t) => t.slice()));
          const d = delta(c, out, z, y);
          const h = 1e-5;
          for (let k = 0; k < z.data.length; k++) {
            const zp = z.clone(),
              zm = z.clone();
            zp.data[k] += h;
            zm.data[k] -= h;
            const fd = (costAt(c, out, zp, y) - costAt(c, out, zm, y)) / (2 * h);
            expect(Math.abs(d.data[k] - fd), `${c} × ${out} at ${k}: δ ${d.data[k]} vs ${fd}`).toBeLessThan(1e-6 + 1e-6 * Math.abs(fd));
          }
        });
      }
    }
  }
});

describe('the accepted pairings take the log-space δ^L, finite where a float32 output is exactly 0 or 1', () => {
  it('sigmoid × cross-entropy: δ = a − y when σ(z) rounds to 1 or 0', () => {
    const z = columns([[20, -120]], 'float32');
    const a = forward('sigmoid', z);
    expect(Array.from(a.data)).toEqual([1, 0]); // the textbook (a − y)/(a(1 − a)) · a(1 − a) is 0/0 here
    const d = delta('cross-entropy', 'sigmoid', z, columns([[0, 1]], 'float32'));
    expect(Array.from(d.data)).toEqual([1, -1]);
  });
  it('softmax × cross-entropy and × log-likelihood: δ is finite and matches float64 at z = (100, 0, −100)', () => {
    for (const c of ['cross-entropy', 'log-likelihood'] as const) {
      for (const target of [0, 1, 2]) {
        const y = [0, 0, 0];
        y[target] = 1;
        const d32 = delta(c, 'softmax', columns([[100, 0, -100]], 'float32'), columns([y], 'float32'));
        const d64 = delta(c, 'softmax', columns([[100, 0, -100]]), columns([y]));
        for (let i = 0; i < 3; i++) {
          expect(Number.isFinite(d32.data[i])).toBe(true);
          expect(d32.data[i]).toBeCloseTo(d64.data[i], 6);
        }
        // at this saturation a = (1, 0, 0) to float64 precision, and for log-likelihood δ = a − y
        if (c === 'log-likelihood') for (let i = 0; i < 3; i++) expect(d64.data[i]).toBeCloseTo((i === 0 ? 1 : 0) - y[i], 12);
      }
    }
  });
});

describe('pairings and costs by name', () => {
  it('refuses softmax as a hidden activation and each cost its impossible outputs, with a one-line reason', () => {
    expect(pairingProblem({ activation: 'softmax', outputActivation: 'softmax', cost: 'log-likelihood' })).toMatch(/^--activation softmax: .*output activation/);
    expect(pairingProblem({ activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' })).toBeUndefined();
    expect(pairingProblem({ activation: 'relu', outputActivation: 'sigmoid', cost: 'cross-entropy' })).toBeUndefined();
    expect(pairingProblem({ activation: 'relu', outputActivation: 'softmax', cost: 'cross-entropy' })).toBeUndefined();
    expect(pairingProblem({ activation: 'relu', outputActivation: 'relu', cost: 'cross-entropy' })).toMatch(/^--cost cross-entropy needs outputs in \(0, 1\), and a relu output/);
    expect(pairingProblem({ activation: 'relu', outputActivation: 'sigmoid', cost: 'log-likelihood' })).toMatch(/^--cost log-likelihood needs --output-activation softmax: with sigmoid/);
    expect(pairingProblem({ activation: 'relu', outputActivation: 'linear', cost: 'log-likelihood' })).toMatch(
      /^--cost log-likelihood needs --output-activation softmax \(a probability for each class\), and linear outputs/,
    );
    for (const out of ACTIVATIONS) expect(pairingProblem({ activation: 'tanh', outputActivation: out, cost: 'quadratic' })).toBeUndefined();
  });
});

describe('Network: shapes checked, sizes owned, initialisations as documented', () => {
  const arch: Architecture = { sizes: [3, 4, 2], activation: 'tanh', outputActivation: 'sigmoid', cost: 'quadratic' };
  const W = (r: number, c: number) => Matrix.zeros(r, c, 'float64');
  const b = (n: number) => new Float64Array(n);
  it('refuses wrong counts and shapes, naming the layer', () => {
    expect(() => new Network({ ...arch, sizes: [3] }, [], [])).toThrow('a network needs at least an input and an output layer');
    expect(() => new Network(arch, [W(4, 3)], [b(4), b(2)])).toThrow('expected 2 weight matrices and bias vectors');
    expect(() => new Network(arch, [W(4, 3), W(2, 4)], [b(4)])).toThrow('expected 2 weight matrices and bias vectors');
    expect(() => new Network(arch, [W(4, 3), W(3, 4)], [b(4), b(2)])).toThrow('W2 is 3x4, expected 2x4');
    expect(() => new Network(arch, [W(4, 3), W(2, 5)], [b(4), b(2)])).toThrow('W2 is 2x5, expected 2x4');
    expect(() => new Network(arch, [W(4, 2), W(2, 4)], [b(4), b(2)])).toThrow('W1 is 4x2, expected 4x3');
    expect(() => new Network(arch, [W(4, 3), W(2, 4)], [b(4), b(3)])).toThrow('b2 has 3 entries, expected 2');
    expect(() => new Network(arch, [W(4, 3), W(2, 4)], [b(5), b(2)])).toThrow('b1 has 5 entries, expected 4');
  });
  it('one activation per weight layer, the output one last; P = Σ n_l (n_(l−1) + 1); its own copy of the sizes', () => {
    const sizes = [3, 4, 2];
    const net = new Network({ ...arch, sizes }, [W(4, 3), W(2, 4)], [b(4), b(2)]);
    expect(net.activations.map((a) => a.name)).toEqual(['tanh', 'sigmoid']);
    expect(net.parameterCount).toBe(4 * 4 + 2 * 5);
    expect(new Network({ ...arch, sizes: [5, 1] }, [W(1, 5)], [b(1)]).parameterCount).toBe(6);
    sizes.push(9);
    expect(net.sizes).toEqual([3, 4, 2]);
    const copy = net.clone();
    copy.arch.sizes.push(7);
    expect(net.arch.sizes).toEqual([3, 4, 2, 9]); // the array given; the clone's is its own
    expect(copy.sizes).toEqual([3, 4, 2]);
    expect(net.sizes).toEqual([3, 4, 2]);
    expect(isActivationName('relu')).toBe(true);
    expect(isActivationName('softplus')).toBe(false);
  });
  it('normal: N(0, 1) for W and b; xavier N(0, 1/n_in) and he N(0, 2/n_in) for W from the same draws, b = 0; float32 unless asked', () => {
    const normal = Network.create(arch, 'normal', new Rng(5), 'float64');
    const xavier = Network.create(arch, 'xavier', new Rng(5), 'float64');
    const he = Network.create(arch, 'he', new Rng(5), 'float64');
    // layer 1 draws W¹ first with every init
    normal.weights[0].data.forEach((v, i) => {
      expect(xavier.weights[0].data[i]).toBeCloseTo(v * Math.sqrt(1 / 3), 14);
      expect(he.weights[0].data[i]).toBeCloseTo(v * Math.sqrt(2 / 3), 14);
    });
    // normal then draws b¹ from the same stream: 4 more N(0, 1) samples, none zero
    const rng = new Rng(5);
    for (let i = 0; i < 12; i++) rng.normal();
    expect(Array.from(normal.biases[0])).toEqual([rng.normal(), rng.normal(), rng.normal(), rng.normal()]);
    expect(Array.from(normal.weights[1].data)).toEqual(Array.from({ length: 8 }, () => rng.normal())); // then W², nothing drawn in between
    for (const net of [xavier, he]) for (const bl of net.biases) expect(Array.from(bl).every((v) => v === 0)).toBe(true);
    expect(normal.biases[1].every((v) => v !== 0)).toBe(true);
    expect(Network.create(arch, 'he', new Rng(5)).dtype).toBe('float32');
  });
  it('the default η is a tenth for the quadratic cost after an unbounded output, else the rate given', () => {
    for (const out of ['linear', 'relu', 'leaky-relu'] as const) expect(defaultLearningRate({ outputActivation: out, cost: 'quadratic' }, 0.2)).toBeCloseTo(0.02, 15);
    expect(defaultLearningRate({ outputActivation: 'sigmoid', cost: 'quadratic' }, 0.2)).toBe(0.2);
    expect(defaultLearningRate({ outputActivation: 'softmax', cost: 'log-likelihood' }, 0.2)).toBe(0.2);
    expect(defaultLearningRate({ outputActivation: 'sigmoid', cost: 'cross-entropy' }, 0.5)).toBe(0.5);
    // an unbounded output under another cost keeps the rate (the tenth is the quadratic cost's)
    expect(defaultLearningRate({ outputActivation: 'linear', cost: 'cross-entropy' }, 0.5)).toBe(0.5);
    expect(defaultLearningRate({ outputActivation: 'relu', cost: 'log-likelihood' }, 0.5)).toBe(0.5);
  });
  it('the input layer has no z, a or δ buffers; every layer above has n_l × m', () => {
    const ws = new Workspace(Network.create(arch, 'he', new Rng(1), 'float64'), 5);
    expect(ws.z.map((z) => [z.rows, z.cols])).toEqual([
      [0, 5],
      [4, 5],
      [2, 5],
    ]);
    expect([ws.x.rows, ws.x.cols]).toEqual([5, 3]);
  });
  it('feedforward puts b^l in every row of Z^l before adding W A', () => {
    const net = new Network(
      { ...arch, sizes: [1, 3, 1], outputActivation: 'linear' },
      [Matrix.from(3, 1, [0, 0, 0], 'float64'), Matrix.from(1, 3, [1, 10, 100], 'float64')],
      [Float64Array.from([1, 2, 3]), Float64Array.from([0])],
    );
    const ws = new Workspace(net, 2);
    ws.input.data.set([5, 6]);
    backprop(net, ws, Matrix.zeros(1, 2, 'float64'), new Gradients(net), jsKernels);
    expect(Array.from(ws.z[1].data)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(Array.from(ws.z[2].data)).toEqual([Math.tanh(1) + 10 * Math.tanh(2) + 100 * Math.tanh(3), Math.tanh(1) + 10 * Math.tanh(2) + 100 * Math.tanh(3)]);
  });
});

describe('Rng: the xoshiro128** stream of its seed (saved seeds and checkpoints replay it)', () => {
  // Known answers from an independent implementation of splitmix32 seeding and xoshiro128**.
  it('state and first outputs for seed 42', () => {
    const rng = new Rng(42);
    expect(Array.from(rng.state())).toEqual([939911724, 3948730756, 321366731, 3317318717]);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([2837322924, 544945897, 479756282, 3500138142]);
    const u = new Rng(42);
    expect([u.uniform(), u.uniform()]).toEqual([0.6606157208001621, 0.1117019639532224]);
    expect(new Rng(7).normal()).toBeCloseTo(-0.6925843705222114, 14);
    const r = new Rng(42);
    expect(Array.from(r.shuffle(Uint32Array.from({ length: 10 }, (_, i) => i)))).toEqual([8, 4, 2, 3, 9, 5, 7, 0, 1, 6]);
    expect(r.nextUint32()).toBe(2296110748); // nine draws, not ten
  });
  it('a restored state continues the stream; normal samples have mean 0 and variance 1', () => {
    const a = new Rng(3);
    a.uniform();
    const b = new Rng(a.state());
    expect([a.nextUint32(), a.nextUint32()]).toEqual([b.nextUint32(), b.nextUint32()]);
    const r = new Rng(11),
      n = 20000;
    let s = 0,
      s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});

describe('infinite logits, ReLU at z = 0 and in float32 outside a Workspace, the refused pairings loaded from old files', () => {
  it('a −∞ logit is a probability of exactly 0, not a NaN: costs 0 and δ = 0 when the target is the other class', () => {
    for (const c of ['cross-entropy', 'log-likelihood'] as const) {
      const z = columns([[0, -Infinity]]),
        y = columns([[1, 0]]);
      expect(costAt(c, 'softmax', z, y)).toBe(0);
      expect(Array.from(delta(c, 'softmax', z, y).data)).toEqual([0, 0]);
    }
    // sigmoid: z = −∞ with y = 0 and z = +∞ with y = 1 are right with certainty
    expect(costAt('cross-entropy', 'sigmoid', columns([[-Infinity, Infinity]]), columns([[0, 1]]))).toBe(0);
  });
  it('ReLU and leaky ReLU: f′(0) = 0 (or the slope), as tfjs; the float32 bit-twiddled loops agree with the definition', () => {
    const zs = [-2, -0, 0, 1e-30, 3.5, -1e-30];
    for (const dtype of ['float32', 'float64'] as const) {
      const gs = [1 / 3, 2 / 3, 1 / 7, 4 / 7, 5 / 9, 6 / 11]; // every mantissa bit in use
      const z = Matrix.from(1, zs.length, zs, dtype),
        g = Matrix.from(1, zs.length, gs, dtype);
      const f = (v: number) => (dtype === 'float32' ? Math.fround(v) : v);
      const a = forward('relu', z),
        d = Matrix.zeros(1, zs.length, dtype);
      activation('relu').backward(z, a, g, d);
      expect(Array.from(a.data).map((v) => v + 0)).toEqual(zs.map((v) => (v > 0 ? f(v) : 0)));
      expect(Array.from(d.data)).toEqual([0, 0, 0, f(4 / 7), f(5 / 9), 0]);
      const la = forward('leaky-relu', z),
        ld = Matrix.zeros(1, zs.length, dtype);
      activation('leaky-relu').backward(z, la, g, ld);
      expect(Array.from(ld.data)).toEqual(gs.map((gv, i) => (zs[i] > 0 ? f(gv) : f(0.01 * f(gv)))));
    }
    // float64 z and g into a float32 δ (the generic loop, rounding on the store): the bit loop is for all-float32 buffers only
    const z64 = Matrix.from(1, zs.length, zs, 'float64'),
      d32 = Matrix.zeros(1, zs.length, 'float32');
    activation('relu').backward(z64, z64, Matrix.from(1, zs.length, [1 / 3, 2 / 3, 1 / 7, 4 / 7, 5 / 9, 6 / 11], 'float64'), d32);
    expect(Array.from(d32.data)).toEqual([0, 0, 0, Math.fround(4 / 7), Math.fround(5 / 9), 0]);
    const relu = activation('relu'),
      leaky = activation('leaky-relu');
    expect([relu.prime!(2, 2), relu.prime!(0, 0), relu.prime!(-1, 0)]).toEqual([1, 0, 0]);
    expect([leaky.prime!(2, 2), leaky.prime!(0, 0), leaky.prime!(-1, -0.01)]).toEqual([1, 0.01, 0.01]);
  });
  it('linear: a = z and δ = g, also into other buffers', () => {
    const z = columns([[1, -2]]),
      a = Matrix.zeros(2, 1, 'float64'),
      d = Matrix.zeros(2, 1, 'float64');
    activation('linear').forward(z, a);
    activation('linear').backward(z, a, z, d);
    expect([Array.from(a.data), Array.from(d.data)]).toEqual([
      [1, -2],
      [1, -2],
    ]);
  });
  it('cross-entropy after a linear output (refused now): the textbook −Σ y ln a + (1 − y) ln(1 − a) and ∇_a C ⊙ f′; ln 0 held at ln 1e−300', () => {
    const z = columns([
        [0.25, 0.5],
        [0.9, 0],
      ]),
      y = columns([
        [1, 0],
        [0, 1],
      ]);
    const total = cost('cross-entropy').total(activation('linear'), z, z, y);
    expect(total).toBeCloseTo(-Math.log(0.25) - Math.log(0.5) - Math.log(0.1) - Math.log(1e-300), 9);
    const d = delta('cross-entropy', 'linear', columns([[0.25, 0.5]]), columns([[1, 0]]));
    expect(Array.from(d.data)).toEqual([(0.25 - 1) / (0.25 * 0.75), 0.5 / 0.25]);
    // log-likelihood after sigmoid (refused now): −y/a ⊙ σ′(z)
    const zs = columns([[0.3, -0.2]]),
      ys = columns([[1, 0]]);
    const a = forward('sigmoid', zs);
    const dl = delta('log-likelihood', 'sigmoid', zs, ys);
    expect(dl.data[0]).toBeCloseTo((-1 / a.data[0]) * a.data[0] * (1 - a.data[0]), 14);
    expect(dl.data[1]).toBe(0);
    // soft targets weigh both logs: −[0.5 ln 0.25 + 0.5 ln 0.75]
    expect(cost('cross-entropy').total(activation('linear'), columns([[0.25]]), columns([[0.25]]), columns([[0.5]]))).toBeCloseTo(-0.5 * Math.log(0.25) - 0.5 * Math.log(0.75), 14);
    expect(cost('log-likelihood').total(activation('sigmoid'), zs, a, ys)).toBeCloseTo(-Math.log(a.data[0]), 14);
  });
});

describe('Network.summary, withActivations and withCost', () => {
  const arch: Architecture = { sizes: [3, 4, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' };
  it("summary(): each layer's inputs, units, activation and n_l·(n_(l−1) + 1) parameters, summing to parameterCount", () => {
    const net = Network.create(arch, 'normal', new Rng(1), 'float64');
    const rows = net.summary();
    expect(rows).toEqual([
      { layer: 1, inputs: 3, units: 4, activation: 'tanh', parameters: 16, kind: 'dense', shape: [4], weightShape: [4, 3] },
      { layer: 2, inputs: 4, units: 2, activation: 'softmax', parameters: 10, kind: 'dense', shape: [2], weightShape: [2, 4] },
    ]);
    expect(rows.reduce((p, r) => p + r.parameters, 0)).toBe(net.parameterCount);
  });
  it('withActivations: change(a, l) per layer (l = 0 for layer 1), the weights shared and the cost kept; summary names the new ones', () => {
    const net = Network.create(arch, 'normal', new Rng(2), 'float64');
    const seen: [string, number][] = [];
    const v = net.withActivations((a, l) => {
      seen.push([a.name, l]);
      return l === 0 ? activation('relu') : a;
    });
    expect(seen).toEqual([
      ['tanh', 0],
      ['softmax', 1],
    ]);
    expect(v.activations.map((a) => a.name)).toEqual(['relu', 'softmax']);
    expect(v.summary().map((r) => r.activation)).toEqual(['relu', 'softmax']);
    expect(v.weights).toBe(net.weights);
    expect(v.biases).toBe(net.biases);
    expect(v.cost).toBe(net.cost);
    expect(v.arch).toBe(net.arch);
    expect(() => new Network(arch, net.weights, net.biases, [activation('tanh')])).toThrow('expected 2 activations, one per layer');
  });
  it('withCost: the given cost object, the weights and activations shared', () => {
    const net = Network.create(arch, 'normal', new Rng(3), 'float64');
    const c = cost('quadratic');
    const v = net.withCost(c);
    expect(v.cost).toBe(c);
    expect(v.activations).toBe(net.activations);
    expect(v.weights).toBe(net.weights);
    expect(v.biases).toBe(net.biases);
  });
});

describe('dropout masks: drawn for the hidden layers only, u < p dropped', () => {
  const arch: Architecture = { sizes: [2, 3, 2, 2], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' };
  it('one uniform draw per hidden unit and example, none for the output layer; a unit is dropped where u < p (u = p keeps it)', () => {
    const ws = new Workspace(Network.create(arch, 'xavier', new Rng(1), 'float64'), 2);
    ws.enableDropout();
    const draws = [0.5, 0.49, 0.51, 0, 0.99, 0.25, 0.5, 0.1, 0.9, 0.75];
    let next = 0;
    drawDropoutMasks(ws, 0.5, () => draws[next++]);
    expect(next).toBe((3 + 2) * 2);
    expect(ws.mask?.length).toBe(3); // layers 1 and 2 (index 0 unused): no mask for the output layer
    expect(Array.from(ws.mask?.[1].data ?? [])).toEqual([2, 0, 2, 0, 2, 0]);
    expect(Array.from(ws.mask?.[2].data ?? [])).toEqual([2, 0, 2, 2]);
  });
  it('without enableDropout it draws nothing and feedforward multiplies nothing', () => {
    const net = Network.create(arch, 'xavier', new Rng(2), 'float64');
    const ws = new Workspace(net, 2);
    let drawn = 0;
    drawDropoutMasks(ws, 0.5, () => (drawn++, 0));
    expect(drawn).toBe(0);
    expect(ws.mask).toBeUndefined();
    ws.input.data.set([0.3, -0.7, 1.1, 0.2]);
    const a = Array.from(feedforward(net, ws, jsKernels).data);
    expect(ws.previous(2)).toBe(ws.a[1]);
    expect(a.every(Number.isFinite)).toBe(true);
  });
  it('Ã = A ⊙ mask on each hidden layer feeds the next; the output layer is not masked', () => {
    const net = Network.create(arch, 'xavier', new Rng(3), 'float64');
    const ws = new Workspace(net, 2);
    ws.enableDropout();
    ws.input.data.set([0.3, -0.7, 1.1, 0.2]);
    const draws = [0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9, 0.1, 0.9, 0.9];
    let next = 0;
    drawDropoutMasks(ws, 0.25, () => draws[next++]);
    feedforward(net, ws, jsKernels);
    for (const l of [1, 2]) {
      const A = ws.a[l].data,
        M = ws.mask?.[l].data ?? [];
      expect(Array.from(ws.previous(l + 1).data)).toEqual(Array.from(A, (v, i) => v * M[i]));
      expect(ws.previous(l + 1)).not.toBe(ws.mask?.[l]);
    }
    const out = ws.output.data;
    expect(out[0] + out[2]).toBeCloseTo(1, 14); // softmax columns still sum to 1
  });
});
