import { Matrix, type Kernels } from '../linalg/index.js';
import { feedforward, totalCost, Workspace } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';
import { fillBatch, identity, type Examples } from '../data/dataset.js';

export interface Evaluation {
  /** Mean cost over the examples. */
  loss: number;
  accuracy: number;
  correct: number;
  count: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Predicted class of every example. */
  predictions: Uint8Array;
  /** A^L of every example for its true class and for the predicted one. */
  trueOutputs: Float64Array;
  predictedOutputs: Float64Array;
}

/** Index of the largest entry of column j. */
export function argmaxColumn(a: Matrix, j: number): number {
  const A = a.data,
    m = a.cols;
  let best = 0;
  for (let i = 1; i < a.rows; i++) if (A[i * m + j] > A[best * m + j]) best = i;
  return best;
}

/** Runs the network over all examples in chunks; the network is not changed. */
export function evaluate(net: Network, ex: Examples, kernels: Kernels, chunk = 1000): Evaluation {
  const classes = net.sizes[net.depth];
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions = new Uint8Array(ex.count);
  const trueOutputs = new Float64Array(ex.count);
  const predictedOutputs = new Float64Array(ex.count);
  const order = identity(ex.count);
  let total = 0;
  let correct = 0;
  let ws: Workspace | undefined;
  let y: Matrix | undefined;
  for (let start = 0; start < ex.count; start += chunk) {
    const m = Math.min(chunk, ex.count - start);
    if (!ws || ws.m !== m) {
      ws = new Workspace(net, m);
      y = Matrix.zeros(classes, m, net.dtype);
    }
    fillBatch(ex, order, start, ws.input, y!);
    const out = feedforward(net, ws, kernels);
    total += totalCost(net, ws, y!);
    for (let j = 0; j < m; j++) {
      const p = argmaxColumn(out, j);
      const t = ex.labels[start + j];
      predictions[start + j] = p;
      trueOutputs[start + j] = out.get(t, j);
      predictedOutputs[start + j] = out.get(p, j);
      confusion[t][p]++;
      if (p === t) correct++;
    }
  }
  return { loss: total / ex.count, accuracy: ex.count ? correct / ex.count : 0, correct, count: ex.count, confusion, predictions, trueOutputs, predictedOutputs };
}

/** A^L of one example (x: its n_0 inputs). */
export function outputs(net: Network, x: ArrayLike<number>, kernels: Kernels): number[] {
  const ws = new Workspace(net, 1);
  ws.input.data.set(x);
  return Array.from(feedforward(net, ws, kernels).data);
}
