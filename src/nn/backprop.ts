import { Matrix, type Float, type Kernels } from '../linalg/index.js';
import { float32Block, type ElementPasses } from '../linalg/simd.js';
import type { Network } from './network.js';

/**
 * Buffers for one batch size m, reused batch after batch so the training step
 * allocates nothing. Indices follow the equations: z[l], a[l] and delta[l]
 * belong to layer l = 1..L. The input A^0 (n_0 × m, one example per column)
 * is stored as its transpose X = (A^0)ᵀ, one example per row: a batch is
 * then m contiguous copies from the dataset instead of a transpose, and
 * layer 1 multiplies by Xᵀ through gemm's transpose flag (z[0], a[0], delta[0] stay empty).
 */
export class Workspace {
  readonly z: Matrix[];
  readonly a: Matrix[];
  readonly delta: Matrix[];
  /** X = (A^0)ᵀ: the input batch, one example per row. */
  readonly x: Matrix;
  /**
   * Inverted dropout on the hidden layers (enableDropout): mask[l] holds
   * M^l / (1 − p), entries 0 or 1/(1 − p), and dropped[l] = A^l ⊙ mask[l],
   * the activations the next layer sees. Absent: no dropout.
   */
  mask?: Matrix[];
  dropped?: Matrix[];
  /** The SIMD element-wise passes bound to these buffers' memory (float32, where wasm SIMD runs): given to the activations. */
  readonly simd?: ElementPasses;

  constructor(
    net: Network,
    readonly m: number,
  ) {
    const rows = net.sizes.map((n, l) => (l === 0 ? 0 : n)); // z^0, a^0, δ^0 are never needed
    const shapes: [number, number][] = [...rows, ...rows, ...rows].map((r) => [r, m]);
    shapes.push([m, net.sizes[0]]);
    // float32 buffers share one WebAssembly memory, where the ReLU passes run as SIMD (src/linalg/simd.ts)
    const block: { arrays: Float[]; passes?: ElementPasses } = net.dtype === 'float32' ? float32Block(shapes.map(([r, c]) => r * c)) : { arrays: shapes.map(([r, c]) => new Float64Array(r * c)) };
    const data = block.arrays;
    this.simd = block.passes;
    const matrices = shapes.map(([r, c], i) => new Matrix(r, c, data[i]));
    const L = rows.length;
    this.z = matrices.slice(0, L);
    this.a = matrices.slice(L, 2 * L);
    this.delta = matrices.slice(2 * L, 3 * L);
    this.x = matrices[3 * L];
  }

  /** Allocates the dropout masks of hidden layers 1..L−1 (fill them before each pass, e.g. with drawDropoutMasks). */
  enableDropout(): void {
    const hidden = this.a.slice(0, -1).map((a, l) => (l === 0 ? a : Matrix.zeros(a.rows, a.cols, a.dtype)));
    this.mask = hidden;
    this.dropped = hidden.map((a, l) => (l === 0 ? a : Matrix.zeros(a.rows, a.cols, a.dtype)));
  }

  /** The input batch X = (A^0)ᵀ, one example per row: fill it before feedforward. */
  get input(): Matrix {
    return this.x;
  }

  /** A^(l−1) as stored for layer l's products: X for layer 1 (used transposed), a[l−1] above. */
  previous(l: number): Matrix {
    return l === 1 ? this.x : (this.dropped?.[l - 1] ?? this.a[l - 1]);
  }

  /** A^L, the output after feedforward. */
  get output(): Matrix {
    return this.a[this.a.length - 1];
  }
}

/** ∂C/∂W^l and ∂C/∂b^l for l = 1..L, stored 0-based like Network.weights. */
export class Gradients {
  readonly gradW: Matrix[];
  readonly gradB: Float[];

  constructor(net: Network) {
    this.gradW = net.weights.map((W) => Matrix.zeros(W.rows, W.cols, W.dtype));
    this.gradB = net.biases.map((b) => (b instanceof Float64Array ? new Float64Array(b.length) : new Float32Array(b.length)));
  }
}

/**
 * Z^l = W^l A^(l−1) + b^l 1ᵀ,  A^l = f_l(Z^l), for l = 1..L; returns A^L.
 * The bias goes in first, as gemm's C with beta = 1 (the way BLAS users
 * write a dense layer), so no element-wise pass adds it afterwards.
 * With dropout masks in ws, each hidden layer passes on Ã^l = A^l ⊙ M^l/(1 − p)
 * (ws.previous gives Ã to the next layer).
 */
export function feedforward(net: Network, ws: Workspace, kernels: Kernels): Matrix {
  for (let l = 1; l <= net.depth; l++) {
    const z = ws.z[l],
      Z = z.data,
      b = net.biases[l - 1],
      m = z.cols;
    for (let i = 0; i < z.rows; i++) Z.fill(b[i], i * m, (i + 1) * m); // Z ← b 1ᵀ
    kernels.gemm(false, l === 1, 1, net.weights[l - 1], ws.previous(l), 1, z); // Z ← W A + Z  (A^0 = Xᵀ)
    net.activations[l - 1].forward(z, ws.a[l], ws.simd); // A ← f(Z)
    if (ws.mask && ws.dropped && l < net.depth) multiply(ws.a[l].data, ws.mask[l].data, ws.dropped[l].data); // Ã ← A ⊙ M/(1 − p)
  }
  return ws.output;
}

