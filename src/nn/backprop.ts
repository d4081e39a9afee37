import { Matrix, type Float, type Kernels } from '../linalg/index.js';
import { float32Block, type ElementPasses } from '../linalg/simd.js';
import type { Network } from './network.js';
import { col2im, convBufferShapes, convBuffers, im2col, pool, unpool, type ConvBuffers } from './conv.js';
import { batchNormBackward, batchNormForward, type BatchNormBuffers, type BatchNormMode } from './batchnorm.js';

/**
 * Buffers for one batch size m, reused batch after batch so the training step
 * allocates nothing. Indices follow the equations: z[l], a[l] and delta[l]
 * belong to layer l = 1..L. The input A^0 (n_0 × m, one example per column)
 * is stored as its transpose X = (A^0)ᵀ, one example per row: a batch is
 * then m contiguous copies from the dataset instead of a transpose, and
 * layer 1 multiplies by Xᵀ through gemm's transpose flag (z[0], a[0], delta[0] stay empty).
 * A conv layer's z, a and delta are c_out × (m·P) and conv[l] holds its
 * im2col and pooling buffers; a dense layer's are n_l × m.
 */
export class Workspace {
  readonly z: Matrix[];
  readonly a: Matrix[];
  readonly delta: Matrix[];
  /** X = (A^0)ᵀ: the input batch, one example per row. */
  readonly x: Matrix;
  /** The buffers of each conv layer l (undefined for dense layers). */
  readonly conv: (ConvBuffers | undefined)[];
  /** The buffers of each batch-normalised layer l (src/nn/batchnorm.ts; undefined without): z[l] then holds Y = BN(Z), what f reads. */
  readonly bn: ((BatchNormBuffers & { preZ: Matrix }) | undefined)[];
  /**
   * Inverted dropout on the hidden dense layers (enableDropout): mask[l] holds
   * M^l / (1 − p), entries 0 or 1/(1 − p), and dropped[l] = A^l ⊙ mask[l],
   * the activations the next layer sees. Absent: no dropout. Conv layers
   * have none (mask[l] is empty there).
   */
  mask?: Matrix[];
  dropped?: Matrix[];
  /** The SIMD element-wise passes bound to these buffers' memory (float32, where wasm SIMD runs): given to the activations. */
  readonly simd?: ElementPasses;
  /**
   * s^l = δ^l 1, the row sums of δ^l in float64 (n_l, or c_out for a conv
   * layer): the bias step of sgdStep and its finiteness check (passFinite).
   */
  readonly sums: Float64Array[];

  constructor(
    net: Network,
    readonly m: number,
  ) {
    // z^0, a^0, δ^0 are never needed; a conv layer's are c_out × m·P
    const shape = (n: number, l: number): [number, number] => (l === 0 ? [0, m] : net.geometry[l] ? [net.geometry[l]!.cOut, m * net.geometry[l]!.P] : [n, m]);
    const rows = net.sizes.map(shape);
    const shapes: [number, number][] = [...rows, ...rows, ...rows];
    shapes.push([m, net.sizes[0]]);
    // then each conv layer's cols(A), its gradient, pooled output, its gradient and arg-max table (src/nn/conv.ts), in the same block
    const convShapes = net.geometry.map((g, l) => (g ? convBufferShapes(g, m, net.sizes[l], net.dtype, l > 1) : []));
    shapes.push(...convShapes.flat());
    // float32 buffers share one WebAssembly memory, where the ReLU passes run as SIMD (src/linalg/simd.ts)
    const block: { arrays: Float[]; passes?: ElementPasses; memory?: WebAssembly.Memory } =
      net.dtype === 'float32' ? float32Block(shapes.map(([r, c]) => r * c)) : { arrays: shapes.map(([r, c]) => new Float64Array(r * c)) };
    const data = block.arrays;
    this.simd = block.passes;
    const matrices = shapes.map(([r, c], i) => new Matrix(r, c, data[i]));
    const L = rows.length;
    this.z = matrices.slice(0, L);
    this.a = matrices.slice(L, 2 * L);
    this.delta = matrices.slice(2 * L, 3 * L);
    this.x = matrices[3 * L];
    this.sums = rows.map(([r]) => new Float64Array(r));
    let at = 3 * L + 1;
    this.conv = net.geometry.map((g, l) => g && convBuffers(g, m, net.sizes[l], data.slice(at, (at += convShapes[l].length)), block.memory));
    this.bn = net.norm.map((n, l) => {
      if (!n) return undefined;
      const size = this.z[l].data.length,
        vec = (k: number) => (net.dtype === 'float64' ? new Float64Array(k) : new Float32Array(k));
      const pre = vec(size);
      return { pre, preZ: new Matrix(this.z[l].rows, this.z[l].cols, pre), xhat: vec(size), invStd: vec(n.features), dGamma: vec(n.features), dBeta: vec(n.features) };
    });
  }

