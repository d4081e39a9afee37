import { Matrix, type Float, type Kernels } from '../linalg/index.js';
import type { Network } from './network.js';

/**
 * Buffers for one batch size m, reused batch after batch so the training step
 * allocates nothing. Indices follow the equations: a[0] is the input A^0,
 * z[l], a[l] and delta[l] belong to layer l = 1..L (z[0], delta[0] unused).
 */
export class Workspace {
  readonly z: Matrix[];
  readonly a: Matrix[];
  readonly delta: Matrix[];

  constructor(net: Network, readonly m: number) {
    const dtype = net.dtype;
    this.z = net.sizes.map((n) => Matrix.zeros(n, m, dtype));
    this.a = net.sizes.map((n) => Matrix.zeros(n, m, dtype));
    this.delta = net.sizes.map((n) => Matrix.zeros(n, m, dtype));
  }

  /** A^0, the input batch (one example per column): fill it before feedforward. */
  get input(): Matrix {
    return this.a[0];
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

/** Z^l = W^l A^(l−1) + b^l 1ᵀ,  A^l = f_l(Z^l), for l = 1..L; returns A^L. */
export function feedforward(net: Network, ws: Workspace, kernels: Kernels): Matrix {
  for (let l = 1; l <= net.depth; l++) {
    const z = ws.z[l];
    broadcastColumns(net.biases[l - 1], z); // Z ← b 1ᵀ
    kernels.gemm(false, false, 1, net.weights[l - 1], ws.a[l - 1], 1, z); // Z ← W A + Z
    net.activations[l - 1].forward(z, ws.a[l]);
  }
  return ws.output;
}

/**
 * δ^L = ∇_A C ⊙ f_L'(Z^L), or A^L − Y when the cost cancels f'
 * (softmax + log-likelihood, sigmoid + cross-entropy).
 */
export function outputDelta(net: Network, ws: Workspace, y: Matrix): Matrix {
  const L = net.depth;
  const out = net.activations[L - 1];
  const a = ws.a[L];
  const delta = ws.delta[L];
  if (net.cost.cancels(out.name)) {
    const A = a.data, Y = y.data, D = delta.data;
    for (let i = 0; i < D.length; i++) D[i] = A[i] - Y[i];
  } else {
    net.cost.gradA(a, y, delta); // δ ← ∇_A C
    out.backward(ws.z[L], a, delta, delta); // δ ← δ ⊙ f'(Z^L)
  }
  return delta;
}

/** A way to compute ∂C/∂W and ∂C/∂b into grads (backprop, or a deliberately broken variant); returns Σ_x C_x. */
export type GradientMethod = (net: Network, ws: Workspace, y: Matrix, grads: Gradients, kernels: Kernels) => number;

/**
 * One forward and backward pass over the batch in ws.input with one-hot
 * targets y. Fills grads with the gradients of the mean cost C = (1/m) Σ_x C_x
 * and returns the summed cost Σ_x C_x.
 */
export function backprop(net: Network, ws: Workspace, y: Matrix, grads: Gradients, kernels: Kernels): number {
  const L = net.depth;
  const m = ws.m;
  feedforward(net, ws, kernels);
  const total = net.cost.total(ws.a[L], y);
  outputDelta(net, ws, y);
  for (let l = L - 1; l >= 1; l--) {
    // δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ f_l'(Z^l)
    kernels.gemm(true, false, 1, net.weights[l], ws.delta[l + 1], 0, ws.delta[l]);
    net.activations[l - 1].backward(ws.z[l], ws.a[l], ws.delta[l], ws.delta[l]);
  }
  for (let l = 1; l <= L; l++) {
    // ∂C/∂W^l = δ^l (A^(l−1))ᵀ / m,   ∂C/∂b^l = δ^l 1 / m
    kernels.gemm(false, true, 1 / m, ws.delta[l], ws.a[l - 1], 0, grads.gradW[l - 1]);
    kernels.rowSums(ws.delta[l], 1 / m, 0, grads.gradB[l - 1]);
  }
  return total;
}

/** Z ← b 1ᵀ: every column of Z is the bias vector. */
function broadcastColumns(b: Float, z: Matrix): void {
  const Z = z.data, m = z.cols;
  for (let i = 0; i < z.rows; i++) Z.fill(b[i], i * m, (i + 1) * m);
}
