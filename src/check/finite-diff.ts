import { Matrix, jsKernels, type Float } from '../linalg/index.js';
import { forward, topologicalOrder, type Node as GraphNode } from '../autodiff/node.js';
import { feedforward, totalCost, Workspace } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';

/** The mean cost C = (1/m) Σ_x C_x of the batch in ws.input with targets y (batch normalisation on the batch's statistics, as in training, leaving the running ones alone). */
export function meanCost(net: Network, ws: Workspace, y: Matrix): number {
  feedforward(net, ws, jsKernels, 'batch');
  return totalCost(net, ws, y) / ws.m;
}

/**
 * Centered finite difference of the mean cost with respect to one parameter:
 * (C(θ + ε) − C(θ − ε)) / 2ε. The parameter is restored exactly afterwards.
 */
export function centeredDifference(net: Network, ws: Workspace, y: Matrix, param: Float, index: number, eps: number): number {
  const saved = param[index];
  param[index] = saved + eps;
  const plus = meanCost(net, ws, y);
  param[index] = saved - eps;
  const minus = meanCost(net, ws, y);
  param[index] = saved;
  return (plus - minus) / (2 * eps);
}

/**
 * Finite-difference gradient of every parameter listed in `coords` (all of
 * them when omitted), for each W^l and b^l (and each [γ; β] of a batch
 * normalisation, after them). Run it on a float64 network.
 */
export function numericalGradients(net: Network, x: Matrix, y: Matrix, eps: number, coords?: { W: number[][]; b: number[][] }): { gradW: Float64Array[]; gradB: Float64Array[] } {
  const ws = new Workspace(net, x.rows);
  ws.input.data.set(x.data);
  const one = (param: Float, idx: number[] | undefined) => {
    const out = new Float64Array(idx ? idx.length : param.length);
    for (let i = 0; i < out.length; i++) out[i] = centeredDifference(net, ws, y, param, idx ? idx[i] : i, eps);
    return out;
  };
  return {
    gradW: net.weights.map((W, l) => one(W.data, coords?.W[l])),
    gradB: net.biases.map((b, l) => one(b, coords?.b[l])),
  };
}

/**
 * Centered finite difference of a scalar graph with respect to one scalar
 * variable node, re-running the graph's forward pass; the value is restored.
 */
export function graphDifference(root: GraphNode, variable: GraphNode, h: number, order = topologicalOrder(root)): number {
  const saved = variable.value.data[0];
  variable.value.data[0] = saved + h;
  const plus = forward(root, order).scalar;
  variable.value.data[0] = saved - h;
  const minus = forward(root, order).scalar;
  variable.value.data[0] = saved;
  forward(root, order);
  return (plus - minus) / (2 * h);
}
