import { jsKernels, Matrix, type Float } from '../linalg/index.js';
import { backprop, feedforward, Gradients, totalCost, Workspace, type GradientMethod } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';
import { Rng } from '../base/rng.js';
import { compare, type Difference } from './compare.js';
import { numericalGradients } from './finite-diff.js';
import { tfGradients } from './tfjs-oracle.js';
import { graphGradients } from './graph-oracle.js';

/** Documented tolerances (README): allclose |x − y| ≤ atol + rtol·|y|, as torch.autograd.gradcheck. */
export const TOLERANCES = {
  finiteDifferences: { rtol: 1e-6, atol: 1e-9 },
  /** tfjs runs in float32: the tensor-level relative error ‖x − y‖/‖y‖ must be ≤ this. */
  tfjs: { tensorRel: 1e-4 },
  /** The graph engine computes the same float64 quantities in another order: allclose at rtol 1e-10. */
  graph: { rtol: 1e-10, atol: 1e-14 },
} as const;

export interface GradcheckOptions {
  /** Step of the centered differences. */
  eps: number;
  /** Tensors with at most this many entries are checked at every entry, larger ones at this many random entries. */
  coords: number;
  rtol: number;
  atol: number;
  tfTensorRel: number;
  seed: number;
  /** Ask TensorFlow.js too (the oracle). */
  tfjs: boolean;
  /** The gradient being checked: backprop unless a bug is injected. */
  method?: GradientMethod;
}

export const GRADCHECK_DEFAULTS = { eps: 1e-5, coords: 200 };

export interface MethodResult extends Difference {
  pass: boolean;
  /** Entries compared. */
  checked: number;
}

export interface TensorReport {
  name: string;
  shape: number[];
  size: number;
  finiteDifferences: MethodResult;
  tfjs?: MethodResult;
  /** The computation-graph engine (src/autodiff), float64; absent for conv nets, which it does not build. */
  graph?: MethodResult;
}

export interface GradcheckReport {
  parameters: number;
  batch: number;
  loss: number;
  tfjsBackend?: string;
  tensors: TensorReport[];
  pass: boolean;
}

/** The indices to check in a tensor of `size` entries: all, or `coords` distinct random ones in order. */
export function chooseCoords(size: number, coords: number, rng: Rng): number[] {
  if (size <= coords) return Array.from({ length: size }, (_, i) => i);
  const picked = new Set<number>();
  while (picked.size < coords) picked.add(rng.int(size));
  return [...picked].sort((a, b) => a - b);
}

/**
 * Checks ∂C/∂W^l and ∂C/∂b^l of the batch (x: inputs as rows, y: one-hot
 * targets) computed by `method` (backprop) in float64 against centered finite
 * differences in float64, against our computation-graph engine in float64
 * and against TensorFlow.js autodiff in float32.
 */
