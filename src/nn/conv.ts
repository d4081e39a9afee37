import type { Float } from '../linalg/index.js';
import type { ConvGeometry } from './layers.js';

/**
 * The data movement of a conv layer: im2col, its adjoint col2im, and pooling.
 * The arithmetic stays in gemm (src/nn/backprop.ts): a convolution is the
 * dense equation on the patch matrix cols(A), after Chellapilla, Puri &
 * Simard 2006, "High Performance Convolutional Neural Networks for Document
 * Processing" (unrolling the input into a matrix so the layer is one product).
 *
 * Layouts, for a batch of m examples:
 * - a layer's input, as the layer below stores it: pixel (ci, y, x) of
 *   example e at (ci·h·w + y·w + x)·ps + e·es, with (ps, es) = (1, n_0) for
 *   the input batch X (one example per row) and (m, 1) for a hidden layer's
 *   output (one example per column, as a dense layer's A);
 * - cols(A): K × (m·P), row k = (ci·kh + i)·kw + j, column e·P + p with
 *   p = oy·ow + ox: cols[k][e·P + p] = A(ci, oy + i − pad, ox + j − pad) of
 *   example e (0 outside the image);
 * - Z^l = W^l cols(A) + b 1ᵀ and A^l = f(Z^l): c_out × (m·P), row = channel;
 * - the pooled output the next layer reads: n_l × m, n_l = c_out·ph·pw in
 *   (channel, row, column) order, PyTorch's flatten order.
 */

/**
 * The im2col index table of a layer: T[k·P + p] is the pixel ci·h·w + y·w + x
 * that row k of column p reads, or −1 where the patch lies in the padding.
 * Independent of the batch: the example adds e·es.
 */
export function im2colTable(g: ConvGeometry): Int32Array {
  const { kh, kw, padding: pad } = g.spec;
  const T = new Int32Array(g.K * g.P);
  for (let ci = 0; ci < g.cIn; ci++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const k = (ci * kh + i) * kw + j;
        for (let oy = 0; oy < g.oh; oy++)
          for (let ox = 0; ox < g.ow; ox++) {
            const y = oy + i - pad,
              x = ox + j - pad;
            T[k * g.P + oy * g.ow + ox] = y < 0 || y >= g.h || x < 0 || x >= g.w ? -1 : ci * g.h * g.w + y * g.w + x;
          }
      }
  return T;
}

/** cols[k][e·P + p] ← A(T[k·P + p]) of example e: cols(A), K × (m·P). */
export function im2col(g: ConvGeometry, T: Int32Array, src: Float, ps: number, es: number, m: number, cols: Float): void {
  const { K, P } = g;
  for (let k = 0; k < K; k++) {
    const row = k * m * P,
      t0 = k * P;
    for (let e = 0; e < m; e++) {
      const o = row + e * P,
        se = e * es;
      for (let p = 0; p < P; p++) {
        const t = T[t0 + p];
        cols[o + p] = t < 0 ? 0 : src[t * ps + se];
      }
    }
  }
}

/**
 * col2im, the adjoint of im2col: dst ← 0, then dst(T[k·P + p]) of example e
 * += dcols[k][e·P + p]. With dcols = Wᵀδ this is ∂C/∂A of the layer below:
 * each input pixel collects the gradient of every patch it appeared in.
 */
export function col2im(g: ConvGeometry, T: Int32Array, dcols: Float, ps: number, es: number, m: number, dst: Float): void {
  const { K, P } = g;
  dst.fill(0);
  for (let k = 0; k < K; k++) {
    const row = k * m * P,
      t0 = k * P;
    for (let e = 0; e < m; e++) {
      const o = row + e * P,
        se = e * es;
      for (let p = 0; p < P; p++) {
        const t = T[t0 + p];
        if (t >= 0) dst[t * ps + se] += dcols[o + p];
      }
    }
  }
}

/**
 * Pooling of A (c_out × m·P) into out (n_l × m, one example per column) over
 * s × s windows with stride s. Max: out = max over the window, and
 * argmax[o] records which entry of A won (the first of equal ones, as tfjs
 * and PyTorch take); average: out = the window's mean. Without pooling (s = 1)
 * this is the reordering from channel rows to one example per column.
 */
export function pool(g: ConvGeometry, a: Float, m: number, out: Float, argmax: Int32Array): void {
  const { cOut, ow, P, s, ph, pw, Q } = g;
  const avg = g.spec.pool?.kind === 'avg',
    inv = 1 / (s * s);
  for (let c = 0; c < cOut; c++)
    for (let e = 0; e < m; e++) {
      const base = c * m * P + e * P;
      for (let qy = 0; qy < ph; qy++)
        for (let qx = 0; qx < pw; qx++) {
          const o = (c * Q + qy * pw + qx) * m + e;
          let best = base + qy * s * ow + qx * s,
            sum = 0;
          for (let dy = 0; dy < s; dy++)
            for (let dx = 0; dx < s; dx++) {
              const i = base + (qy * s + dy) * ow + qx * s + dx;
              sum += a[i];
              if (a[i] > a[best]) best = i;
            }
          argmax[o] = best;
          out[o] = avg ? sum * inv : a[best];
        }
    }
}

/**
 * The pooling's backward pass: given g = ∂C/∂out (n_l × m), dA ← ∂C/∂A
 * (c_out × m·P). Max-pooling routes each g to the entry it took (the others
 * had no effect on the output: 0); average pooling spreads g/s² over its window.
 */
export function unpool(g: ConvGeometry, grad: Float, m: number, argmax: Int32Array, dA: Float): void {
  const { cOut, ow, P, s, ph, pw, Q } = g;
  dA.fill(0);
  if (g.spec.pool?.kind !== 'avg') {
    for (let o = 0; o < argmax.length; o++) dA[argmax[o]] = grad[o];
    return;
  }
  const inv = 1 / (s * s);
  for (let c = 0; c < cOut; c++)
    for (let e = 0; e < m; e++) {
      const base = c * m * P + e * P;
      for (let qy = 0; qy < ph; qy++)
        for (let qx = 0; qx < pw; qx++) {
          const v = grad[(c * Q + qy * pw + qx) * m + e] * inv;
          for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) dA[base + (qy * s + dy) * ow + qx * s + dx] = v;
        }
    }
}

/** Each kernel of W (c_out × c_in·kh·kw) rotated by 180° in place: W(co, ci, i, j) ↔ W(co, ci, kh−1−i, kw−1−j), convolution ↔ cross-correlation. */
export function rotateKernels(g: ConvGeometry, W: Float): void {
  const { kh, kw } = g.spec,
    n = kh * kw;
  for (let r = 0; r < g.cOut * g.cIn; r++) {
    const o = r * n;
    for (let i = 0; i < n >> 1; i++) {
      const t = W[o + i];
      W[o + i] = W[o + n - 1 - i];
      W[o + n - 1 - i] = t;
    }
  }
}
