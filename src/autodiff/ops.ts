import { jsKernels, Matrix } from '../linalg/index.js';
import { Node } from './node.js';

// The operations of the graph. Each builds a node whose value is computed at
// once (and again by forward()), and whose backward rule adds
// grad · ∂value/∂child into every child's grad.

/**
 * One term grad · d of the backward pass, d = ∂value/∂child the local
 * derivative: exactly 0 where d is exactly 0, whatever grad is (even ∞ or
 * NaN). A zero local derivative means the value does not move with the child
 * there (relu below 0, a saturated sigmoid, a factor that is 0), so nothing
 * flows back through it: the mask PyTorch's relu/threshold backward applies.
 * Multiplying instead turns ∞ · 0 into NaN: sqrt(relu(x)) at x = −1 has
 * ∂sqrt/∂relu = ∞ and ∂relu/∂x = 0, and its derivative is 0, not NaN.
 */
export function chain(grad: number, d: number): number {
  return d === 0 ? 0 : grad * d;
}

/** True when every entry is finite: then no product of the backward pass can be ∞ · 0 unless a value is infinite. */
function finite(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

const zeros = (rows: number, cols: number) => Matrix.zeros(rows, cols, 'float64');

function toMatrix(v: number | Matrix | ArrayLike<number>[]): Matrix {
  if (typeof v === 'number') return Matrix.from(1, 1, [v], 'float64');
  if (v instanceof Matrix) return v.as('float64');
  const rows = v.length,
    cols = rows ? v[0].length : 0;
  const m = zeros(rows, cols);
  v.forEach((r, i) => m.data.set(Array.from(r), i * cols));
  return m;
}

/** An input of the function: its gradient is what backward() is for. */
export function variable(name: string, value: number | Matrix | ArrayLike<number>[]): Node {
  return new Node('variable', [], toMatrix(value), undefined, undefined, name);
}

export function constant(value: number | Matrix | ArrayLike<number>[], label?: string): Node {
  return new Node('constant', [], toMatrix(value), undefined, undefined, label);
}

function node(op: string, children: Node[], rows: number, cols: number, evaluate: (self: Node) => void, pushBack: (self: Node) => void): Node {
  const n = new Node(op, children, zeros(rows, cols), evaluate, pushBack);
  n.recompute();
  return n;
}

/** Element-wise f(x) with derivative df(x, y) where y = f(x). */
function unary(op: string, x: Node, f: (x: number) => number, df: (x: number, y: number) => number): Node {
  return node(
    op,
    [x],
    x.rows,
    x.cols,
    (self) => {
      const X = x.value.data,
        Y = self.value.data;
      for (let i = 0; i < Y.length; i++) Y[i] = f(X[i]);
    },
    (self) => {
      const X = x.value.data,
        Y = self.value.data,
        G = self.grad.data,
        GX = x.grad.data;
      for (let i = 0; i < G.length; i++) GX[i] += chain(G[i], df(X[i], Y[i]));
    },
  );
}

/**
 * Element-wise f(a, b) with partial derivatives; shapes must match, or one
 * side is a scalar (1×1) broadcast to the other's shape — its gradient is then
 * the sum over the broadcast.
 */
function binary(op: string, a: Node, b: Node, f: (a: number, b: number) => number, da: (a: number, b: number, y: number) => number, db: (a: number, b: number, y: number) => number): Node {
  const sameShape = a.rows === b.rows && a.cols === b.cols;
  if (!sameShape && !a.isScalar && !b.isScalar) {
    throw new Error(`${op}: shapes ${a.rows}x${a.cols} and ${b.rows}x${b.cols} do not match`);
  }
  const [rows, cols] = a.isScalar && !sameShape ? [b.rows, b.cols] : [a.rows, a.cols];
  const sa = a.isScalar && !sameShape,
    sb = b.isScalar && !sameShape;
  return node(
    op,
    [a, b],
    rows,
    cols,
    (self) => {
      const A = a.value.data,
        B = b.value.data,
        Y = self.value.data;
      for (let i = 0; i < Y.length; i++) Y[i] = f(A[sa ? 0 : i], B[sb ? 0 : i]);
    },
    (self) => {
      const A = a.value.data,
        B = b.value.data,
        Y = self.value.data,
        G = self.grad.data,
        GA = a.grad.data,
        GB = b.grad.data;
      for (let i = 0; i < G.length; i++) {
        const av = A[sa ? 0 : i],
          bv = B[sb ? 0 : i];
        GA[sa ? 0 : i] += chain(G[i], da(av, bv, Y[i]));
        GB[sb ? 0 : i] += chain(G[i], db(av, bv, Y[i]));
      }
    },
  );
}

export const add = (a: Node, b: Node) =>
  binary(
    'add',
    a,
    b,
    (x, y) => x + y,
    () => 1,
    () => 1,
  );
export const sub = (a: Node, b: Node) =>
  binary(
    'sub',
    a,
    b,
    (x, y) => x - y,
    () => 1,
    () => -1,
  );
export const mul = (a: Node, b: Node) =>
  binary(
    'mul',
    a,
    b,
    (x, y) => x * y,
    (_x, y) => y,
    (x) => x,
  );
export const div = (a: Node, b: Node) =>
  binary(
    'div',
    a,
    b,
    (x, y) => x / y,
    (_x, y) => 1 / y,
    (x, y) => -x / (y * y),
  );
/** a^b; ∂/∂b = a^b ln a is defined for a > 0 (0 where a^b is 0, NaN below). */
export const pow = (a: Node, b: Node) =>
  binary(
    'pow',
    a,
    b,
    Math.pow,
    (x, y) => (y === 0 ? 0 : y * Math.pow(x, y - 1)),
    (x, _y, out) => (x > 0 ? out * Math.log(x) : out === 0 ? 0 : NaN),
  );

export const neg = (x: Node) =>
  unary(
    'neg',
    x,
    (v) => -v,
    () => -1,
  );
export const exp = (x: Node) => unary('exp', x, Math.exp, (_v, y) => y);
export const log = (x: Node) => unary('log', x, Math.log, (v) => 1 / v);
export const sin = (x: Node) => unary('sin', x, Math.sin, Math.cos);
export const cos = (x: Node) => unary('cos', x, Math.cos, (v) => -Math.sin(v));
export const tanh = (x: Node) => unary('tanh', x, Math.tanh, (_v, y) => 1 - y * y);
export const sigmoid = (x: Node) =>
  unary(
    'sigmoid',
    x,
    (v) => 1 / (1 + Math.exp(-v)),
    (_v, y) => y * (1 - y),
  );
/** softplus(x) = ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|), finite for every finite x; its derivative is σ(x). */
export const softplus = (x: Node) =>
  unary(
    'softplus',
    x,
    (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))),
    (v) => 1 / (1 + Math.exp(-v)),
  );
