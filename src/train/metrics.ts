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
  /** Predicted class of every example (bytes up to 256 classes, 32-bit above). */
  predictions: Uint8Array | Int32Array;
  /** A^L of every example for its true class and for the predicted one. */
  trueOutputs: Float64Array;
  predictedOutputs: Float64Array;
  /** Of an ensemble (more than one network): each member's own loss and accuracy, from the same pass. */
  members?: { loss: number; accuracy: number; correct: number; count: number }[];
}

/** Index of the largest entry of column j. */
export function argmaxColumn(a: Matrix, j: number): number {
  const A = a.data,
    m = a.cols;
  let best = 0;
  for (let i = 1; i < a.rows; i++) if (A[i * m + j] > A[best * m + j]) best = i;
  return best;
}

/**
 * Runs the network over all examples in chunks; the network is not changed.
 * Given several networks (an ensemble, all with the same inputs and classes),
 * the output is the mean of theirs, Ā = (1/K) Σ_k A^L_k — for softmax
 * outputs the average of the predicted probabilities, the "soft vote" of the
 * committees of LeCun et al. 1998 and of Ciresan, Meier & Schmidhuber 2012
 * ("Multi-column deep neural networks for image classification"), and the
 * ensemble of Nielsen's chapter 6 — and the loss the mean of the members'
 * costs. With one network, Ā = A^L exactly.
 */
export function evaluate(nets: Network | readonly Network[], ex: Examples, kernels: Kernels, chunk = 1000): Evaluation {
  const members = Array.isArray(nets) ? (nets as readonly Network[]) : [nets as Network];
  const net = members[0],
    K = members.length;
  const classes = net.sizes[net.depth];
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions = classes <= 256 ? new Uint8Array(ex.count) : new Int32Array(ex.count);
  const trueOutputs = new Float64Array(ex.count);
  const predictedOutputs = new Float64Array(ex.count);
  const order = identity(ex.count);
  let total = 0;
  let correct = 0;
  const own = members.map(() => ({ total: 0, correct: 0 }));
  let ws: Workspace[] = [];
  let y: Matrix | undefined, mean: Matrix | undefined;
  for (let start = 0; start < ex.count; start += chunk) {
    const m = Math.min(chunk, ex.count - start);
    if (ws[0]?.m !== m) {
      ws = workspaces(members, m);
      y = Matrix.zeros(classes, m, net.dtype);
      mean = K > 1 ? Matrix.zeros(classes, m, 'float64') : undefined;
    }
    fillBatch(ex, order, start, ws[0].input, y!);
    let out = feedforward(net, ws[0], kernels);
    const first = totalCost(net, ws[0], y!);
    total += first / K;
    if (mean) {
      total += meanOutput(members, ws, y!, kernels, out, first, mean, own, ex.labels.subarray(start, start + m)) / K;
      out = mean;
    }
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
  const rate = (c: number) => (ex.count ? c / ex.count : 0);
  return {
    loss: total / ex.count,
    accuracy: rate(correct),
    correct,
    count: ex.count,
    confusion,
    predictions,
    trueOutputs,
    predictedOutputs,
    members: K > 1 ? own.map((o) => ({ loss: o.total / ex.count, accuracy: rate(o.correct), correct: o.correct, count: ex.count })) : undefined,
  };
}

/** One workspace per architecture: members of one architecture share it (each member's pass is done with it before the next starts). */
function workspaces(members: readonly Network[], m: number): Workspace[] {
  const shared = new Map<string, Workspace>();
  return members.map((n) => {
    const key = `${n.dtype} ${JSON.stringify(n.arch)}`;
    if (!shared.has(key)) shared.set(key, new Workspace(n, m));
    return shared.get(key)!;
  });
}

/**
 * Ā = (1/K) Σ_k A^L_k into `mean` (float64), given member 0's output and cost
 * already computed in ws[0]; each member is scored on its own A^L on the way
 * (`own`: its summed cost and correct count). Returns Σ_(k ≥ 1) of the
 * members' summed costs.
 */
function meanOutput(
  members: readonly Network[],
  ws: Workspace[],
  y: Matrix,
  kernels: Kernels,
  first: Matrix,
  firstCost: number,
  mean: Matrix,
  own: { total: number; correct: number }[],
  labels: ArrayLike<number>,
): number {
  const M = mean.data,
    K = members.length;
  let others = 0;
  M.fill(0);
  for (let k = 0; k < K; k++) {
    if (k && ws[k] !== ws[0]) ws[k].input.data.set(ws[0].input.data);
    const a = k ? feedforward(members[k], ws[k], kernels) : first;
    const cost = k ? totalCost(members[k], ws[k], y) : firstCost;
    if (k) others += cost;
    own[k].total += cost;
    for (let j = 0; j < a.cols; j++) if (argmaxColumn(a, j) === labels[j]) own[k].correct++;
    const A = a.data;
    for (let i = 0; i < M.length; i++) M[i] += A[i];
  }
  for (let i = 0; i < M.length; i++) M[i] /= K;
  return others;
}

/** A^L of one example (x: its n_0 inputs). */
export function outputs(net: Network, x: ArrayLike<number>, kernels: Kernels): number[] {
  const ws = new Workspace(net, 1);
  ws.input.data.set(x);
  return Array.from(feedforward(net, ws, kernels).data);
}
