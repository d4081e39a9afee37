import { Matrix, type Kernels } from '../linalg/index.js';
import { backprop, Gradients, Workspace } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';
import { fillBatch, identity, type Examples } from '../data/dataset.js';
import { Rng } from '../nn/rng.js';

/** Per-layer statistics of one evaluation batch (Nielsen, NNDL ch. 5: the speed of learning). */
export interface LayerStats {
  /** l = 1..L */
  layer: number;
  hidden: boolean;
  activation: string;
  /** ‖∂C/∂b^l‖ = ‖δ^l 1/m‖: Nielsen's "speed of learning" of the layer. */
  speed: number;
  /** ‖∂C/∂W^l‖ (Frobenius). */
  gradW: number;
  /** mean |z| over units and examples. */
  meanAbsZ: number;
  /** Sigmoid/tanh: fraction of (unit, example) pairs with f'(z) < 1% of f's largest slope. */
  saturated?: number;
  /** ReLU/leaky ReLU: fraction of units with z ≤ 0 on every example of the batch. */
  dead?: number;
  /** Output layer: mean over examples of ‖δ^L_x‖. */
  outputDelta?: number;
  /** Histogram of the activations a^l over the batch: counts over equal bins of [lo, hi]. */
  histogram?: { lo: number; hi: number; counts: number[] };
}

const norm = (x: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
};

/** The fixed evaluation batch of a run: `size` training examples drawn with the run's seed. */
export function evaluationBatch(net: Network, ex: Examples, seed: number, size: number): { ws: Workspace; y: Matrix } {
  const order = new Rng(seed + 2).shuffle(identity(ex.count)); // +2: apart from the init (seed) and shuffle (seed + 1) streams
  const m = Math.min(size, ex.count);
  const ws = new Workspace(net, m);
  const y = Matrix.zeros(net.sizes[net.depth], m, net.dtype);
  fillBatch(ex, order, 0, ws.input, y);
  return { ws, y };
}

/**
 * Runs backprop on the evaluation batch (the network is not changed) and
 * measures every layer. With `histograms`, also bins each layer's activations.
 */
export function layerStats(net: Network, batch: { ws: Workspace; y: Matrix }, kernels: Kernels, histograms = false): LayerStats[] {
  const { ws, y } = batch;
  const grads = new Gradients(net);
  backprop(net, ws, y, grads, kernels);
  const m = ws.m;
  const out: LayerStats[] = [];
  for (let l = 1; l <= net.depth; l++) {
    const act = net.activations[l - 1];
    const Z = ws.z[l].data, A = ws.a[l].data;
    const n = ws.z[l].rows;
    let absZ = 0;
    for (const v of Z) absZ += Math.abs(v);
    const s: LayerStats = {
      layer: l,
      hidden: l < net.depth,
      activation: act.name,
      speed: norm(grads.gradB[l - 1]),
      gradW: norm(grads.gradW[l - 1].data),
      meanAbsZ: absZ / Z.length,
    };
    if ((act.name === 'sigmoid' || act.name === 'tanh') && act.prime) {
      let sat = 0;
      for (let i = 0; i < Z.length; i++) if (act.prime(Z[i], A[i]) < 0.01 * act.maxPrime) sat++;
      s.saturated = sat / Z.length;
    }
    if (act.name === 'relu' || act.name === 'leaky-relu') {
      let dead = 0;
      for (let i = 0; i < n; i++) {
        let alive = false;
        for (let j = 0; j < m && !alive; j++) alive = Z[i * m + j] > 0;
        if (!alive) dead++;
      }
      s.dead = dead / n;
    }
    if (l === net.depth) {
      const D = ws.delta[l].data;
      let total = 0;
      for (let j = 0; j < m; j++) {
        let e = 0;
        for (let i = 0; i < n; i++) e += D[i * m + j] * D[i * m + j];
        total += Math.sqrt(e);
      }
      s.outputDelta = total / m;
    }
    if (histograms) s.histogram = histogram(A, act.name);
    out.push(s);
  }
  return out;
}

function histogram(a: ArrayLike<number>, activation: string, bins = 20): { lo: number; hi: number; counts: number[] } {
  let lo = activation === 'tanh' ? -1 : 0;
  let hi = activation === 'sigmoid' || activation === 'tanh' || activation === 'softmax' ? 1 : 0;
  if (hi === 0) for (let i = 0; i < a.length; i++) hi = Math.max(hi, a[i]);
  if (activation === 'leaky-relu' || activation === 'linear') for (let i = 0; i < a.length; i++) lo = Math.min(lo, a[i]);
  if (hi <= lo) hi = lo + 1;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < a.length; i++) counts[Math.min(bins - 1, Math.max(0, Math.floor(((a[i] - lo) / (hi - lo)) * bins)))]++;
  return { lo, hi, counts };
}

/** Warnings for layers that have stopped learning: > 90% saturated or dead units, or a vanishing speed. */
export function stalledLayers(stats: LayerStats[]): string[] {
  const w: string[] = [];
  for (const s of stats) {
    if (s.saturated !== undefined && s.saturated > 0.9) {
      w.push(`layer ${s.layer} (${s.activation}): ${(100 * s.saturated).toFixed(0)}% of its units are saturated (f'(z) < 1% of max), so its δ ≈ 0 and it has stopped learning; try --init xavier, a smaller --lr, or --activation relu`);
    }
    if (s.dead !== undefined && s.dead > 0.9) {
      w.push(`layer ${s.layer} (${s.activation}): ${(100 * s.dead).toFixed(0)}% of its units are dead (z ≤ 0 on every example), so they get no gradient; try a smaller --lr, --init he, or --activation leaky-relu`);
    }
    if (!Number.isFinite(s.speed)) w.push(`layer ${s.layer}: the gradient is ${s.speed}; the run is diverging`);
  }
  return w;
}
