import type { Matrix } from '../linalg/index.js';
import type { Activation, ActivationName } from './activations.js';

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

/** ln that stays finite when a float32 activation rounds to exactly 0 (only for pairings the CLI refuses, loaded from old files). */
function ln(x: number): number {
  return Math.log(x < 1e-300 ? 1e-300 : x);
}

/**
 * δ = ∇_a C ⊙ f'(z) the textbook way, dividing by a (and 1 − a): only for
 * the pairings the CLI refuses, when a model or checkpoint written before the
 * refusal holds one.
 */
function textbookDelta(out: Activation, z: Matrix, a: Matrix, y: Matrix, delta: Matrix, gradA: (a: number, y: number) => number): void {
  const A = a.data,
    Y = y.data,
    D = delta.data;
  for (let i = 0; i < A.length; i++) D[i] = gradA(A[i], Y[i]);
  out.backward(z, a, delta, delta);
}

/** softplus(x) = ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|): finite for every finite x. ln σ(z) = −softplus(−z), ln(1 − σ(z)) = −softplus(z). */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * Log-space quantities of the softmax of one column z of Z^L, in float64,
 * each exponent shifted by a maximum so that nothing overflows, and nothing
 * that matters underflows to 0:
 *   lse = ln Σ_k e^(z_k), so ln a_i = z_i − lse;
 *   ln(1 − a_i) = ln Σ_(k≠i) e^(z_k) − lse = shift_i + ln rest_i − lse,
 *     shift_i = max_(k≠i) z_k, rest_i = Σ_(k≠i) e^(z_k − shift_i) ≥ 1;
 *   a_i / (1 − a_k) = e^(z_i − shift_k) / rest_k for i ≠ k (at most 1).
 */
class SoftmaxColumn {
  lse = 0;
  private top = 0;
  private second = 0;
  private topAt = 0;
  /** e^(z_i − max z) and e^(z_i − second largest z). */
  private readonly e1: Float64Array;
  private readonly e2: Float64Array;
  private readonly rest: Float64Array;

  constructor(private readonly n: number) {
    this.e1 = new Float64Array(n);
    this.e2 = new Float64Array(n);
    this.rest = new Float64Array(n);
  }

  /** Loads column j of Z (n × m); `lseOnly` skips what only ln(1 − a) and the ratios need. */
  load(Z: ArrayLike<number>, m: number, j: number, lseOnly = false): void {
    const n = this.n,
      e1 = this.e1,
      e2 = this.e2;
    let top = -Infinity,
      second = -Infinity,
      topAt = 0;
    for (let i = 0; i < n; i++) {
      const v = Z[i * m + j];
      if (v > top) {
        second = top;
        top = v;
        topAt = i;
      } else if (v > second) second = v;
    }
    let t1 = 0,
      t2 = 0;
    for (let i = 0; i < n; i++) {
      t1 += e1[i] = Math.exp(Z[i * m + j] - top);
      if (i !== topAt && !lseOnly) t2 += e2[i] = Math.exp(Z[i * m + j] - second);
    }
    // Σ_(k≠i) e^(z_k − top) = t1 − e1_i ≥ 1 for i ≠ topAt (the top term stays in); for topAt, the sum without it, shifted by the second.
    for (let i = 0; i < n; i++) this.rest[i] = i === topAt ? t2 : t1 - e1[i];
    this.top = top;
    this.second = second;
    this.topAt = topAt;
    this.lse = top + Math.log(t1);
  }

  /** a_i. */
  a(i: number): number {
    return this.e1[i] * Math.exp(this.top - this.lse);
  }

  /** ln(1 − a_i). */
  log1mA(i: number): number {
    return (i === this.topAt ? this.second : this.top) + Math.log(this.rest[i]) - this.lse;
  }

  /** a_i / (1 − a_k), for i ≠ k. */
  ratio(i: number, k: number): number {
    return (k === this.topAt ? this.e2[i] : this.e1[i]) / this.rest[k];
  }
}

/**
 * A cost C_x(a, y) of one example; the batch cost is the mean over the
 * columns. Y holds one-hot targets, one column per example.
 *
 * As in Nielsen's network2.py (Neural Networks and Deep Learning, ch. 3), the
 * cost owns the output error δ^L = ∂C_x/∂z^L for each output activation it
 * accepts, so a cost/activation pairing is decided in one place. Both the cost
 * and δ^L are computed from z^L in log space (log-softmax, softplus, log1p),
 * never by dividing by a or 1 − a, which are exactly 0 or 1 once a float32
 * output saturates.
 */
