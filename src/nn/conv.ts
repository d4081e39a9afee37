import { Matrix, type Float } from '../linalg/index.js';
import { wasmModule } from '../linalg/simd.js';
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
 *
 * Each function below is a js loop, and, for float32 buffers that live in
 * one Workspace's WebAssembly memory, the same loop as WebAssembly SIMD
 * (assets/conv.wasm, from scripts/conv-kernels.mjs): the same values in the
 * same order, so the same bits, 11–18× faster than the js loops on this
 * machine (bench/conv-passes.mjs, docs/guide/performance.md).
 */

/**
 * The buffers of a conv layer l in a Workspace (src/nn/backprop.ts): its
 * z[l], a[l] and delta[l] are c_out × (m·P), one row per channel; `out` is
 * what it hands on after pooling, m × n_l with one example per row (as the
 * input batch X), and `dOut` is ∂C/∂out.
 */
export interface ConvBuffers {
  readonly g: ConvGeometry;
  /** cols(A^(l−1)): K × (m·P). */
  readonly cols: Matrix;
  /** (W^l)ᵀ δ^l, the gradient of cols(A^(l−1)): K × (m·P), in the Workspace's float32 block; for float64, allocated by the first backward pass (a forward-only workspace, as evaluate's, never needs it). None for layer 1. */
  dCols?: Matrix;
  /** The pooled output, m × n_l, and its gradient. */
  readonly out: Matrix;
  readonly dOut: Matrix;
  /** Which entry of a[l] each pooled output took (max-pooling). */
  readonly argmax: Int32Array;
  /** The SIMD passes, when every buffer of the layer (and its Workspace's z, a, δ, X) lives in their memory. */
  readonly wasm?: ConvPasses;
}

/**
 * The sizes of a conv layer's buffers, as rows × columns, in the order
 * convBuffers takes them: cols(A), its gradient, out, dOut and the arg-max
 * table (m × n_l int32). The first layer hands no gradient down (the input
 * has none), so `handsDown` false leaves out the gradient of its cols; for
 * float64 that gradient is allocated when first needed and the arg-max table
 * is an array of its own. What is left out is 0 × 0 here. The Workspace puts
 * float32 buffers in its block with z, a and δ, so that the SIMD passes
 * reach them all.
 */
export function convBufferShapes(g: ConvGeometry, m: number, n: number, dtype: 'float32' | 'float64', handsDown: boolean): [number, number][] {
  const f32 = dtype === 'float32';
  return [[g.K, m * g.P], f32 && handsDown ? [g.K, m * g.P] : [0, 0], [m, n], [m, n], f32 ? [m, n] : [0, 0]];
}

/** A conv layer's buffers from arrays laid out as convBufferShapes says, with the SIMD passes of their memory (if any). */
export function convBuffers(g: ConvGeometry, m: number, n: number, arrays: Float[], memory?: WebAssembly.Memory): ConvBuffers {
  const [cols, dCols, out, dOut, argmax] = arrays;
  const mat = (rows: number, x: Float) => new Matrix(rows, x.length / rows, x);
  const table = argmax instanceof Float32Array && argmax.length ? new Int32Array(argmax.buffer, argmax.byteOffset, argmax.length) : new Int32Array(m * n);
  return {
    g,
    cols: mat(g.K, cols),
    dCols: dCols.length ? mat(g.K, dCols) : undefined,
    out: mat(m, out),
    dOut: mat(m, dOut),
    argmax: table,
    wasm: memory && convPasses(memory),
  };
}

interface ConvWasm {
  im2col(src: number, cols: number, m: number, cIn: number, h: number, w: number, kh: number, kw: number, pad: number, oh: number, ow: number): void;
  col2im(dcols: number, dst: number, m: number, cIn: number, h: number, w: number, kh: number, kw: number, pad: number, oh: number, ow: number): void;
  maxpool2(a: number, out: number, argmax: number, cOut: number, m: number, P: number, ow: number, ph: number, pw: number, Q: number): void;
  unpool_max(grad: number, argmax: number, dA: number, count: number, length: number): void;
}

/** assets/conv.wasm bound to one memory: its passes take arrays in that memory only (by their byte offsets). */
export interface ConvPasses {
  /** True when every array lives in this memory, so that the passes may take them. */
  holds(...arrays: (Float | Int32Array)[]): boolean;
  readonly k: ConvWasm;
}

/** The SIMD passes on a memory (a Workspace's float32 block), or undefined where assets/conv.wasm does not compile. */
export function convPasses(memory: WebAssembly.Memory): ConvPasses | undefined {
  const mod = wasmModule('conv.wasm');
  if (!('module' in mod)) return undefined;
  const k = new WebAssembly.Instance(mod.module, { env: { memory } }).exports as unknown as ConvWasm;
  const buffer = memory.buffer;
  return { holds: (...arrays) => arrays.every((x) => !(x instanceof Float64Array) && x.buffer === buffer), k };
}

/** cols(A) ← the patches of the images in src (m × n, one per row): K × (m·P). */
export function im2col(g: ConvGeometry, src: Float, m: number, cols: Float, wasm?: ConvPasses): void {
  const { kh, kw, padding: pad } = g.spec;
  const { h, w, oh, ow, P } = g,
    hw = h * w,
    n = g.cIn * hw;
  if (wasm?.holds(src, cols)) return wasm.k.im2col(src.byteOffset, cols.byteOffset, m, g.cIn, h, w, kh, kw, pad, oh, ow); // the same loops as SIMD
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
export function col2im(g: ConvGeometry, dcols: Float, m: number, dst: Float, wasm?: ConvPasses): void {
  const { kh, kw, padding: pad } = g.spec;
  const { h, w, oh, ow, P } = g,
    hw = h * w,
    n = g.cIn * hw;
  if (wasm?.holds(dcols, dst)) return wasm.k.col2im(dcols.byteOffset, dst.byteOffset, m, g.cIn, h, w, kh, kw, pad, oh, ow); // the same loops (and sums) as SIMD
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
export function pool(g: ConvGeometry, a: Float, m: number, out: Float, argmax: Int32Array, wasm?: ConvPasses): void {
  const { cOut, ow, P, s, ph, pw, Q } = g;
  const avg = g.spec.pool?.kind === 'avg',
    inv = 1 / (s * s);
  if (!avg && s === 2) {
    if (wasm?.holds(a, out, argmax)) return wasm.k.maxpool2(a.byteOffset, out.byteOffset, argmax.byteOffset, cOut, m, P, ow, ph, pw, Q); // four windows at a time, the same comparisons
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
export function unpool(g: ConvGeometry, grad: Float, m: number, argmax: Int32Array, dA: Float, wasm?: ConvPasses): void {
  const { cOut, ow, P, s, ph, pw, Q } = g;
  if (g.spec.pool?.kind !== 'avg' && wasm?.holds(grad, argmax, dA)) return wasm.k.unpool_max(grad.byteOffset, argmax.byteOffset, dA.byteOffset, argmax.length, dA.length);
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