/**
 * δ^L = ∂C/∂Z^L, which the cost owns (Nielsen's network2.py): ∇_A C ⊙ f_L'(Z^L)
 * in general, A^L − Y for softmax + log-likelihood and sigmoid + cross-entropy,
 * always computed in a numerically stable form (src/nn/costs.ts).
 */
export function outputDelta(net: Network, ws: Workspace, y: Matrix): Matrix {
  const L = net.depth;
  net.cost.delta(net.activations[L - 1], ws.z[L], ws.a[L], y, ws.delta[L]);
  return ws.delta[L];
}

/** Σ_x C_x of the batch after feedforward: the cost of A^L = f_L(Z^L) against y (in log space where the pairing allows). */
export function totalCost(net: Network, ws: Workspace, y: Matrix): number {
  const L = net.depth;
  return net.cost.total(net.activations[L - 1], ws.z[L], ws.a[L], y);
}

/** out ← x ⊙ y (element-wise; out may alias x). */
function multiply(x: Float, y: Float, out: Float): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] * y[i];
}

/**
 * Draws the masks of inverted dropout (Srivastava, Hinton, Krizhevsky,
 * Sutskever & Salakhutdinov 2014, "Dropout: A Simple Way to Prevent Neural
 * Networks from Overfitting"; scaled at training time so that evaluation
 * uses the weights as they are): each hidden unit of each example is kept
 * with probability 1 − p, M = 1 with probability 1 − p and 0 otherwise, and
 * mask = M / (1 − p), so that E[Ã] = A.
 */
export function drawDropoutMasks(ws: Workspace, p: number, uniform: () => number): void {
  if (!ws.mask) return;
  const keep = 1 / (1 - p);
  for (let l = 1; l < ws.mask.length; l++) {
    const m = ws.mask[l].data;
    for (let i = 0; i < m.length; i++) m[i] = uniform() < p ? 0 : keep;
  }
}

/** True when every entry is finite (neither NaN nor ±∞). */
export function allFinite(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

/** A way to compute ∂C/∂W and ∂C/∂b into grads (backprop, or a deliberately broken variant); returns Σ_x C_x. */
export type GradientMethod = (net: Network, ws: Workspace, y: Matrix, grads: Gradients, kernels: Kernels) => number;

/**
 * The forward pass, then δ^L and the δ recursion down to δ^1, for the batch
 * in ws.input with one-hot targets y. Returns the summed cost Σ_x C_x.
 */
export function deltas(net: Network, ws: Workspace, y: Matrix, kernels: Kernels): number {
  const L = net.depth;
  feedforward(net, ws, kernels);
  const total = totalCost(net, ws, y);
  outputDelta(net, ws, y);
  for (let l = L - 1; l >= 1; l--) {
    // δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ f_l'(Z^l), and ⊙ M^l/(1 − p) under dropout (Ã^l = A^l ⊙ M^l/(1 − p) fed layer l + 1)
    kernels.gemm(true, false, 1, net.weights[l], ws.delta[l + 1], 0, ws.delta[l]);
    if (ws.mask) multiply(ws.delta[l].data, ws.mask[l].data, ws.delta[l].data);
    net.activations[l - 1].backward(ws.z[l], ws.a[l], ws.delta[l], ws.delta[l], ws.simd);
  }
  return total;
}

/**
 * One forward and backward pass over the batch in ws.input with one-hot
 * targets y. Fills grads with the gradients of the mean cost C = (1/m) Σ_x C_x
 * and returns the summed cost Σ_x C_x.
 */
export function backprop(net: Network, ws: Workspace, y: Matrix, grads: Gradients, kernels: Kernels): number {
  const m = ws.m;
  const total = deltas(net, ws, y, kernels);
  for (let l = 1; l <= net.depth; l++) {
    // ∂C/∂W^l = δ^l (A^(l−1))ᵀ / m,   ∂C/∂b^l = δ^l 1 / m
    kernels.gemm(false, l !== 1, 1 / m, ws.delta[l], ws.previous(l), 0, grads.gradW[l - 1]); // (A^0)ᵀ = X
    kernels.rowSums(ws.delta[l], 1 / m, 0, grads.gradB[l - 1]);
  }
  return total;
}

/**
 * One step of SGD with the update folded into the gradient products, as BLAS
 * users write it: W^l ← (1 − ηλ) W^l − (η/m) δ^l (A^(l−1))ᵀ is one gemm with
 * beta = 1 − ηλ, and b^l ← b^l − (η/m) δ^l 1. Every δ is computed before any
 * W changes. The same update as backprop() followed by W ← W − η(∂C/∂W + λW),
 * without materialising ∂C/∂W. Returns Σ_x C_x; when the cost or any δ is not
 * finite it returns NaN and changes nothing, so the weights stay the last good
 * ones and ws still holds the pass that failed (for diagnoseStep).
 */
export function sgdStep(net: Network, ws: Workspace, y: Matrix, lr: number, weightDecay: number, kernels: Kernels): number {
  const step = -lr / ws.m;
  const total = deltas(net, ws, y, kernels);
  if (!Number.isFinite(total) || ws.delta.some((d) => !allFinite(d.data))) return NaN;
  for (let l = 1; l <= net.depth; l++) {
    kernels.gemm(false, l !== 1, step, ws.delta[l], ws.previous(l), 1 - lr * weightDecay, net.weights[l - 1]);
    kernels.rowSums(ws.delta[l], step, 1, net.biases[l - 1]);
  }
  return total;
}
