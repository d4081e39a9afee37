import type { Examples } from '../data/dataset.js';
import type { Evaluation } from '../train/metrics.js';

/** A wrong prediction: the example, its true and predicted classes, and the outputs for each. */
export interface Mistake {
  index: number;
  trueLabel: number;
  predicted: number;
  trueOutput: number;
  predictedOutput: number;
}

/** The n worst mistakes of an evaluation: the wrong predictions that gave the true class the lowest output, lowest first. */
export function worstMistakes(r: Evaluation, ex: Examples, n: number): Mistake[] {
  const predicted = r.predictions;
  const worst: Mistake[] = [];
  for (let i = 0; i < ex.count; i++) {
    if (predicted[i] === ex.labels[i]) continue;
    worst.push({ index: i, trueLabel: ex.labels[i], predicted: predicted[i], trueOutput: r.trueOutputs[i], predictedOutput: r.predictedOutputs[i] });
  }
  return worst.sort((x, y) => x.trueOutput - y.trueOutput).slice(0, n);
}
