import { backprop, type GradientMethod } from '../nn/backprop.js';
import { rotateKernels } from '../nn/conv.js';

/**
 * Classic backprop mistakes, to show what a gradient check catches
 * (`backprop gradcheck --bug NAME`). Each wraps the real backprop.
 */
export const BUGS = {
  /** BP2 without the f'(z^l) factor: δ^l = (W^(l+1))ᵀ δ^(l+1). */
  'drop-fprime': ((net, ws, y, grads, k) => {
    const broken = net.withActivations((a, l) => (l < net.depth - 1 ? { ...a, backward: (_z, _a, g, delta) => delta.data.set(g.data) } : a));
    return backprop(broken, ws, y, grads, k);
  }) as GradientMethod,
  /** BP3/BP4 summed over the batch instead of averaged: the 1/m is forgotten. */
  'no-mean': ((net, ws, y, grads, k) => {
    const total = backprop(net, ws, y, grads, k);
    for (const g of [...grads.gradW.map((w) => w.data), ...grads.gradB]) for (let i = 0; i < g.length; i++) g[i] *= ws.m;
    return total;
  }) as GradientMethod,
  /** The gradient of −C: a sign error, so SGD climbs instead of descending. */
  sign: ((net, ws, y, grads, k) => {
    const total = backprop(net, ws, y, grads, k);
    for (const g of [...grads.gradW.map((w) => w.data), ...grads.gradB]) for (let i = 0; i < g.length; i++) g[i] = -g[i];
    return total;
  }) as GradientMethod,
  /**
   * Conv nets: ∂C/∂W of a convolution (the kernel rotated by 180°) where the
   * forward pass computes a cross-correlation, as deep-learning libraries do:
   * δ·cols(A)ᵀ read with the kernel flipped.
   */
  'flip-kernel': ((net, ws, y, grads, k) => {
    const total = backprop(net, ws, y, grads, k);
    net.geometry.forEach((g, l) => g && rotateKernels(g, grads.gradW[l - 1].data));
    return total;
  }) as GradientMethod,
} as const;

export type BugName = keyof typeof BUGS;
