import { Matrix, type Kernels } from '../linalg/index.js';
import { backprop, Gradients, Workspace } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';
import type { Activation } from '../nn/activations.js';
import { fillBatch, identity, type Examples } from '../data/dataset.js';
import { Rng } from '../base/rng.js';

/** Per-layer statistics of one evaluation batch (Nielsen, NNDL ch. 5: the speed of learning). */
/** The speed's label: ‖∂C/∂b‖, or ‖∂C/∂β‖ on a batch-normalised layer. */
export const speedLabel = (s: Pick<LayerStats, 'batchNorm'>): string => (s.batchNorm ? '‖∂C/∂β‖' : '‖∂C/∂b‖');

export interface LayerStats {
  /** l = 1..L */
  layer: number;
  hidden: boolean;
  activation: string;
  /** ‖∂C/∂b^l‖ = ‖δ^l 1/m‖: Nielsen's "speed of learning" of the layer; ‖∂C/∂β^l‖ where batch norm's β replaces b^l. */
  speed: number;
  /** Set on a batch-normalised layer: `speed` is then ‖∂C/∂β^l‖. */
  batchNorm?: true;
  /** ‖∂C/∂W^l‖ (Frobenius). */
  gradW: number;
  /** mean |z| over units and examples. */
  meanAbsZ: number;
  /** Activations that saturate (sigmoid, tanh): fraction of (unit, example) pairs with f'(z) < 1% of f's largest slope. */
  saturated?: number;
  /** Activations whose units die (the ReLU family): fraction of units with z ≤ 0 on every example of the batch. */
  dead?: number;
  /** Output layer: mean over examples of ‖δ^L_x‖. */
  outputDelta?: number;
  /** Histogram of the activations a^l over the batch: counts over equal bins of [lo, hi]; for an unbounded f also on symlog bins (symlogBins). */
  histogram?: { lo: number; hi: number; counts: number[]; symlog?: SymlogBins };
}

/** Counts on bins of equal width in t = sign(a)·ln(1 + |a|): bin k (from `first`) holds t in [k·step, (k+1)·step); `zeros` the a that are exactly 0, apart. */
export interface SymlogBins {
  step: number;
  first: number;
  counts: number[];
  zeros: number;
}

/**
 * Bins for activations without bounds (the ReLU family), on the symlog scale
 * the reports draw them on: equal widths in t = sign(a)·ln(1 + |a|), anchored
 * at t = 0, so that two histograms of one layer (at initialisation and after
 * training) share their edges whatever their extent. The a exactly 0 — a ReLU
 * unit that is off for that example — are counted apart (`zeros`), so the
 * spike at 0 is not mixed with small positive values.
 */
export function symlogBins(a: ArrayLike<number>, step = 0.1): SymlogBins {
  const bin = (v: number) => Math.floor((Math.sign(v) * Math.log1p(Math.abs(v))) / step);
  let first = Infinity,
    last = -Infinity,
    zeros = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === 0) zeros++;
    else {
      const k = bin(a[i]);
      first = Math.min(first, k);
      last = Math.max(last, k);
    }
  }
  if (first > last) return { step, first: 0, counts: [], zeros };
  const counts = new Array<number>(last - first + 1).fill(0);
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) counts[bin(a[i]) - first]++;
  return { step, first, counts, zeros };
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
    const act = net.activations[l - 1],
      bnorm = net.norm[l]; // a batch-normalised layer has no b: its β (the second half of [γ; β]) takes b's place
    const Z = ws.z[l].data,
      A = ws.a[l].data;
    const n = ws.z[l].rows;
    let absZ = 0;
    for (const v of Z) absZ += Math.abs(v);
    const s: LayerStats = {
      layer: l,
      hidden: l < net.depth,
      activation: act.name,
      speed: norm(bnorm ? grads.gradB[bnorm.index].subarray(bnorm.features) : grads.gradB[l - 1]),
      gradW: norm(grads.gradW[l - 1].data),
      meanAbsZ: absZ / Z.length,
      ...(bnorm ? { batchNorm: true as const } : {}),
    };
    if (act.stalls === 'saturates' && act.prime) {
      let sat = 0;
      for (let i = 0; i < Z.length; i++) if (act.prime(Z[i], A[i]) < 0.01 * act.maxPrime) sat++;
      s.saturated = sat / Z.length;
    }
    if (act.stalls === 'dies') {
      // a unit is a row of Z: a dense unit over the batch, or a conv layer's feature map over every position of every example
      const cols = ws.z[l].cols;
      let dead = 0;
      for (let i = 0; i < n; i++) {
        let alive = false;
        for (let j = 0; j < cols && !alive; j++) alive = Z[i * cols + j] > 0;
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
    if (histograms) s.histogram = Number.isFinite(act.range.hi) && Number.isFinite(act.range.lo) ? histogram(A, act) : { ...histogram(A, act), symlog: symlogBins(A) };
    out.push(s);
  }
  return out;
}

/** Bins over f's range; where f is unbounded, up to the batch's extreme value (and at least to 0). */
function histogram(a: ArrayLike<number>, act: Activation, bins = 20): { lo: number; hi: number; counts: number[] } {
  let lo = Number.isFinite(act.range.lo) ? act.range.lo : 0;
  let hi = Number.isFinite(act.range.hi) ? act.range.hi : 0;
  if (!Number.isFinite(act.range.hi)) for (let i = 0; i < a.length; i++) hi = Math.max(hi, a[i]);
  if (!Number.isFinite(act.range.lo)) for (let i = 0; i < a.length; i++) lo = Math.min(lo, a[i]);
  if (hi <= lo) hi = lo + 1;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < a.length; i++) counts[Math.min(bins - 1, Math.max(0, Math.floor(((a[i] - lo) / (hi - lo)) * bins)))]++;
  return { lo, hi, counts };
}

/** A layer that has stopped learning, as measured: the CLI words the advice (src/cli/advice.ts). */
export type Stall =
  /** > 90% of the layer's (unit, example) pairs have f'(z) < 1% of its largest slope. */
  | { kind: 'saturated'; layer: number; activation: string; fraction: number }
  /** > 90% of the layer's units have z ≤ 0 on every example. */
  | { kind: 'dead'; layer: number; activation: string; fraction: number }
  /** ‖∂C/∂b^l‖ is not finite. */
  | { kind: 'diverging'; layer: number; activation: string; speed: number };

/** The layers that have stopped learning: > 90% saturated or dead units, or a gradient that is not finite. */
export function stalls(stats: LayerStats[]): Stall[] {
  const out: Stall[] = [];
  for (const s of stats) {
    if (s.saturated !== undefined && s.saturated > 0.9) out.push({ kind: 'saturated', layer: s.layer, activation: s.activation, fraction: s.saturated });
    if (s.dead !== undefined && s.dead > 0.9) out.push({ kind: 'dead', layer: s.layer, activation: s.activation, fraction: s.dead });
    if (!Number.isFinite(s.speed)) out.push({ kind: 'diverging', layer: s.layer, activation: s.activation, speed: s.speed });
  }
  return out;
}
