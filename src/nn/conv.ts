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
 * - a conv layer's input is stored as the input batch X is, one example per
 *   row: pixel (ci, y, x) of example e at e·n + ci·h·w + y·w + x, n = c_in·h·w
 *   (X itself for layer 1, the pooled output of the conv layer below above it);
 * - cols(A): K × (m·P), row k = (ci·kh + i)·kw + j, column e·P + p with
 *   p = oy·ow + ox: cols[k][e·P + p] = A(ci, oy + i − pad, ox + j − pad) of
 *   example e (0 outside the image);
 * - Z^l = W^l cols(A) + b 1ᵀ and A^l = f(Z^l): c_out × (m·P), row = channel;
 * - the pooled output the next layer reads: m × n_l, one example per row as
 *   X, n_l = c_out·ph·pw in (channel, row, column) order, PyTorch's flatten
 *   order; a dense layer above multiplies by its transpose, as layer 1 by X.
 */

/** cols(A) ← the patches of the images in src (m × n, one per row): K × (m·P). */
export function im2col(g: ConvGeometry, src: Float, m: number, cols: Float): void {
  const { kh, kw, padding: pad } = g.spec;
  const { h, w, oh, ow, P } = g,
    hw = h * w,
    n = g.cIn * hw;
  if (pad === 0) {
    // valid convolution: every patch lies inside its image, cols[row + e·P + oy·ow + ox] = src[e·n + ci·h·w + (oy + i)·w + j + ox]
    for (let ci = 0; ci < g.cIn; ci++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          const row = ((ci * kh + i) * kw + j) * m * P;
          for (let e = 0; e < m; e++) {
            let o = row + e * P,
              s = e * n + ci * hw + i * w + j;
            for (let oy = 0; oy < oh; oy++, o += ow, s += w) for (let ox = 0; ox < ow; ox++) cols[o + ox] = src[s + ox];
          }
        }
    return;
  }
  for (let ci = 0; ci < g.cIn; ci++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const row = ((ci * kh + i) * kw + j) * m * P;
        // columns ox in [lo, hi) read inside the image, the others read 0
        const lo = Math.max(0, pad - j),
          hi = Math.min(ow, w + pad - j);
        for (let e = 0; e < m; e++)
          for (let oy = 0; oy < oh; oy++) {
            const y = oy + i - pad,
              o = row + e * P + oy * ow;
            if (y < 0 || y >= h) {
              cols.fill(0, o, o + ow);
              continue;
            }
            const s = e * n + ci * hw + y * w + j - pad; // pixel (ci, y, ox + j − pad) is s + ox
            for (let ox = 0; ox < lo; ox++) cols[o + ox] = 0;
            for (let ox = lo; ox < hi; ox++) cols[o + ox] = src[s + ox];
            for (let ox = Math.max(lo, hi); ox < ow; ox++) cols[o + ox] = 0;
          }
      }
}

/**
 * col2im, the adjoint of im2col: dst ← 0, then each entry of dcols is added
 * to the pixel its column read. With dcols = Wᵀδ this is ∂C/∂A of the layer
 * below: each input pixel collects the gradient of every patch it was in.
 */
export function col2im(g: ConvGeometry, dcols: Float, m: number, dst: Float): void {
  const { kh, kw, padding: pad } = g.spec;
  const { h, w, oh, ow, P } = g,
    hw = h * w,
    n = g.cIn * hw;
  dst.fill(0);
  if (pad === 0) {
    // valid convolution: dst[e·n + ci·h·w + (oy + i)·w + j + ox] += dcols[row + e·P + oy·ow + ox], every patch inside its image
    for (let ci = 0; ci < g.cIn; ci++)
      for (let i = 0; i < kh; i++)
        for (let j = 0; j < kw; j++) {
          const row = ((ci * kh + i) * kw + j) * m * P;
          for (let e = 0; e < m; e++) {
            let o = row + e * P,
              s = e * n + ci * hw + i * w + j;
            for (let oy = 0; oy < oh; oy++, o += ow, s += w) for (let ox = 0; ox < ow; ox++) dst[s + ox] += dcols[o + ox];
          }
        }
    return;
  }
  for (let ci = 0; ci < g.cIn; ci++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++) {
        const row = ((ci * kh + i) * kw + j) * m * P;
        const lo = Math.max(0, pad - j),
          hi = Math.min(ow, w + pad - j);
        for (let e = 0; e < m; e++)
          for (let oy = 0; oy < oh; oy++) {
            const y = oy + i - pad;
            if (y < 0 || y >= h) continue;
            const o = row + e * P + oy * ow,
              s = e * n + ci * hw + y * w + j - pad;
            for (let ox = lo; ox < hi; ox++) dst[s + ox] += dcols[o + ox];
          }
      }
}

/**
 * Pooling of A (c_out × m·P) into out (m × n_l, one example per row) over
 * s × s windows with stride s. Max: out = max over the window, and
 * argmax[o] records which entry of A won (the first of equal ones, as tfjs
 * and PyTorch take); average: out = the window's mean. Without pooling (s = 1)
 * this is the reordering from channel rows to one example per row.
 */
export function pool(g: ConvGeometry, a: Float, m: number, out: Float, argmax: Int32Array): void {
  const { cOut, ow, P, s, ph, pw, Q } = g;
  const avg = g.spec.pool?.kind === 'avg',
    inv = 1 / (s * s);
  if (!avg && s === 2) {
    // 2×2 max-pooling, the window written out: the same comparisons in the same order as the general loop below
    for (let c = 0; c < cOut; c++)
      for (let e = 0; e < m; e++) {
        const base = c * m * P + e * P;
        for (let qy = 0; qy < ph; qy++) {
          const r = base + 2 * qy * ow,
            o = e * cOut * Q + c * Q + qy * pw;
          for (let qx = 0; qx < pw; qx++) {
            const i = r + 2 * qx;
            let best = i,
              v = a[i];
            if (a[i + 1] > v) v = a[(best = i + 1)];
            if (a[i + ow] > v) v = a[(best = i + ow)];
            if (a[i + ow + 1] > v) v = a[(best = i + ow + 1)];
            argmax[o + qx] = best;
            out[o + qx] = v;
          }
        }
      }
    return;
  }
  for (let c = 0; c < cOut; c++)
    for (let e = 0; e < m; e++) {
      const base = c * m * P + e * P;
      for (let qy = 0; qy < ph; qy++)
        for (let qx = 0; qx < pw; qx++) {
          const o = e * cOut * Q + c * Q + qy * pw + qx;
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
 * The pooling's backward pass: given g = ∂C/∂out (m × n_l), dA ← ∂C/∂A
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
          const v = grad[e * cOut * Q + c * Q + qy * pw + qx] * inv;
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
