import { backprop, type GradientMethod } from '../nn/backprop.js';
import { rotateKernels } from '../nn/conv.js';
import type { Network } from '../nn/network.js';

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

/**
 * Why `bug` changes nothing for this network and a batch of m examples, or
 * undefined when it changes the gradients. A check that passes with a no-op
 * bug proves nothing, so gradcheck refuses it:
 * - drop-fprime drops f′(z^l) of the hidden layers: nothing without one, and
 *   nothing where every hidden f is linear (f′ = 1);
 * - no-mean multiplies by m: nothing at m = 1;
 * - flip-kernel rotates each kernel by 180°: nothing for 1×1 kernels.
 */
export function bugNoOp(bug: BugName, net: Network, m: number): string | undefined {
  const hidden = net.activations.slice(0, -1);
  if (bug === 'drop-fprime' && hidden.length === 0) return 'the network has no hidden layer, whose f′(z) it drops';
  if (bug === 'drop-fprime' && hidden.every((a) => a.name === 'linear')) return 'every hidden activation is linear, whose f′(z) is 1; choose another, e.g. --activation relu';
  if (bug === 'no-mean' && m === 1) return 'the batch is one example, where the sum and the mean are the same; use --batch-size 2 or more';
  if (bug === 'flip-kernel' && net.geometry.every((g) => !g || g.spec.kh * g.spec.kw === 1)) return 'every conv kernel is 1×1, which a 180° rotation leaves as it is';
  return undefined;
}
