import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Network } from '../../src/nn/network.js';
import type { Examples } from '../../src/data/dataset.js';
import { argmaxColumn, evaluate, outputs } from '../../src/train/metrics.js';

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
describe("evaluate, an ensemble (the mean of the members' outputs)", () => {
  // Two one-layer linear nets on x: a₁ = (x, 0.5 − x) as above, a₂ = (−x, x): the mean is (0, 0.25).
  const one = () => new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'linear', cost: 'quadratic' }, [Matrix.from(2, 1, [1, -1], 'float64')], [Float64Array.from([0, 0.5])]);
  const two = () => new Network({ sizes: [1, 2], activation: 'relu', outputActivation: 'linear', cost: 'quadratic' }, [Matrix.from(2, 1, [-1, 1], 'float64')], [Float64Array.from([0, 0])]);
  const ex: Examples = { features: Float32Array.from([2, -1, 4]), labels: Uint8Array.from([0, 1, 1]), count: 3, dim: 1 };
  for (const chunk of [1000, 2]) {
    it(`Ā = (A₁ + A₂)/2 picks the class, the loss is the members' mean (chunks of ${chunk})`, () => {
      const e = evaluate([one(), two()], ex, jsKernels, chunk);
      // x = 2: (2, −1.5) and (−2, 2) → (0, 0.25): class 1; x = −1: (−1, 1.5), (1, −1) → (0, 0.25): 1; x = 4: (4, −3.5), (−4, 4) → (0, 0.25): 1
      expect(Array.from(e.predictions)).toEqual([1, 1, 1]);
      expect(Array.from(e.trueOutputs)).toEqual([0, 0.25, 0.25]);
      expect(Array.from(e.predictedOutputs)).toEqual([0.25, 0.25, 0.25]);
      expect([e.correct, e.count]).toEqual([2, 3]);
      expect(e.confusion).toEqual([
        [0, 1],
        [0, 2],
      ]);
      const a = evaluate(one(), ex, jsKernels, chunk),
        b = evaluate(two(), ex, jsKernels, chunk);
      expect(e.loss).toBeCloseTo((a.loss + b.loss) / 2, 14);
      // each member alone predicts otherwise: the mean decides, not the first member
      expect(Array.from(a.predictions)).toEqual([0, 1, 0]);
      // and each member is scored in the same pass as it is alone
      expect(e.members).toEqual([a, b].map((r) => ({ loss: r.loss, accuracy: r.accuracy, correct: r.correct, count: r.count })));
      expect(e.members!.map((r) => r.correct)).toEqual([2, 1]); // by hand: one gets x = 2 and −1 right, two only x = 4
    });
  }
  it('an ensemble of one, or of one network twice, is that network exactly', () => {
    const single = evaluate(one(), ex, jsKernels);
    expect(evaluate([one()], ex, jsKernels)).toEqual(single);
    const twice = evaluate([one(), one()], ex, jsKernels);
    expect([twice.loss, Array.from(twice.predictions), Array.from(twice.trueOutputs)]).toEqual([single.loss, Array.from(single.predictions), Array.from(single.trueOutputs)]);
  });
  it('more than 256 classes are stored as they are (class 299 is 299, not 43)', () => {
    const w = new Float64Array(300);
    const net = new Network(
      { sizes: [1, 300], activation: 'relu', outputActivation: 'linear', cost: 'quadratic' },
      [Matrix.from(300, 1, w, 'float64')],
      [Float64Array.from({ length: 300 }, (_, i) => (i === 299 ? 1 : 0))],
    );
    const e = evaluate([net, net.clone()], { features: Float32Array.from([1]), labels: Uint8Array.from([0]), count: 1, dim: 1 }, jsKernels);
    expect(e.predictions[0]).toBe(299);
  });
});
describe('runTraining, more', () => {
  it('argmaxColumn finds a maximum after the first rise', () => {
    expect(argmaxColumn(Matrix.from(3, 2, [0, 1, 0, 3, 0, 5], 'float64'), 1)).toBe(2);
  });
});

describe('evaluate, more (mutation testing)', () => {
  const linear = (sizes: number[], weights: number[][], biases: number[][], dtype: 'float32' | 'float64' = 'float64') =>
    new Network(
      { sizes, activation: 'relu', outputActivation: 'linear', cost: 'quadratic' },
      weights.map((w, l) => Matrix.from(sizes[l + 1], sizes[l], w, dtype)),
      biases.map((b) => (dtype === 'float64' ? Float64Array.from(b) : Float32Array.from(b))),
    );
  const ex: Examples = { features: Float32Array.from([2, -1, 4]), labels: Uint8Array.from([0, 1, 1]), count: 3, dim: 1 };

  it('predictions are bytes up to 256 classes (class 255 included), 32-bit from 257', () => {
    const net = (classes: number) => linear([1, classes], [new Array<number>(classes).fill(0)], [Array.from({ length: classes }, (_, i) => (i === classes - 1 ? 1 : 0))]);
    const one = { features: Float32Array.from([1]), labels: Uint8Array.from([0]), count: 1, dim: 1 };
    const e256 = evaluate(net(256), one, jsKernels);
    expect(e256.predictions).toBeInstanceOf(Uint8Array);
    expect(e256.predictions[0]).toBe(255);
    expect(evaluate(net(257), one, jsKernels).predictions).toBeInstanceOf(Int32Array);
    expect(evaluate(net(2), one, jsKernels).predictions).toBeInstanceOf(Uint8Array);
  });

  it('one network has no per-member scores', () => {
    const one = linear([1, 2], [[1, -1]], [[0, 0.5]]);
    expect(evaluate(one, ex, jsKernels).members).toBeUndefined();
    expect(evaluate([one], ex, jsKernels).members).toBeUndefined();
  });

  it('the mean output is summed in float64: (0.1 + 0.2)/2 is 0.15000000000000002, not float32’s 0.15000000596046448', () => {
    const a = linear([1, 2], [[0, 0]], [[0.1, 0]]),
      b = linear([1, 2], [[0, 0]], [[0.2, 0]]);
    const e = evaluate([a, b], ex, jsKernels);
    expect(Array.from(e.predictedOutputs)).toEqual([0.15000000000000002, 0.15000000000000002, 0.15000000000000002]);
  });

  it('members of different architectures each run their own network on the same inputs', () => {
    // a: (x, 0.5 − x); b: hidden relu(x), relu(−x), then (h₁ − h₂, 2h₂) = (x, 2·max(0, −x)); x = 2, −1, 4
    const a = linear([1, 2], [[1, -1]], [[0, 0.5]]);
    const b = linear(
      [1, 2, 2],
      [
        [1, -1],
        [1, -1, 0, 2],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    );
    const e = evaluate([a, b], ex, jsKernels);
    // b alone: (2, 0), (−1, 2), (4, 0) → classes 0, 1, 0: two right (x = 2, −1); a alone: 0, 1, 0: two right
    // mean: (2, −0.75), (−1, 1.75), (4, −1.75) → 0, 1, 0
    expect(Array.from(e.trueOutputs)).toEqual([2, 1.75, -1.75]);
    expect(e.members!.map((m) => m.correct)).toEqual([2, 2]);
    const solo = evaluate(b, ex, jsKernels);
    expect(Array.from(solo.trueOutputs)).toEqual([2, 2, 0]);
    expect(e.members![1]).toEqual({ loss: solo.loss, accuracy: solo.accuracy, correct: solo.correct, count: 3 });
  });
});
