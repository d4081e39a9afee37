import type { Matrix } from '../linalg/index.js';
import type { ActivationName } from './activations.js';

export const COSTS = ['quadratic', 'cross-entropy', 'log-likelihood'] as const;
export type CostName = (typeof COSTS)[number];

/** Accepted spellings on the command line. */
export const COST_ALIASES: Record<string, CostName> = {
  quadratic: 'quadratic',
  mse: 'quadratic',
  'cross-entropy': 'cross-entropy',
  crossentropy: 'cross-entropy',
  'log-likelihood': 'log-likelihood',
  'softmax-log-likelihood': 'log-likelihood',
  nll: 'log-likelihood',
};

/** ln that stays finite when a float32 activation rounds to exactly 0 (but lets NaN through, so divergence shows). */
function ln(x: number): number {
  return Math.log(x < 1e-300 ? 1e-300 : x);
}

/**
 * A cost C_x(a, y) of one example; the batch cost is the mean over the
 * columns. Y holds one-hot targets, one column per example.
 */
export interface Cost {
  readonly name: CostName;
  /** Σ_x C_x over the columns of A (divide by m for the mean). */
  total(a: Matrix, y: Matrix): number;
  /** G ← ∇_a C_x for every column. */
  gradA(a: Matrix, y: Matrix, g: Matrix): void;
  /**
   * True when δ^L simplifies to A − Y for this output activation
   * (softmax + log-likelihood, sigmoid + cross-entropy): no f'(z) factor.
   */
  cancels(output: ActivationName): boolean;
}

/** C_x = ½‖a − y‖² */
export const quadratic: Cost = {
  name: 'quadratic',
  total(a, y) {
    const A = a.data, Y = y.data;
    let s = 0;
    for (let i = 0; i < A.length; i++) s += (A[i] - Y[i]) * (A[i] - Y[i]);
    return s / 2;
  },
  gradA(a, y, g) {
    const A = a.data, Y = y.data, G = g.data;
    for (let i = 0; i < A.length; i++) G[i] = A[i] - Y[i];
  },
  cancels: () => false,
};

/** C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)] */
export const crossEntropy: Cost = {
  name: 'cross-entropy',
  total(a, y) {
    const A = a.data, Y = y.data;
    let s = 0;
    for (let i = 0; i < A.length; i++) {
      if (Y[i] !== 0) s -= Y[i] * ln(A[i]);
      if (Y[i] !== 1) s -= (1 - Y[i]) * ln(1 - A[i]);
    }
    return s;
  },
  gradA(a, y, g) {
    const A = a.data, Y = y.data, G = g.data;
    for (let i = 0; i < A.length; i++) G[i] = (A[i] - Y[i]) / (A[i] * (1 - A[i]));
  },
  cancels: (output) => output === 'sigmoid',
};

/** C_x = −ln a_y (the log-likelihood of the true class) */
export const logLikelihood: Cost = {
  name: 'log-likelihood',
  total(a, y) {
    const A = a.data, Y = y.data;
    let s = 0;
    for (let i = 0; i < A.length; i++) if (Y[i] !== 0) s -= Y[i] * ln(A[i]);
    return s;
  },
  gradA(a, y, g) {
    const A = a.data, Y = y.data, G = g.data;
    for (let i = 0; i < A.length; i++) G[i] = Y[i] === 0 ? 0 : -Y[i] / A[i];
  },
  cancels: (output) => output === 'softmax',
};

const BY_NAME: Record<CostName, Cost> = {
  quadratic,
  'cross-entropy': crossEntropy,
  'log-likelihood': logLikelihood,
};

export function cost(name: CostName): Cost {
  return BY_NAME[name];
}