export async function gradcheck(network: Network, x: Matrix, y: Matrix, opts: GradcheckOptions): Promise<GradcheckReport> {
  const net = network.clone('float64');
  const x64 = x.as('float64');
  const y64 = y.as('float64');
  const ws = new Workspace(net, x.rows);
  ws.input.data.set(x64.data);
  const grads = new Gradients(net);
  const total = (opts.method ?? backprop)(net, ws, y64, grads, jsKernels);

  const tf = opts.tfjs ? await tfGradients(net, x64, y64) : undefined;
  const graph = net.arch.layers || net.arch.batchNorm ? undefined : graphGradients(net, x64, y64);
  // The coordinates to difference, drawn W1, b1, W2, ... from one seeded stream.
  const rng = new Rng(opts.seed);
  const coords = { W: [] as number[][], b: [] as number[][] };
  for (let l = 0; l < net.weights.length; l++) {
    coords.W.push(chooseCoords(net.weights[l].data.length, opts.coords, rng));
    coords.b.push(chooseCoords(net.biases[l].length, opts.coords, rng));
  }
  const fd = numericalGradients(net, x64, y64, opts.eps, coords);

  const tensors: TensorReport[] = [];
  const check = (name: string, shape: number[], size: number, idx: number[], fdGrad: Float64Array, ours: Float, graphGrad?: Float, tfGrad?: Float32Array) => {
    const sub = Float64Array.from(idx, (i) => ours[i]);
    const d = compare(sub, fdGrad, opts.rtol, opts.atol);
    const report: TensorReport = {
      name,
      shape,
      size,
      finiteDifferences: { ...d, checked: idx.length, pass: d.violations === 0 },
    };
    if (graphGrad) {
      const { rtol, atol } = TOLERANCES.graph;
      const gd = compare(graphGrad, ours, rtol, atol);
      report.graph = { ...gd, checked: ours.length, pass: gd.violations === 0 };
    }
    if (tfGrad) {
      // tfjs (float32) against our float64 gradient as the reference.
      const t = compare(tfGrad, ours, 0, 0);
      report.tfjs = { ...t, checked: ours.length, pass: t.tensorRel <= opts.tfTensorRel };
    }
    tensors.push(report);
  };
  const shapes = net.summary();
  for (let l = 0; l < net.depth; l++) {
    const W = net.weights[l];
    check(`W${l + 1}`, shapes[l].weightShape, W.data.length, coords.W[l], fd.gradW[l], grads.gradW[l].data, graph?.gradW[l], tf?.gradW[l]); // conv: [out, in, kh, kw]
    check(`b${l + 1}`, [W.rows], W.rows, coords.b[l], fd.gradB[l], grads.gradB[l], graph?.gradB[l], tf?.gradB[l]);
  }
  // each batch normalisation's [γ; β] (PyTorch's bn.weight, bn.bias), checked as γ and β
  for (const n of net.norm) {
    if (!n) continue;
    const F = n.features,
      idx = coords.b[n.index],
      fdAll = fd.gradB[n.index],
      ours = grads.gradB[n.index],
      theirs = tf?.gradB[n.index];
    const half = (lo: number) => {
      const picked = idx.flatMap((i, k) => (i >= lo && i < lo + F ? [k] : []));
      return { idx: picked.map((k) => idx[k] - lo), fd: Float64Array.from(picked, (k) => fdAll[k]) };
    };
    const g = half(0),
      b = half(F);
    check(`bn${n.layer}.gamma`, [F], F, g.idx, g.fd, ours.subarray(0, F), undefined, theirs?.subarray(0, F));
    check(`bn${n.layer}.beta`, [F], F, b.idx, b.fd, ours.subarray(F), undefined, theirs?.subarray(F));
  }
  const pass = tensors.every((t) => t.finiteDifferences.pass && (t.graph?.pass ?? true) && (t.tfjs?.pass ?? true));
  return { parameters: net.parameterCount, batch: x.rows, loss: total / x.rows, tensors, pass };
}

export interface Timing {
  /** Median seconds of one forward + backward pass over the batch. */
  backprop: number;
  /** Median seconds of one forward pass (what a finite difference costs, twice). */
  forward: number;
  parameters: number;
  /** 2P forward passes: the finite-difference gradient of every parameter. */
  finiteDifferencesAll: number;
  /** finiteDifferencesAll / backprop */
  speedup: number;
}

/** Times backprop against finite differences for all P parameters (2P forward passes), in float64 on js kernels. */
export function timeBackpropVsFiniteDifferences(network: Network, x: Matrix, y: Matrix): Timing {
  const net = network.clone('float64');
  const ws = new Workspace(net, x.rows);
  ws.input.data.set(x.as('float64').data);
  const y64 = y.as('float64');
  const grads = new Gradients(net);
  const bp = medianSeconds(() => backprop(net, ws, y64, grads, jsKernels));
  const fwd = medianSeconds(() => (feedforward(net, ws, jsKernels), totalCost(net, ws, y64)));
  const P = net.parameterCount;
  return { backprop: bp, forward: fwd, parameters: P, finiteDifferencesAll: 2 * P * fwd, speedup: (2 * P * fwd) / bp };
}

/** Median of repeated timings: at least 5 runs and about 0.2 s. */
function medianSeconds(f: () => void): number {
  f(); // warm up
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < 200 && times.length < 1000)) {
    const t = performance.now();
    f();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}
