import { describe, expect, it } from 'vitest';
import { bugNoOp, BUGS, type BugName } from '../../src/check/bugs.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { backpropGradients, tinyBatch, tinyNet } from '../helpers.js';

describe('the planted bugs are the mistakes they name', () => {
  it('no-mean is m × the gradient, sign is −1 ×, drop-fprime keeps the output layer and changes the hidden one', () => {
    const { x, y } = tinyBatch();
    const good = backpropGradients(tinyNet(), x, y).grads;
    const noMean = backpropGradients(tinyNet(), x, y, BUGS['no-mean']).grads;
    const sign = backpropGradients(tinyNet(), x, y, BUGS.sign).grads;
    const drop = backpropGradients(tinyNet(), x, y, BUGS['drop-fprime']).grads;
    for (let l = 0; l < 2; l++) {
      good.gradW[l].data.forEach((v, i) => {
        expect(noMean.gradW[l].data[i]).toBeCloseTo(5 * v, 12);
        expect(sign.gradW[l].data[i]).toBe(-v);
      });
      good.gradB[l].forEach((v, i) => {
        expect(noMean.gradB[l][i]).toBeCloseTo(5 * v, 12);
        expect(sign.gradB[l][i]).toBe(-v);
      });
    }
    expect(Array.from(drop.gradW[1].data)).toEqual(Array.from(good.gradW[1].data));
    expect(Array.from(drop.gradB[1])).toEqual(Array.from(good.gradB[1]));
    // hidden δ without tanh′: δ¹ = (W²)ᵀ δ², so ∂C/∂b¹ = δ¹ 1/m = (W²)ᵀ ∂C/∂b²
    const W2 = tinyNet().weights[1];
    for (let i = 0; i < 4; i++) expect(drop.gradB[0][i]).toBeCloseTo(W2.get(0, i) * good.gradB[1][0] + W2.get(1, i) * good.gradB[1][1], 12);
  });
});

describe('a planted bug that changes nothing here is refused, not passed (gradcheck --bug)', () => {
  const net = (activation: 'linear' | 'relu', hidden: number[] = [4]) =>
    Network.create({ sizes: [3, ...hidden, 2], activation, outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(21), 'float64');
  const cases: [string, BugName, Network, number, RegExp | undefined][] = [
    ['drop-fprime, linear hidden layers (f′ = 1)', 'drop-fprime', net('linear', [4, 3]), 5, /every hidden activation is linear/],
    ['drop-fprime, no hidden layer', 'drop-fprime', net('relu', []), 5, /no hidden layer/],
    ['drop-fprime, relu hidden layers', 'drop-fprime', net('relu'), 5, undefined],
    ['no-mean, a batch of one', 'no-mean', net('relu'), 1, /one example.*--batch-size 2/],
    ['no-mean, a batch of two', 'no-mean', net('relu'), 2, undefined],
    ['sign, even a batch of one through linear layers', 'sign', net('linear'), 1, undefined],
  ];
  for (const [what, bug, n, m, problem] of cases)
    it(what, () => {
      const said = bugNoOp(bug, n, m);
      if (problem) expect(said).toMatch(problem);
      else expect(said).toBeUndefined();
    });
  it('and the no-op is real: drop-fprime through linear hidden layers gives backprop’s gradients to the bit', () => {
    const { x, y } = tinyBatch();
    const lin = () => net('linear', [4, 3]);
    const good = backpropGradients(lin(), x, y).grads,
      drop = backpropGradients(lin(), x, y, BUGS['drop-fprime']).grads;
    good.gradW.forEach((w, l) => expect(Array.from(drop.gradW[l].data)).toEqual(Array.from(w.data)));
  });
});
