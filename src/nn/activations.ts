import type { Matrix } from '../linalg/index.js';
import type { ElementPasses } from '../linalg/simd.js';

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
  /**
   * A ← f(Z); element-wise, or per column (per example) for softmax. Z
   * already holds W A + b 1ᵀ: feedforward puts the bias in first, as gemm's C.
   */
  forward(z: Matrix, a: Matrix, simd?: ElementPasses): void;
  /**
   * Z ← Z + b 1ᵀ, then A ← f(Z), in one pass over Z (the bias add fused with
   * the activation; A is f of Z as stored, rounded to its dtype): what a dense
   * layer runs after its gemm Z ← W A. Element-wise activations only
   * (softmax mixes a column: its layer puts b in first, as gemm's C).
   */
  forwardBias?(z: Matrix, b: ArrayLike<number>, a: Matrix, simd?: ElementPasses): void;
  /** δ ← J_f(Z)ᵀ g: for element-wise f, δ = g ⊙ f'(Z). `delta` may alias `g`. */
  backward(z: Matrix, a: Matrix, g: Matrix, delta: Matrix, simd?: ElementPasses): void;
  /** f'(z) of one unit given z and a = f(z); undefined for softmax. */
  readonly prime?: (z: number, a: number) => number;
  /** The largest value f' takes (for "saturated": f' < 1% of it). */
  readonly maxPrime: number;
  /**
   * How a unit of this activation stops learning: 'saturates' when z is far
   * from 0 and f'(z) → 0 (sigmoid, tanh); 'dies' when z ≤ 0 on every example
   * and the unit is off (the ReLU family: no gradient for ReLU, a 1% one for
   * leaky ReLU); undefined when it has no such failure (linear, softmax: whose
   * saturation is the cost's business).
   */
  readonly stalls?: 'saturates' | 'dies';
  /** The values a = f(z) can take: [lo, hi], ±Infinity where f is unbounded. */
  readonly range: { readonly lo: number; readonly hi: number };
}

// Each element-wise activation is written out as its own loop (rather than
// one generic loop calling f): the loops stay monomorphic, so V8 inlines them.

export const sigmoid: Activation = {
  name: 'sigmoid',
  forward(z, a) {
    const Z = z.data,
      A = a.data;
    for (let k = 0; k < Z.length; k++) A[k] = 1 / (1 + Math.exp(-Z[k]));
  },
  // z_ij ← z_ij + b_i,  a_ij = σ(z_ij) = 1/(1 + e^(−z_ij))
  forwardBias(z, b, a) {
    const Z = z.data,
      A = a.data,
      n = z.cols;
    for (let i = 0, k = 0; i < z.rows; i++) {
      const bi = b[i];
      for (const end = k + n; k < end; k++) {
        Z[k] += bi;
        A[k] = 1 / (1 + Math.exp(-Z[k]));
      }
    }
  },
  // δ = g ⊙ σ'(z), σ'(z) = a(1 − a)
  backward(_z, a, g, delta) {
    const A = a.data,
      G = g.data,
      D = delta.data;
    for (let i = 0; i < A.length; i++) D[i] = G[i] * A[i] * (1 - A[i]);
  },
  prime: (_z, a) => a * (1 - a),
  maxPrime: 0.25,
  stalls: 'saturates',
  range: { lo: 0, hi: 1 },
};

export const relu: Activation = {
  name: 'relu',
  forward(z, a, simd) {
    const Z = z.data,
      A = a.data;
    if (simd?.holds(Z, A)) return simd.reluForward(Z, A); // the same bits, four at a time, in a Workspace's wasm memory
    if (Z instanceof Float32Array && A instanceof Float32Array) {
      // Branch-free (z's sign is random, a branch would mispredict half the
      // time): max(z, 0) keeps z's bits unless the sign bit is set, and
      // bits >> 31 is all ones exactly then (−0 becomes +0).
      const Zi = new Int32Array(Z.buffer, Z.byteOffset, Z.length);
      const Ai = new Int32Array(A.buffer, A.byteOffset, A.length);
      for (let k = 0; k < Zi.length; k++) {
        const bits = Zi[k];
        Ai[k] = bits & ~(bits >> 31);
      }
      return;
    }
    for (let k = 0; k < Z.length; k++) A[k] = Z[k] > 0 ? Z[k] : 0;
  },
  // z_ij ← z_ij + b_i,  a_ij = max(z_ij, 0)
  forwardBias(z, b, a, simd) {
    const Z = z.data,
      A = a.data,
      n = z.cols;
    if (simd?.holds(Z, A)) return simd.reluBiasForward(Z, b, A, z.rows, n); // the same bits, four at a time
    if (Z instanceof Float32Array && A instanceof Float32Array) {
      // max(z, 0) on z's bits, branch-free, as forward above
      const Zi = new Int32Array(Z.buffer, Z.byteOffset, Z.length);
      const Ai = new Int32Array(A.buffer, A.byteOffset, A.length);
      for (let i = 0, k = 0; i < z.rows; i++) {
        const bi = b[i];
        for (const end = k + n; k < end; k++) {
          Z[k] += bi;
          const bits = Zi[k];
          Ai[k] = bits & ~(bits >> 31);
        }
      }
      return;
    }
    for (let i = 0, k = 0; i < z.rows; i++) {
      const bi = b[i];
      for (const end = k + n; k < end; k++) {
        Z[k] += bi;
        A[k] = Z[k] > 0 ? Z[k] : 0;
      }
    }
  },
  // δ = g ⊙ [z > 0]
  backward(z, _a, g, delta, simd) {
    const Z = z.data,
      G = g.data,
      D = delta.data;
    if (simd?.holds(Z, G, D)) return simd.reluBackward(Z, G, D); // as SIMD, the same bits
    if (Z instanceof Float32Array && G instanceof Float32Array && D instanceof Float32Array) {
      // The same, without a branch per element (the sign of z is random, so a
      // branch mispredicts half the time): keep g's bits where z > 0.
      const Zi = new Int32Array(Z.buffer, Z.byteOffset, Z.length);
      const Gi = new Int32Array(G.buffer, G.byteOffset, G.length);
      const Di = new Int32Array(D.buffer, D.byteOffset, D.length);
      for (let i = 0; i < Zi.length; i++) Di[i] = Gi[i] & -(Zi[i] > 0);
      return;
    }
    for (let i = 0; i < Z.length; i++) D[i] = Z[i] > 0 ? G[i] : 0;
  },
  prime: (z) => (z > 0 ? 1 : 0),
  maxPrime: 1,
  stalls: 'dies',
  range: { lo: 0, hi: Infinity },
};