  /** Allocates the dropout masks of hidden dense layers (fill them before each pass, e.g. with drawDropoutMasks). */
  enableDropout(): void {
    const hidden = this.a.slice(0, -1).map((a, l) => (l === 0 || this.conv[l] ? Matrix.zeros(0, a.cols, a.dtype) : Matrix.zeros(a.rows, a.cols, a.dtype)));
    this.mask = hidden;
    this.dropped = hidden.map((a, l) => (l === 0 || this.conv[l] ? a : Matrix.zeros(a.rows, a.cols, a.dtype)));
  }

  /** The input batch X = (A^0)ᵀ, one example per row: fill it before feedforward. */
  get input(): Matrix {
    return this.x;
  }

  /** A^(l−1) as stored for layer l's products: X for layer 1 and a conv layer's pooled output (one example per row: used transposed), a[l−1] (or its dropout) above a dense one. */
  previous(l: number): Matrix {
    return l === 1 ? this.x : (this.conv[l - 1]?.out ?? this.dropped?.[l - 1] ?? this.a[l - 1]);
  }

  /** True when layer l's input is stored one example per row ((A^(l−1))ᵀ): X, or the output of a conv layer. */
  rowsAreExamples(l: number): boolean {
    return l === 1 || this.conv[l - 1] !== undefined;
  }

