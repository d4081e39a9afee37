import type { Examples } from '../data/dataset.js';
import type { Kernels } from '../linalg/index.js';
import type { Network } from '../nn/network.js';
import { outputs, type Evaluation } from '../train/metrics.js';

/** A wrong prediction: the example, its true and predicted classes, and the outputs for each. */
export interface Mistake {
  index: number;
  trueLabel: number;
  predicted: number;
  trueOutput: number;
  predictedOutput: number;
}

/**
 * The predicted class of each example. evaluate() stores them in bytes
 * (src/train/metrics.ts), which holds classes 0–255 only: class 299 would
 * read as 43. For a model with more outputs they are computed again here,
 * one example at a time, with the same rule (the first largest output).
 */
export function predictions(stored: ArrayLike<number>, classes: number, net: Network, ex: Examples, k: Kernels): ArrayLike<number> {
  if (classes <= 256 || !(stored instanceof Uint8Array)) return stored;
  const out = new Int32Array(ex.count);
  for (let i = 0; i < ex.count; i++) {
    const a = outputs(net, ex.features.subarray(i * ex.dim, (i + 1) * ex.dim), k);
    let best = 0;
    for (let c = 1; c < a.length; c++) if (a[c] > a[best]) best = c;
    out[i] = best;
  }
  return out;
}

/** The n worst mistakes of an evaluation: the wrong predictions that gave the true class the lowest output, lowest first. */
export function worstMistakes(r: Evaluation, net: Network, ex: Examples, k: Kernels, n: number): Mistake[] {
  const predicted = predictions(r.predictions, net.sizes[net.depth], net, ex, k);
  const worst: Mistake[] = [];
  for (let i = 0; i < ex.count; i++) {
    if (predicted[i] === ex.labels[i]) continue;
    worst.push({ index: i, trueLabel: ex.labels[i], predicted: predicted[i], trueOutput: r.trueOutputs[i], predictedOutput: r.predictedOutputs[i] });
  }
  return worst.sort((x, y) => x.trueOutput - y.trueOutput).slice(0, n);
}
