import type { Matrix } from '../linalg/index.js';

export const ACTIVATIONS = ['sigmoid', 'relu', 'tanh', 'leaky-relu', 'softmax', 'linear'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

/** Slope of leaky ReLU for z < 0. */
export const LEAKY_SLOPE = 0.01;

/**
 * An activation f applied to Z^l. Element-wise activations give f'(z); softmax
 * mixes a column, so every activation exposes the product that backprop needs:
 * δ = g ⊙ f'(z) (or the softmax Jacobian times g).
 */
export interface Activation {
  readonly name: ActivationName;
  /** A ← f(Z), element-wise (softmax: per column, i.e. per example). */
  forward(z: Matrix, a: Matrix): void;
  /** δ ← J_f(Z)ᵀ g: for element-wise f, δ = g ⊙ f'(Z). `delta` may alias `g`. */
  backward(z: Matrix, a: Matrix, g: Matrix, delta: Matrix): void;
  /** f'(z) of one unit given z and a = f(z); undefined for softmax. */
  readonly prime?: (z: number, a: number) => number;
  /** The largest value f' takes (for "saturated": f' < 1% of it). */
  readonly maxPrime: number;
}

function elementwise(
  name: ActivationName,
  f: (z: number) => number,
  prime: (z: number, a: number) => number,
  maxPrime: number,
): Activation {
  return {
    name,
    forward(z, a) {
      const Z = z.data, A = a.data;
      for (let i = 0; i < Z.length; i++) A[i] = f(Z[i]);
    },
    // δ = g ⊙ f'(z)  (the Hadamard factor of BP1 and BP2)
    backward(z, a, g, delta) {
      const Z = z.data, A = a.data, G = g.data, D = delta.data;
      for (let i = 0; i < Z.length; i++) D[i] = G[i] * prime(Z[i], A[i]);
    },
    prime,
    maxPrime,
  };
}

export const sigmoid = elementwise(
  'sigmoid',
  (z) => 1 / (1 + Math.exp(-z)),
  (_z, a) => a * (1 - a),
  0.25,
);

export const relu = elementwise('relu', (z) => (z > 0 ? z : 0), (z) => (z > 0 ? 1 : 0), 1);

export const tanh = elementwise('tanh', Math.tanh, (_z, a) => 1 - a * a, 1);

export const leakyRelu = elementwise(
  'leaky-relu',
  (z) => (z > 0 ? z : LEAKY_SLOPE * z),
  (z) => (z > 0 ? 1 : LEAKY_SLOPE),
  1,
);

export const linear = elementwise('linear', (z) => z, () => 1, 1);

/** Softmax over each column (one example per column), stabilised by the column max. */
export const softmax: Activation = {
  name: 'softmax',
  forward(z, a) {
    const Z = z.data, A = a.data, n = z.rows, m = z.cols;
    for (let j = 0; j < m; j++) {
      let max = -Infinity;
      for (let i = 0; i < n; i++) max = Math.max(max, Z[i * m + j]);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += A[i * m + j] = Math.exp(Z[i * m + j] - max);
      for (let i = 0; i < n; i++) A[i * m + j] /= sum;
    }
  },
  // δ_i = a_i (g_i − Σ_k g_k a_k): the softmax Jacobian (diag(a) − a aᵀ) times g.
  backward(_z, a, g, delta) {
    const A = a.data, G = g.data, D = delta.data, n = a.rows, m = a.cols;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += G[i * m + j] * A[i * m + j];
      for (let i = 0; i < n; i++) D[i * m + j] = A[i * m + j] * (G[i * m + j] - dot);
    }
  },
  maxPrime: 0.25,
};

const BY_NAME: Record<ActivationName, Activation> = {
  sigmoid,
  relu,
  tanh,
  'leaky-relu': leakyRelu,
  softmax,
  linear,
};

export function activation(name: ActivationName): Activation {
  return BY_NAME[name];
}

export function isActivationName(s: string): s is ActivationName {
  return (ACTIVATIONS as readonly string[]).includes(s);
}
