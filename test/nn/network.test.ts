import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { backprop, Gradients, Workspace } from '../../src/nn/backprop.js';
import { activation, ACTIVATIONS, isActivationName } from '../../src/nn/activations.js';
import { cost } from '../../src/nn/costs.js';
import { type Architecture, architectureGeometry, convArchitecture, defaultLearningRate, Network, pairingProblem } from '../../src/nn/network.js';
import { parseLayerList } from '../../src/nn/layers.js';
import { Rng } from '../../src/base/rng.js';

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

describe('Network with conv layers and batch normalisation: what it refuses, its summary, its clone', () => {
  const dense: Architecture = { sizes: [3, 4, 5, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' };
  const rest = { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
  const only = /^batch normalisation on layer (.+): only hidden layers 1\.\.2, ascending, once each$/;
  it('batch normalisation on hidden layers only (1..L − 1), integer, ascending, once each', () => {
    const made = (batchNorm: number[]) => () => Network.create({ ...dense, batchNorm }, 'xavier', new Rng(1), 'float64');
    expect(made([1, 2])).not.toThrow();
    for (const bn of [[0], [3], [1, 3], [2, 1], [1, 1]]) expect(made(bn), JSON.stringify(bn)).toThrow(only);
    expect(made([0])).toThrow('batch normalisation on layer 0: only hidden layers 1..2, ascending, once each');
    expect(made([2, 1])).toThrow('batch normalisation on layer 1:');
    // not an integer: given by hand, [γ; β] of 4 entries beside it
    const net = Network.create(dense, 'xavier', new Rng(1), 'float64');
    expect(() => new Network({ ...dense, batchNorm: [1.5] }, [...net.weights, Matrix.zeros(0, 4, 'float64')], [...net.biases, new Float64Array(8)])).toThrow(only);
  });
  it('needs a weights and biases entry per layer and per batch normalisation: [γ; β] of 2F beside a 0 × F matrix, running statistics of F', () => {
    const arch = { ...dense, batchNorm: [2] };
    const net = Network.create(arch, 'xavier', new Rng(1), 'float64');
    const W = net.weights,
      b = net.biases;
    expect(() => new Network(arch, W.slice(0, 3), b.slice(0, 3))).toThrow('expected 4 weight matrices and bias vectors');
    expect(() => new Network(arch, W, [...b.slice(0, 3), new Float64Array(8)])).toThrow('batch normalisation 1 (layer 2) needs γ and β of 5 entries each');
    expect(() => new Network(arch, [...W.slice(0, 3), Matrix.zeros(1, 5, 'float64')], b)).toThrow('batch normalisation 1 (layer 2) needs γ and β of 5 entries each');
    const ok = new Float64Array(5),
      short = new Float64Array(4);
    expect(() => new Network(arch, W, b, undefined, undefined, [{ mean: ok, variance: ok }])).not.toThrow();
    expect(() => new Network(arch, W, b, undefined, undefined, [{ mean: short, variance: ok }])).toThrow('batch normalisation 1 (layer 2) needs running statistics of 5 entries');
    expect(() => new Network(arch, W, b, undefined, undefined, [{ mean: ok, variance: short }])).toThrow('batch normalisation 1 (layer 2) needs running statistics of 5 entries');
  });
  it('conv layers: the geometry checked against the sizes, dense nets have none (input or layers alone included), the output layer dense', () => {
    const conv = convArchitecture(parseLayerList('conv3x3x2'), [1, 4, 4], 3, rest); // 1×4×4 → 2×2×2 = 8 → 3
    expect(conv.sizes).toEqual([16, 8, 3]);
    expect(architectureGeometry(conv)[1]?.cOut).toBe(2);
    expect(() => architectureGeometry({ ...conv, sizes: [16, 9, 3] })).toThrow('layers give sizes 16,8,3, but the architecture says 16,9,3');
    expect(architectureGeometry({ ...dense, input: [1, 1, 3] })).toEqual([undefined, undefined, undefined, undefined]);
    expect(architectureGeometry({ ...conv, input: undefined })).toEqual([undefined, undefined, undefined]);
    const last = { ...conv, sizes: [16, 8], layers: conv.layers!.slice(0, 1) };
    expect(() => Network.create(last, 'he', new Rng(1), 'float64')).toThrow(/^the output layer must be dense$/);
  });
  it("summary(): a conv layer's kernel, padding and pooling, '+ batchnorm' and its γ, β counted in the parameters", () => {
    const arch = { ...convArchitecture(parseLayerList('conv3x3x2p1,avgpool2,conv2x2x3,4'), [1, 6, 6], 3, rest), batchNorm: [1, 3] };
    const net = Network.create(arch, 'he', new Rng(1), 'float64');
    // 1×6×6 → (pad 1) 2×6×6 → avgpool 2×3×3 = 18 → 3×2×2 = 12 → 4 → 3
    expect(net.summary().map((r) => [r.kind, r.parameters])).toEqual([
      ['conv 3×3×2 pad 1 + avgpool 2 + batchnorm', 2 * 9 + 2 + 2 * 2],
      ['conv 2×2×3', 3 * 2 * 4 + 3],
      ['dense + batchnorm', 4 * 12 + 4 + 2 * 4],
      ['dense', 3 * 4 + 3],
    ]);
  });
  it('clone() copies the running statistics (and converts them with the rest)', () => {
    const net = Network.create({ ...dense, batchNorm: [1, 2] }, 'xavier', new Rng(1), 'float64');
    net.norm[1]!.runningMean.set([0.5, -1, 2, 0.25]);
    net.norm[2]!.runningVar.fill(3);
    for (const dtype of ['float64', 'float32'] as const) {
      const copy = net.clone(dtype);
      expect(Array.from(copy.norm[1]!.runningMean)).toEqual([0.5, -1, 2, 0.25]);
      expect(Array.from(copy.norm[2]!.runningVar)).toEqual([3, 3, 3, 3, 3]);
      expect(copy.norm[2]!.runningVar).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
      expect(copy.norm[1]!.runningMean).not.toBe(net.norm[1]!.runningMean);
    }
  });
});