export const tanh: Activation = {
  name: 'tanh',
  forward(z, a) {
    const Z = z.data,
      A = a.data;
    for (let k = 0; k < Z.length; k++) A[k] = Math.tanh(Z[k]);
  },
  // z_ij ← z_ij + b_i,  a_ij = tanh(z_ij)
  forwardBias(z, b, a) {
    const Z = z.data,
      A = a.data,
      n = z.cols;
    for (let i = 0, k = 0; i < z.rows; i++) {
      const bi = b[i];
      for (const end = k + n; k < end; k++) {
        Z[k] += bi;
        A[k] = Math.tanh(Z[k]);
      }
    }
  },
  // δ = g ⊙ (1 − a²)
  backward(_z, a, g, delta) {
    const A = a.data,
      G = g.data,
      D = delta.data;
    for (let i = 0; i < A.length; i++) D[i] = G[i] * (1 - A[i] * A[i]);
  },
  prime: (_z, a) => 1 - a * a,
  maxPrime: 1,
  stalls: 'saturates',
  range: { lo: -1, hi: 1 },
};

export const leakyRelu: Activation = {
  name: 'leaky-relu',
  forward(z, a) {
    const Z = z.data,
      A = a.data;
    for (let k = 0; k < Z.length; k++) A[k] = Z[k] > 0 ? Z[k] : LEAKY_SLOPE * Z[k];
  },
  // z_ij ← z_ij + b_i,  a_ij = z_ij > 0 ? z_ij : slope · z_ij
  forwardBias(z, b, a) {
    const Z = z.data,
      A = a.data,
      n = z.cols;
    for (let i = 0, k = 0; i < z.rows; i++) {
      const bi = b[i];
      for (const end = k + n; k < end; k++) {
        Z[k] += bi;
        A[k] = Z[k] > 0 ? Z[k] : LEAKY_SLOPE * Z[k];
      }
    }
  },
  // δ = g ⊙ (z > 0 ? 1 : slope)
  backward(z, _a, g, delta) {
    const Z = z.data,
      G = g.data,
      D = delta.data;
    for (let i = 0; i < Z.length; i++) D[i] = Z[i] > 0 ? G[i] : LEAKY_SLOPE * G[i];
  },
  prime: (z) => (z > 0 ? 1 : LEAKY_SLOPE),
  maxPrime: 1,
  stalls: 'dies',
  range: { lo: -Infinity, hi: Infinity },
};

export const linear: Activation = {
  name: 'linear',
  forward(z, a) {
    if (a !== z) a.data.set(z.data);
  },
  // z_ij ← z_ij + b_i,  a_ij = z_ij
  forwardBias(z, b, a) {
    const Z = z.data,
      A = a.data,
      n = z.cols;
    for (let i = 0, k = 0; i < z.rows; i++) {
      const bi = b[i];
      for (const end = k + n; k < end; k++) {
        Z[k] += bi;
        A[k] = Z[k];
      }
    }
  },
  backward(_z, _a, g, delta) {
    if (delta !== g) delta.data.set(g.data);
  },
  prime: () => 1,
  maxPrime: 1,
  range: { lo: -Infinity, hi: Infinity },
};

/** Softmax over each column (one example per column), stabilised by the column max. */
export const softmax: Activation = {
  name: 'softmax',
  forward(z, a) {
    const Z = z.data,
      A = a.data,
      n = z.rows,
      m = z.cols;
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
    const A = a.data,
      G = g.data,
      D = delta.data,
      n = a.rows,
      m = a.cols;
    for (let j = 0; j < m; j++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += G[i * m + j] * A[i * m + j];
      for (let i = 0; i < n; i++) D[i * m + j] = A[i * m + j] * (G[i * m + j] - dot);
    }
  },
  maxPrime: 0.25,
  range: { lo: 0, hi: 1 },
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

/** Activations a hidden layer can have: the element-wise ones (softmax mixes a column, so it is only an output). */
export const HIDDEN_ACTIVATIONS: readonly ActivationName[] = ACTIVATIONS.filter((a) => BY_NAME[a].prime !== undefined);

export function isActivationName(s: string): s is ActivationName {
  return (ACTIVATIONS as readonly string[]).includes(s);
}