/** ReLU; its derivative at 0 is taken as 0. */
export const relu = (x: Node) =>
  unary(
    'relu',
    x,
    (v) => (v > 0 ? v : 0),
    (v) => (v > 0 ? 1 : 0),
  );
export const leakyRelu = (x: Node, slope: number) =>
  unary(
    'leaky-relu',
    x,
    (v) => (v > 0 ? v : slope * v),
    (v) => (v > 0 ? 1 : slope),
  );

/**
 * A·B, with ∂/∂A = G Bᵀ and ∂/∂B = Aᵀ G. When G holds an ∞ or NaN the
 * products are summed term by term, each masked where its local derivative
 * (an entry of B or A) is 0 (see chain()); otherwise by gemm.
 */
export function matmul(a: Node, b: Node): Node {
  if (a.cols !== b.rows) throw new Error(`matmul: ${a.rows}x${a.cols} times ${b.rows}x${b.cols}`);
  const n = a.rows,
    k = a.cols,
    m = b.cols;
  return node(
    'matmul',
    [a, b],
    n,
    m,
    (self) => jsKernels.gemm(false, false, 1, a.value, b.value, 0, self.value),
    (self) => {
      if (finite(self.grad.data)) {
        jsKernels.gemm(false, true, 1, self.grad, b.value, 1, a.grad);
        jsKernels.gemm(true, false, 1, a.value, self.grad, 1, b.grad);
        return;
      }
      const G = self.grad.data,
        A = a.value.data,
        B = b.value.data,
        GA = a.grad.data,
        GB = b.grad.data;
      for (let i = 0; i < n; i++)
        for (let p = 0; p < k; p++)
          for (let j = 0; j < m; j++) {
            GA[i * k + p] += chain(G[i * m + j], B[p * m + j]); // ∂(AB)_ij/∂A_ip = B_pj
            GB[p * m + j] += chain(G[i * m + j], A[i * k + p]); // ∂(AB)_ij/∂B_pj = A_ip
          }
    },
  );
}

export function transpose(x: Node): Node {
  return node(
    'transpose',
    [x],
    x.cols,
    x.rows,
    (self) => {
      const X = x.value.data,
        Y = self.value.data,
        r = x.rows,
        c = x.cols;
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) Y[j * r + i] = X[i * c + j];
    },
    (self) => {
      const G = self.grad.data,
        GX = x.grad.data,
        r = x.rows,
        c = x.cols;
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) GX[i * c + j] += G[j * r + i];
    },
  );
}