  /**
   * What layer l's weight gradient multiplies δ^l by, and whether transposed:
   * ∂C/∂W^l = δ^l (A^(l−1))ᵀ / m for a dense layer ((A^(l−1))ᵀ as stored,
   * no transpose, when its rows are examples), δ^l cols(A^(l−1))ᵀ / m for a conv layer.
   */
  layerInput(l: number): [Matrix, boolean] {
    const c = this.conv[l];
    if (c) return [c.cols, true];
    return [this.previous(l), !this.rowsAreExamples(l)];
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

/**
 * Z^l = W^l A^(l−1) + b^l 1ᵀ,  A^l = f_l(Z^l), for l = 1..L; returns A^L.
 * A dense layer with an element-wise f takes two steps: the gemm Z ← W A
 * (beta = 0: C is not read), then one pass z_ij ← z_ij + b_i, a_ij = f(z_ij)
 * (Activation.forwardBias: the bias add fused with the activation). Where f
 * mixes a column (softmax) and in a conv layer, the bias goes in first, as
 * gemm's C with beta = 1 (the way BLAS users write a layer).
 * With dropout masks in ws, each hidden layer passes on Ã^l = A^l ⊙ M^l/(1 − p)
 * (ws.previous gives Ã to the next layer).
 * A conv layer is the same equation on the patch matrix (Chellapilla, Puri &
 * Simard 2006): Z^l = W^l cols(A^(l−1)) + b^l 1ᵀ, A^l = f(Z^l), and then its
 * pooling hands on pool(A^l) (Nielsen, NNDL ch. 6; LeCun et al. 1998).
 * A batch-normalised layer (Ioffe & Szegedy 2015, src/nn/batchnorm.ts) has
 * no bias: Z^l = W^l A^(l−1), Y^l = BN(Z^l), A^l = f_l(Y^l); `mode` says
 * which statistics BN uses: the running ones (evaluation, the default), the
 * batch's ('batch'), or the batch's while updating the running ones ('update',
 * a training step).
 */
export function feedforward(net: Network, ws: Workspace, kernels: Kernels, mode: BatchNormMode = 'running'): Matrix {
  for (let l = 1; l <= net.depth; l++) {
    const bn = ws.bn[l],
      norm = net.norm[l];
    const z = bn ? bn.preZ : ws.z[l],
      Z = z.data,
      b = net.biases[l - 1],
      n = z.cols,
      f = net.activations[l - 1];
    const c = ws.conv[l];
    // bias in C (beta = 1), or added by f's pass (beta = 0); under BN there is none (β is the bias): Z ← W A
    const fused = !bn && !c && f.forwardBias !== undefined;
    const beta = bn || fused ? 0 : 1;
    if (beta) for (let i = 0; i < z.rows; i++) Z.fill(b[i], i * n, (i + 1) * n); // Z ← b 1ᵀ
    if (c) {
      im2col(c.g, ws.previous(l).data, ws.m, c.cols.data, c.wasm); // cols(A^(l−1)), from X or the pooled output below
      kernels.gemm(false, false, 1, net.weights[l - 1], c.cols, beta, z); // Z ← W cols(A) + beta·Z
    } else kernels.gemm(false, ws.rowsAreExamples(l), 1, net.weights[l - 1], ws.previous(l), beta, z); // Z ← W A + beta·Z  (A^0 = Xᵀ, and a conv layer's output)
    if (bn && norm) batchNormForward(mode, Z, z.rows, n, norm.params, norm.runningMean, norm.runningVar, bn, ws.z[l].data); // Y ← γ x̂ + β
    if (fused)
      f.forwardBias!(z, b, ws.a[l], ws.simd); // z ← z + b, A ← f(Z): one pass
    else f.forward(ws.z[l], ws.a[l], ws.simd); // A ← f(Z), f(Y) under BN
    if (c) {
      pool(c.g, ws.a[l].data, ws.m, c.out.data, c.argmax, c.wasm); // out ← pool(A)
      continue;
    }
    if (ws.mask && ws.dropped && l < net.depth) multiply(ws.a[l].data, ws.mask[l].data, ws.dropped[l].data); // Ã ← A ⊙ M/(1 − p)
  }
  return ws.output;
}

/**
 * δ^L = ∂C/∂Z^L, which the cost owns (Nielsen's network2.py): ∇_A C ⊙ f_L'(Z^L)
 * in general, A^L − Y for softmax + log-likelihood and sigmoid + cross-entropy,
 * always computed in a numerically stable form (src/nn/costs.ts).
 */
export function outputDelta(net: Network, ws: Workspace, y: Matrix): Matrix {
  const L = net.depth;
  net.cost.delta(net.activations[L - 1], ws.z[L], ws.a[L], y, ws.delta[L]);
  return ws.delta[L];
}

/** Σ_x C_x of the batch after feedforward: the cost of A^L = f_L(Z^L) against y (in log space where the pairing allows). */
export function totalCost(net: Network, ws: Workspace, y: Matrix): number {
  const L = net.depth;
  return net.cost.total(net.activations[L - 1], ws.z[L], ws.a[L], y);
}

/** out ← x ⊙ y (element-wise; out may alias x). */
function multiply(x: Float, y: Float, out: Float): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] * y[i];
}

/**
 * Draws the masks of inverted dropout (Srivastava, Hinton, Krizhevsky,
 * Sutskever & Salakhutdinov 2014, "Dropout: A Simple Way to Prevent Neural
 * Networks from Overfitting"; scaled at training time so that evaluation
 * uses the weights as they are): each hidden unit of each example is kept
 * with probability 1 − p, M = 1 with probability 1 − p and 0 otherwise, and
 * mask = M / (1 − p), so that E[Ã] = A.
 */
export function drawDropoutMasks(ws: Workspace, p: number, uniform: () => number): void {
  if (!ws.mask) return;
  const keep = 1 / (1 - p);
  for (let l = 1; l < ws.mask.length; l++) {
    const m = ws.mask[l].data;
    for (let i = 0; i < m.length; i++) m[i] = uniform() < p ? 0 : keep;
  }
}

