import type { Kernels, Trans } from './kernels.js';
import { gemmShape } from './kernels.js';
import type { Float, Matrix } from './matrix.js';

/**
 * The js provider: hand-written typed-array loops. It is the reference every
 * other provider is tested against, and the fastest choice for tiny matrices.
 * Loop orders keep the innermost loop on contiguous memory.
 */
export const jsKernels: Kernels = {
  name: 'js',

  gemm(transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void {
    const { m, n, k } = gemmShape(transA, transB, a, b, c);
    const A = a.data;
    const B = b.data;
    const C = c.data;
    const lda = a.cols;
    const ldb = b.cols;
    scale(C, m * n, beta);
    if (alpha === 0 || k === 0) return;
    if (!transB) {
      // C[i,:] += alpha · op(A)[i,p] · B[p,:] — the inner loop runs along rows of B and C.
      rowStream(A, lda, transA, B, C, m, n, k, alpha);
    } else {
      // op(B) = Bᵀ: copy Bᵀ into a scratch buffer once (O(k·n)), then run the
      // row-streaming loop above, whose inner loop is long and contiguous.
      const T = scratchFor(B, k * n);
      for (let j = 0; j < n; j++) {
        const bj = j * ldb;
        for (let p = 0; p < k; p++) T[p * n + j] = B[bj + p];
      }
      rowStream(A, lda, transA, T, C, m, n, k, alpha);
    }
  },

  rowSums(x: Matrix, alpha: number, beta: number, out: Float): void {
    if (out.length !== x.rows) throw new Error(`rowSums: out has ${out.length} entries, X has ${x.rows} rows`);
    const X = x.data;
    const n = x.cols;
    for (let i = 0; i < x.rows; i++) {
      // Four running sums (in float64), so that each add need not wait for the one before.
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      const start = i * n,
        end = start + n,
        end4 = start + (n & ~3);
      let j = start;
      for (; j < end4; j += 4) {
        s0 += X[j];
        s1 += X[j + 1];
        s2 += X[j + 2];
        s3 += X[j + 3];
      }
      for (; j < end; j++) s0 += X[j];
      const s = s0 + s1 + (s2 + s3);
      out[i] = alpha * s + (beta === 0 ? 0 : beta * out[i]);
    }
  },
};

/**
 * C[i,:] += alpha · Σ_p op(A)[i,p] · B[p,:] with B k×n row-major (leading
 * dimension n). Register blocking: a 4×4 block of op(A) is held in locals
 * while one pass over j updates four rows of C from four rows of B, so each
 * load of B and of C serves four multiply-adds (about 2× the plain loop).
 */
function rowStream(A: Float, lda: number, transA: boolean, B: Float, C: Float, m: number, n: number, k: number, alpha: number): void {
  const a = (i: number, p: number) => alpha * (transA ? A[p * lda + i] : A[i * lda + p]);
  let i = 0;
  for (; i + 3 < m; i += 4) {
    const c0 = i * n,
      c1 = c0 + n,
      c2 = c1 + n,
      c3 = c2 + n;
    let p = 0;
    for (; p + 3 < k; p += 4) {
      const a00 = a(i, p),
        a01 = a(i, p + 1),
        a02 = a(i, p + 2),
        a03 = a(i, p + 3);
      const a10 = a(i + 1, p),
        a11 = a(i + 1, p + 1),
        a12 = a(i + 1, p + 2),
        a13 = a(i + 1, p + 3);
      const a20 = a(i + 2, p),
        a21 = a(i + 2, p + 1),
        a22 = a(i + 2, p + 2),
        a23 = a(i + 2, p + 3);
      const a30 = a(i + 3, p),
        a31 = a(i + 3, p + 1),
        a32 = a(i + 3, p + 2),
        a33 = a(i + 3, p + 3);
      const b0 = p * n,
        b1 = b0 + n,
        b2 = b1 + n,
        b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        const x0 = B[b0 + j],
          x1 = B[b1 + j],
          x2 = B[b2 + j],
          x3 = B[b3 + j];
        C[c0 + j] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3;
        C[c1 + j] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3;
        C[c2 + j] += a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3;
        C[c3 + j] += a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3;
      }
    }
    for (; p < k; p++) {
      const a0 = a(i, p),
        a1 = a(i + 1, p),
        a2 = a(i + 2, p),
        a3 = a(i + 3, p);
      const bp = p * n;
      for (let j = 0; j < n; j++) {
        const x = B[bp + j];
        C[c0 + j] += a0 * x;
        C[c1 + j] += a1 * x;
        C[c2 + j] += a2 * x;
        C[c3 + j] += a3 * x;
      }
    }
  }
  for (; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const ap = a(i, p);
      const bp = p * n;
      for (let j = 0; j < n; j++) C[ci + j] += ap * B[bp + j];
    }
  }
}

function scale(x: Float, len: number, beta: number): void {
  if (beta === 1) return;
  if (beta === 0) x.fill(0, 0, len);
  else for (let i = 0; i < len; i++) x[i] *= beta;
}

let scratch32 = new Float32Array(0);
let scratch64 = new Float64Array(0);

/** A reusable buffer of B's precision with at least len entries (grown, never shrunk). */
function scratchFor(b: Float, len: number): Float {
  if (b instanceof Float64Array) {
    if (scratch64.length < len) scratch64 = new Float64Array(len);
    return scratch64;
  }
  if (scratch32.length < len) scratch32 = new Float32Array(len);
  return scratch32;
}