function reduce(op: 'sum' | 'mean', x: Node): Node {
  const scale = op === 'mean' ? 1 / x.value.data.length : 1;
  return node(
    op,
    [x],
    1,
    1,
    (self) => {
      let s = 0;
      for (const v of x.value.data) s += v;
      self.value.data[0] = s * scale;
    },
    (self) => {
      const g = self.grad.data[0] * scale,
        GX = x.grad.data;
      for (let i = 0; i < GX.length; i++) GX[i] += g;
    },
  );
}

export const sum = (x: Node) => reduce('sum', x);
export const mean = (x: Node) => reduce('mean', x);

/** Z + b 1ᵀ: the column vector b (n×1) added to every column of Z (n×m). */
export function addBias(z: Node, b: Node): Node {
  if (b.cols !== 1 || b.rows !== z.rows) throw new Error(`addBias: bias ${b.rows}x${b.cols} for ${z.rows}x${z.cols}`);
  const m = z.cols;
  return node(
    'add-bias',
    [z, b],
    z.rows,
    m,
    (self) => {
      const Z = z.value.data,
        B = b.value.data,
        Y = self.value.data;
      for (let i = 0; i < z.rows; i++) for (let j = 0; j < m; j++) Y[i * m + j] = Z[i * m + j] + B[i];
    },
    (self) => {
      const G = self.grad.data,
        GZ = z.grad.data,
        GB = b.grad.data;
      for (let i = 0; i < z.rows; i++)
        for (let j = 0; j < m; j++) {
          GZ[i * m + j] += G[i * m + j];
          GB[i] += G[i * m + j];
        }
    },
  );
}

/**
 * Softmax of every column, stabilised by the column maximum. Restated on
 * purpose rather than imported from src/nn/activations.ts: the graph engine is
 * the oracle that checks the network's softmax (src/check/graph-oracle.ts), so
 * the two must not share code.
 */
function softmaxColumns(Z: Float64Array | Float32Array, S: Float64Array | Float32Array, n: number, m: number): void {
  for (let j = 0; j < m; j++) {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, Z[i * m + j]);
    let total = 0;
    for (let i = 0; i < n; i++) total += S[i * m + j] = Math.exp(Z[i * m + j] - max);
    for (let i = 0; i < n; i++) S[i * m + j] /= total;
  }
}

/** Softmax over each column (one example per column); backward: J = diag(s) − s sᵀ per column. */
export function softmax(z: Node): Node {
  const n = z.rows,
    m = z.cols;
  return node(
    'softmax',
    [z],
    n,
    m,
    (self) => softmaxColumns(z.value.data, self.value.data, n, m),
    (self) => {
      const S = self.value.data,
        G = self.grad.data,
        GZ = z.grad.data;
      if (!finite(G)) {
        // term by term, masked where ∂s_i/∂z_k = s_i (δ_ik − s_k) is 0 (see chain())
        for (let j = 0; j < m; j++) for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) GZ[k * m + j] += chain(G[i * m + j], S[i * m + j] * ((i === k ? 1 : 0) - S[k * m + j]));
        return;
      }
      for (let j = 0; j < m; j++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += G[i * m + j] * S[i * m + j];
        for (let i = 0; i < n; i++) GZ[i * m + j] += S[i * m + j] * (G[i * m + j] - dot);
      }
    },
  );
}

/**
 * The mean over columns of −ln softmax(z)_y for one-hot targets y (a
 * constant): one fused node, whose backward is (softmax(Z) − Y)/m. The value
 * is taken in log space, −ln s_i = ln Σ_k e^(z_k) − z_i, finite even where s_i
 * rounds to 0.
 */
export function softmaxLogLikelihood(z: Node, y: Node): Node {
  if (y.rows !== z.rows || y.cols !== z.cols) throw new Error('softmaxLogLikelihood: targets must match the logits');
  const n = z.rows,
    m = z.cols;
  const s = zeros(n, m);
  return node(
    'softmax-log-likelihood',
    [z, y],
    1,
    1,
    (self) => {
      const Z = z.value.data,
        Y = y.value.data;
      softmaxColumns(Z, s.data, n, m);
      let total = 0;
      for (let j = 0; j < m; j++) {
        let max = -Infinity;
        for (let i = 0; i < n; i++) max = Math.max(max, Z[i * m + j]);
        let sum = 0;
        for (let i = 0; i < n; i++) sum += Math.exp(Z[i * m + j] - max);
        const lse = max + Math.log(sum);
        for (let i = 0; i < n; i++) if (Y[i * m + j] !== 0) total += Y[i * m + j] * (lse - Z[i * m + j]);
      }
      self.value.data[0] = total / m;
    },
    (self) => {
      const g = self.grad.data[0] / m,
        S = s.data,
        Y = y.value.data,
        GZ = z.grad.data;
      for (let i = 0; i < S.length; i++) GZ[i] += chain(g, S[i] - Y[i]);
    },
  );
}
