import { describe, expect, it } from 'vitest';
import { worstMistakes } from '../../src/analysis/mistakes.js';
import type { Evaluation } from '../../src/train/metrics.js';
import type { Examples } from '../../src/data/dataset.js';

// Five examples, three of them wrong: 1 (true class output 0.2), 3 (0.05), 4 (0.3).
const labels = [0, 1, 2, 1, 0];
const ex: Examples = { features: new Float32Array(5), labels: Uint8Array.from(labels), count: 5, dim: 1 };
const r = {
  predictions: Uint8Array.from([0, 2, 2, 0, 1]),
  trueOutputs: Float64Array.from([0.9, 0.2, 0.8, 0.05, 0.3]),
  predictedOutputs: Float64Array.from([0.9, 0.7, 0.8, 0.6, 0.5]),
} as Evaluation;

describe('worstMistakes', () => {
  it('the wrong predictions only, the lowest output for the true class first, at most n', () => {
    const all = [
      { index: 3, trueLabel: 1, predicted: 0, trueOutput: 0.05, predictedOutput: 0.6 },
      { index: 1, trueLabel: 1, predicted: 2, trueOutput: 0.2, predictedOutput: 0.7 },
      { index: 4, trueLabel: 0, predicted: 1, trueOutput: 0.3, predictedOutput: 0.5 },
    ];
    expect(worstMistakes(r, ex, 10)).toEqual(all);
    expect(worstMistakes(r, ex, 2)).toEqual(all.slice(0, 2));
    expect(worstMistakes(r, ex, 0)).toEqual([]);
  });

  it('none when every prediction is right', () => {
    expect(worstMistakes({ ...r, predictions: Uint8Array.from(labels) }, ex, 5)).toEqual([]);
  });
});