export interface Cost {
  readonly name: CostName;
  /** Why `output` makes no sense under this cost, as one line naming what to use instead; undefined when it does. */
  refuses(output: ActivationName): string | undefined;
  /** Σ_x C_x over the columns, from Z^L and A^L = f(Z^L). */
  total(out: Activation, z: Matrix, a: Matrix, y: Matrix): number;
  /** δ^L ← ∂C_x/∂z^L for every column (for a pairing it refuses, the textbook ∇_a C ⊙ f'(z), unstable). */
  delta(out: Activation, z: Matrix, a: Matrix, y: Matrix, delta: Matrix): void;
}

/** C_x = ½‖a − y‖²; δ^L = (a − y) ⊙ f'(z) (for softmax, its Jacobian times a − y): every output activation. */
export const quadratic: Cost = {
  name: 'quadratic',
  refuses: () => undefined,
  total(_out, _z, a, y) {
    const A = a.data,
      Y = y.data;
    let s = 0;
    for (let i = 0; i < A.length; i++) s += (A[i] - Y[i]) * (A[i] - Y[i]);
    return s / 2;
  },
  delta(out, z, a, y, delta) {
    const A = a.data,
      Y = y.data,
      D = delta.data;
    for (let i = 0; i < A.length; i++) D[i] = A[i] - Y[i]; // ∇_a C = a − y
    out.backward(z, a, delta, delta); // δ = ∇_a C ⊙ f'(z)
  },
};

/** C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]: needs outputs in (0, 1), from sigmoid or softmax. */
export const crossEntropy: Cost = {
  name: 'cross-entropy',
  refuses: (output) =>
    output === 'sigmoid' || output === 'softmax'
      ? undefined
      : `--cost cross-entropy needs outputs in (0, 1), and a ${output} output is not (ln a or ln(1 − a) is undefined): use --output-activation sigmoid, or --cost quadratic with ${output}`,
  total(out, z, a, y) {
    const Z = z.data,
      A = a.data,
      Y = y.data;
    let s = 0;
    if (out.name === 'sigmoid') {
      // ln a = −softplus(−z), ln(1 − a) = −softplus(z)
      for (let i = 0; i < Z.length; i++) {
        if (Y[i] !== 0) s += Y[i] * softplus(-Z[i]);
        if (Y[i] !== 1) s += (1 - Y[i]) * softplus(Z[i]);
      }
    } else if (out.name === 'softmax') {
      // ln a_i = z_i − lse, ln(1 − a_i) = ln Σ_(k≠i) e^(z_k) − lse
      const n = z.rows,
        m = z.cols,
        col = new SoftmaxColumn(n);
      for (let j = 0; j < m; j++) {
        col.load(Z, m, j);
        for (let i = 0; i < n; i++) {
          const y = Y[i * m + j];
          if (y !== 0) s += y * (col.lse - Z[i * m + j]);
          if (y !== 1) s -= (1 - y) * col.log1mA(i);
        }
      }
    } else {
      for (let i = 0; i < A.length; i++) {
        if (Y[i] !== 0) s -= Y[i] * ln(A[i]);
        if (Y[i] !== 1) s -= (1 - Y[i]) * ln(1 - A[i]);
      }
    }
    return s;
  },
  delta(out, z, a, y, delta) {
    const Z = z.data,
      A = a.data,
      Y = y.data,
      D = delta.data;
    if (out.name === 'sigmoid') {
      // ∂C/∂z = ∇_a C ⊙ σ'(z) = (a − y)/(a(1 − a)) · a(1 − a) = a − y
      for (let i = 0; i < A.length; i++) D[i] = A[i] - Y[i];
    } else if (out.name === 'softmax') {
      // ∂C/∂z_i = Σ_j r_j (δ_ij − a_i) with r_j = a_j ∂C/∂a_j = (a_j − y_j)/(1 − a_j); since r_i (1 − a_i) = a_i − y_i,
      //   δ_i = (a_i − y_i) − Σ_(j≠i) [(1 − y_j) a_j a_i/(1 − a_j) − y_j a_i],
      // where a_i/(1 − a_j) ≤ 1 for i ≠ j comes from log space (SoftmaxColumn.ratio): every term is bounded, nothing divides by 1 − a.
      const n = z.rows,
        m = z.cols,
        col = new SoftmaxColumn(n),
        p = new Float64Array(n);
      for (let j = 0; j < m; j++) {
        col.load(Z, m, j);
        for (let i = 0; i < n; i++) p[i] = col.a(i); // a_i in float64
        for (let i = 0; i < n; i++) {
          let d = p[i] - Y[i * m + j];
          for (let k = 0; k < n; k++) {
            if (k === i) continue;
            const yk = Y[k * m + j];
            if (yk !== 1) d -= (1 - yk) * p[k] * col.ratio(i, k);
            if (yk !== 0) d += yk * p[i];
          }
          D[i * m + j] = d;
        }
      }
    } else {
      textbookDelta(out, z, a, y, delta, (a, y) => (a - y) / (a * (1 - a)));
    }
  },
};