/** True when every entry is finite (neither NaN nor ±∞). */
export function allFinite(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

/**
 * True when the pass's Σ_x C_x and every δ^l are finite, read from the row
 * sums s^l = δ^l 1 (ws.sums, which sgdStep needs for the bias step anyway)
 * instead of from the n_l × m entries: a sum, in any order, is NaN or ±∞ when
 * an entry of its row is; and a float64 sum of float32 entries never
 * overflows, so for float32 the n_l sums decide exactly as the entries would.
 * A non-finite sum is confirmed on the entries (a float64 sum of entries near
 * 10^308 can overflow), and so is a batch-normalised layer's δ (it has no
 * bias, so no sums): the answer is always allFinite's on every δ, at the cost
 * of n_l checks per layer when the step is fine. `sums` gives s^l, or any
 * multiple of it (backprop's ∂C/∂b^l = s^l/m serves as well).
 */
export function passFinite(net: Network, ws: Workspace, total: number, sums: (l: number) => Float = (l) => ws.sums[l]): boolean {
  if (!Number.isFinite(total)) return false;
  for (let l = 1; l <= net.depth; l++) if ((ws.bn[l] || !allFinite(sums(l))) && !allFinite(ws.delta[l].data)) return false;
  return true;
}

/** A way to compute ∂C/∂W and ∂C/∂b into grads (backprop, or a deliberately broken variant); returns Σ_x C_x. */
export type GradientMethod = (net: Network, ws: Workspace, y: Matrix, grads: Gradients, kernels: Kernels) => number;

/**
 * The forward pass, then δ^L and the δ recursion down to δ^1, for the batch
 * in ws.input with one-hot targets y. Returns the summed cost Σ_x C_x.
 * Each step is two halves: layer l + 1 hands down G = ∂C/∂A^l (Wᵀδ for a
 * dense layer, col2im(Wᵀδ) for a conv layer), and layer l turns G into δ^l
 * (⊙ f′, after routing G back through its pooling for a conv layer).
 */
export function deltas(net: Network, ws: Workspace, y: Matrix, kernels: Kernels, mode: BatchNormMode = 'update'): number {
  const L = net.depth;
  feedforward(net, ws, kernels, mode);
  const total = totalCost(net, ws, y);
  outputDelta(net, ws, y);
  for (let l = L - 1; l >= 1; l--) {
    const c = ws.conv[l],
      above = ws.conv[l + 1];
    const G = c ? c.dOut : ws.delta[l]; // ∂C/∂(what layer l hands on)
    if (above) {
      // G = col2im((W^(l+1))ᵀ δ^(l+1)): each pixel collects the gradient of every patch it was in
      const dCols = (above.dCols ??= Matrix.zeros(above.g.K, ws.m * above.g.P, net.dtype));
      kernels.gemm(true, false, 1, net.weights[l], ws.delta[l + 1], 0, dCols);
      col2im(above.g, dCols.data, ws.m, G.data, above.wasm);
    } else if (c)
      kernels.gemm(true, false, 1, ws.delta[l + 1], net.weights[l], 0, G); // Gᵀ = (δ^(l+1))ᵀ W^(l+1): one example per row, as the output it belongs to
    else kernels.gemm(true, false, 1, net.weights[l], ws.delta[l + 1], 0, G); // G = (W^(l+1))ᵀ δ^(l+1)
    if (c) {
      // δ^l = unpool(G) ⊙ f_l'(Z^l): max-pooling routes G to the arg-max, average pooling spreads it
      unpool(c.g, G.data, ws.m, c.argmax, ws.delta[l].data, c.wasm);
    } else if (ws.mask) multiply(ws.delta[l].data, ws.mask[l].data, ws.delta[l].data); // ⊙ M^l/(1 − p) under dropout
    // δ^l = G ⊙ f_l'(Z^l)
    net.activations[l - 1].backward(ws.z[l], ws.a[l], ws.delta[l], ws.delta[l], ws.simd);
    // under BN that was ∂C/∂Y^l; δ^l = ∂C/∂Z^l = γ/√(σ² + ε) (G − mean(G) − x̂ mean(G x̂)), keeping Σ G x̂ and Σ G for γ and β
    const bn = ws.bn[l],
      norm = net.norm[l];
    if (bn && norm) batchNormBackward(ws.delta[l].data, ws.delta[l].rows, ws.delta[l].cols, norm.params, bn);
  }
  return total;
}

/**
 * One forward and backward pass over the batch in ws.input with one-hot
 * targets y. Fills grads with the gradients of the mean cost C = (1/m) Σ_x C_x
 * and returns the summed cost Σ_x C_x.
 */
export function backprop(net: Network, ws: Workspace, y: Matrix, grads: Gradients, kernels: Kernels): number {
  const m = ws.m;
  const total = deltas(net, ws, y, kernels);
  for (let l = 1; l <= net.depth; l++) {
    // ∂C/∂W^l = δ^l (A^(l−1))ᵀ / m,   ∂C/∂b^l = δ^l 1 / m;  conv: ∂C/∂W^l = δ^l cols(A^(l−1))ᵀ / m, and δ^l 1 sums over positions too
    const [input, trans] = ws.layerInput(l); // (A^0)ᵀ = X
    kernels.gemm(false, trans, 1 / m, ws.delta[l], input, 0, grads.gradW[l - 1]);
    const bn = ws.bn[l],
      norm = net.norm[l];
    if (!bn || !norm) {
      kernels.rowSums(ws.delta[l], 1 / m, 0, grads.gradB[l - 1]);
      continue;
    }
    // under BN b^l is not used: ∂C/∂b^l = 0;  ∂C/∂γ = Σ G x̂ / m,  ∂C/∂β = Σ G / m  (the entry [γ; β] of the parameters)
    grads.gradB[l - 1].fill(0);
    const g = grads.gradB[norm.index];
    for (let i = 0; i < norm.features; i++) {
      g[i] = bn.dGamma[i] / m;
      g[norm.features + i] = bn.dBeta[i] / m;
    }
  }
  return total;
}

/**
 * One step of SGD with the update folded into the gradient products, as BLAS
 * users write it: W^l ← (1 − ηλ) W^l − (η/m) δ^l (A^(l−1))ᵀ is one gemm with
 * beta = 1 − ηλ, and b^l ← b^l − (η/m) s^l with s^l = δ^l 1, the row sums
 * (in float64, taken before any update: they are also the finiteness check,
 * passFinite). Every δ is computed before any W changes. The same update as
 * backprop() followed by W ← W − η(∂C/∂W + λW), without materialising
 * ∂C/∂W. Returns Σ_x C_x; when the cost or any δ is not finite it returns
 * NaN and changes nothing, so the weights stay the last good ones and ws
 * still holds the pass that failed (for diagnoseStep).
 */
export function sgdStep(net: Network, ws: Workspace, y: Matrix, lr: number, weightDecay: number, kernels: Kernels): number {
  const step = -lr / ws.m;
  const total = deltas(net, ws, y, kernels);
  for (let l = 1; l <= net.depth; l++) if (!ws.bn[l]) kernels.rowSums(ws.delta[l], 1, 0, ws.sums[l]); // s^l = δ^l 1
  if (!passFinite(net, ws, total)) return NaN;
  for (let l = 1; l <= net.depth; l++) {
    const [input, trans] = ws.layerInput(l);
    kernels.gemm(false, trans, step, ws.delta[l], input, 1 - lr * weightDecay, net.weights[l - 1]);
    const bn = ws.bn[l],
      norm = net.norm[l];
    if (!bn || !norm) {
      // b^l ← b^l − (η/m) s^l, rounded once to b's dtype
      const b = net.biases[l - 1],
        s = ws.sums[l];
      for (let i = 0; i < b.length; i++) b[i] = step * s[i] + b[i];
      continue;
    }
    // γ ← γ − (η/m) Σ G x̂,  β ← β − (η/m) Σ G  (no decay, as for b; b^l is not used)
    for (let i = 0; i < norm.features; i++) {
      norm.params[i] += step * bn.dGamma[i];
      norm.params[norm.features + i] += step * bn.dBeta[i];
    }
  }
  return total;
}
