import { describe, expect, it } from 'vitest';
import { BUGS } from '../../src/check/bugs.js';
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