/** C_x = −Σ_j y_j ln a_j, the log-likelihood of the true class: needs a softmax output (a distribution over the classes). */
export const logLikelihood: Cost = {
  name: 'log-likelihood',
  refuses: (output) =>
    output === 'softmax'
      ? undefined
      : output === 'sigmoid'
        ? "--cost log-likelihood needs --output-activation softmax: with sigmoid it only raises the true class's output, so every output can go to 1 and the cost to 0 (use --cost cross-entropy for a sigmoid output)"
        : `--cost log-likelihood needs --output-activation softmax (a probability for each class), and ${output} outputs are not probabilities: use --output-activation softmax, or --cost quadratic with ${output}`,
  total(out, z, a, y) {
    const Z = z.data,
      A = a.data,
      Y = y.data;
    let s = 0;
    if (out.name === 'softmax') {
      // −ln a_i = lse − z_i
      const n = z.rows,
        m = z.cols,
        col = new SoftmaxColumn(n);
      for (let j = 0; j < m; j++) {
        col.load(Z, m, j, true);
        for (let i = 0; i < n; i++) if (Y[i * m + j] !== 0) s += Y[i * m + j] * (col.lse - Z[i * m + j]);
      }
    } else {
      for (let i = 0; i < A.length; i++) if (Y[i] !== 0) s -= Y[i] * ln(A[i]);
    }
    return s;
  },
  delta(out, z, a, y, delta) {
    if (out.name !== 'softmax') return textbookDelta(out, z, a, y, delta, (a, y) => (y === 0 ? 0 : -y / a));
    // ∂C/∂z_i = a_i Σ_j y_j − y_i = a_i − y_i for one-hot targets: softmax.backward with g = −y/a, worked out by
    // hand so that nothing is divided by an a that underflowed to 0 (the same loop shape on purpose).
    const A = a.data,
      Y = y.data,
      D = delta.data,
      n = a.rows,
      m = a.cols;
    for (let j = 0; j < m; j++) {
      let sy = 0;
      for (let i = 0; i < n; i++) sy += Y[i * m + j];
      for (let i = 0; i < n; i++) D[i * m + j] = A[i * m + j] * sy - Y[i * m + j];
    }
  },
};

/**
 * Label smoothing (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna 2016, "Rethinking
 * the Inception Architecture for Computer Vision", §7): each one-hot target
 * column y of the K classes is replaced, in place, by
 *   y' = (1 − ε) y + ε/K
 * as torch.nn.CrossEntropyLoss(label_smoothing=ε) and tf.losses.softmaxCrossEntropy's
 * labelSmoothing do. The costs take any targets in [0, 1], so C and δ^L follow
 * unchanged: δ^L = A^L − Y' for softmax + log-likelihood (Σ_j y'_j = 1) and sigmoid + cross-entropy.
 */
export function smoothTargets(y: Matrix, eps: number): void {
  const Y = y.data,
    keep = 1 - eps,
    share = eps / y.rows;
  for (let i = 0; i < Y.length; i++) Y[i] = keep * Y[i] + share; // y' = (1 − ε) y + ε/K
}

/**
 * Why --label-smoothing makes no sense with a cost, as one line; undefined
 * when it does. It is defined for a cross-entropy between the target
 * distribution and the output (log-likelihood, cross-entropy); under the
 * quadratic cost it would only move regression targets, so it is refused.
 */
export function smoothingProblem(cost: CostName): string | undefined {
  return cost === 'quadratic'
    ? 'label smoothing replaces the one-hot targets by a distribution for a cross-entropy cost; --cost quadratic has none (use --cost log-likelihood with a softmax output, or cross-entropy)'
    : undefined;
}

const BY_NAME: Record<CostName, Cost> = {
  quadratic,
  'cross-entropy': crossEntropy,
  'log-likelihood': logLikelihood,
};

export function cost(name: CostName): Cost {
  return BY_NAME[name];
}
