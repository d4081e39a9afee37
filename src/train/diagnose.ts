import type { Matrix } from '../linalg/index.js';
import { allFinite, totalCost, type Workspace } from '../nn/backprop.js';
import type { Network } from '../nn/network.js';
import type { Examples } from '../data/dataset.js';

/** Where a value went non-finite: the input, a layer's z = W a + b, a = f(z) or δ, the cost, or the weights. */
export type Quantity = 'input' | 'z' | 'a' | 'cost' | 'delta' | 'weights';

/**
 * Why training stopped. `loss-blew-up`: the loss was rising (above where it
 * started and more than twice its lowest) before it became non-finite, the
 * learning rate's fault. `non-finite`: a NaN or ∞ appeared while the loss was
 * fine, and `cause` says where it came from: the data, a cost/activation
 * pairing (finite z and a, non-finite cost or δ^L), or overflow of the number
 * type (z or δ out of range).
 */
export interface Diagnosis {
  kind: 'loss-blew-up' | 'non-finite';
  cause: 'learning-rate' | 'data' | 'pairing' | 'overflow';
  /** The layer l = 1..L where the first non-finite value appeared (0: the input). */
  layer?: number;
  quantity?: Quantity;
  /** Mean cost per example: the first batch of the run, the lowest, and the last finite one. */
  firstLoss?: number;
  lowestLoss?: number;
  lastLoss?: number;
  /** One line: what happened and what to do. */
  message: string;
}

/** Batch losses seen so far (mean cost per example), as the diagnosis needs them. */
export interface LossTrack {
  first?: number;
  lowest?: number;
  last?: number;
}

export function trackLoss(t: LossTrack, loss: number): void {
  t.first ??= loss;
  t.lowest = Math.min(t.lowest ?? loss, loss);
  t.last = loss;
}

function largest(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) > m) m = Math.abs(x[i]);
  return m;
}

function firstBad(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return x[i];
  return 0;
}

/** The first non-finite value of the pass in ws, in the order it was computed: input, z^l and a^l up the layers, the cost, δ^L down to δ^1. */
export function firstNonFinite(net: Network, ws: Workspace, y: Matrix): { quantity: Quantity; layer: number; value: number } | undefined {
  const L = net.depth;
  for (let l = 1; l <= L; l++) {
    if (!allFinite(net.weights[l - 1].data) || !allFinite(net.biases[l - 1]))
      return { quantity: 'weights', layer: l, value: allFinite(net.weights[l - 1].data) ? firstBad(net.biases[l - 1]) : firstBad(net.weights[l - 1].data) };
  }
  if (!allFinite(ws.x.data)) return { quantity: 'input', layer: 0, value: firstBad(ws.x.data) };
  for (let l = 1; l <= L; l++) {
    if (!allFinite(ws.z[l].data)) return { quantity: 'z', layer: l, value: firstBad(ws.z[l].data) };
    if (!allFinite(ws.a[l].data)) return { quantity: 'a', layer: l, value: firstBad(ws.a[l].data) };
  }
  const cost = totalCost(net, ws, y);
  if (!Number.isFinite(cost)) return { quantity: 'cost', layer: L, value: cost };
  for (let l = L; l >= 1; l--) if (!allFinite(ws.delta[l].data)) return { quantity: 'delta', layer: l, value: firstBad(ws.delta[l].data) };
  return undefined;
}

/** Inputs this large overflow a float32 layer's z = W a + b with weights of ordinary size: the data needs scaling. */
const HUGE_INPUT = 1e6;

/**
 * Why the step whose pass is in ws (computed from the weights before it) went
 * non-finite; `losses` are the batch losses before it.
 */
export function diagnose(net: Network, ws: Workspace, y: Matrix, losses: LossTrack, lr: number, weightDecay = 0, baseLr = lr): Diagnosis {
  const where = firstNonFinite(net, ws, y);
  const { first, lowest, last } = losses;
  const base = { firstLoss: first, lowestLoss: lowest, lastLoss: last, layer: where?.layer, quantity: where?.quantity };
  const L = net.depth;
  // W ← (1 − ηλ)W − …: with ηλ ≥ 1 the decay alone flips (and, from 2 on, grows) every weight each step, whatever η the gradient gets.
  const smaller =
    lr * weightDecay >= 1
      ? `--weight-decay ${weightDecay} with η = ${lr} scales W by 1 − ηλ = ${fmt(1 - lr * weightDecay)} each step (it must stay within (0, 1)): ${trySmaller(lr, weightDecay)}`
      : trySmaller(lr, weightDecay, baseLr);
  const what = where ? `${symbol(where.quantity, where.layer)} became ${where.value}` : 'the loss became NaN';
  if (where?.quantity === 'input') {
    return { ...base, kind: 'non-finite', cause: 'data', message: `an input of the batch is ${where.value}: the data holds a non-finite value` };
  }
  const rising = last !== undefined && first !== undefined && lowest !== undefined && last > first && last > 2 * lowest;
  if (rising || where?.quantity === 'weights') {
    const from = rising ? `it rose from ${fmt(lowest!)} at its lowest to ${fmt(last!)}, then ${what}` : `${what} in the last update`;
    return { ...base, kind: 'loss-blew-up', cause: 'learning-rate', message: `the loss blew up: ${from}; ${smaller}` };
  }
  const fine = last !== undefined ? ` while the loss was ${fmt(last)}` : ' on the first batch';
  if (!where) return { ...base, kind: 'non-finite', cause: 'overflow', message: `${what}: ${smaller}` };
  const out = net.activations[L - 1].name;
  switch (where.quantity) {
    case 'z':
    case 'a': {
      const input = largest(ws.x.data);
      if (where.layer === 1 && input > HUGE_INPUT) {
        return { ...base, kind: 'non-finite', cause: 'data', message: `layer 1 overflowed (${what})${fine}: the inputs reach ${fmt(input)}; scale them to [0, 1]` };
      }
      return {
        ...base,
        kind: 'non-finite',
        cause: 'overflow',
        message: `layer ${where.layer} overflowed ${net.dtype} (${what}, its weights reach |W| = ${fmt(largest(net.weights[where.layer - 1].data))})${fine}: ${smaller}${net.dtype === 'float32' ? ', or --dtype float64' : ''}`,
      };
    }
    case 'cost':
    case 'delta':
      if (where.layer === L) {
        return {
          ...base,
          kind: 'non-finite',
          cause: 'pairing',
          message: `${what} at the output layer (${net.cost.name} cost after a ${out} output) from finite z^${L} and a^${L}${fine}: a numerical fault of this cost/activation pairing, not the learning rate`,
        };
      }
      return {
        ...base,
        kind: 'non-finite',
        cause: 'overflow',
        message: `δ^${where.layer} overflowed ${net.dtype} back-propagating through W^${where.layer + 1} (|W| up to ${fmt(largest(net.weights[where.layer].data))}; ${what})${fine}: ${smaller}`,
      };
  }
  return { ...base, kind: 'non-finite', cause: 'overflow', message: `${what}${fine}: ${smaller}` };
}

/** How a message names a quantity: z^2, δ^1, W^2, the cost, an input. */
function symbol(q: Quantity, layer: number): string {
  switch (q) {
    case 'input':
      return 'an input';
    case 'cost':
      return 'the cost';
    case 'weights':
      return `W^${layer}`;
    case 'delta':
      return `δ^${layer}`;
    default:
      return `${q}^${layer}`;
  }
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(1) : x.toPrecision(3);
}

/** The first non-finite input of a set of examples, to refuse the data before any training. */
export function nonFiniteInput(ex: Examples): { example: number; input: number; value: number } | undefined {
  const F = ex.features;
  for (let i = 0; i < F.length; i++) if (!Number.isFinite(F[i])) return { example: Math.floor(i / ex.dim), input: i % ex.dim, value: F[i] };
  return undefined;
}

/** The largest finite float32, 3.4028235e38. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * A float64 run whose mean batch loss passed float32's range: a float32 run
 * would have overflowed long before (its z or δ), so a float64 run is said to
 * diverge here too, instead of training on to a loss of 1e+250 and exit 0.
 */
export function lossBeyondRange(net: Network, loss: number): boolean {
  return net.dtype === 'float64' && Math.abs(loss) > FLOAT32_MAX;
}

/**
 * What to try after a blow-up at step size η: with ηλ ≥ 1 a λ that makes ηλ = 0.1 (two significant digits), else
 * --lr/10, its float noise rounded off (2.5e-6 / 10 is 2.5000000000000004e-7 in binary floating point; the user is
 * shown 2.5e-7). `base` is --lr: where a schedule had raised η above it (a --div-factor below 1, a --decay above
 * 1), the schedule's flags are the cause, and a tenth of η would be far above --lr.
 */
function trySmaller(lr: number, weightDecay: number, base = lr): string {
  if (lr > base * (1 + 1e-12)) return `the schedule had raised η to ${fmt(lr)}, above --lr ${base}: check its flags (--div-factor, --decay)`;
  return lr * weightDecay >= 1 ? `try a smaller --weight-decay, e.g. ${+(0.1 / lr).toPrecision(2)}` : `try a smaller learning rate, e.g. --lr ${+(base / 10).toPrecision(6)}`;
}

/** The diagnosis of lossBeyondRange: the learning rate's fault (or the weight decay's), as for a float32 run's blow-up. */
export function runawayLoss(losses: LossTrack, loss: number, lr: number, weightDecay = 0, baseLr = lr): Diagnosis {
  const { first, lowest, last } = losses;
  const from = lowest !== undefined ? `it rose from ${fmt(lowest)} at its lowest to ${fmt(loss)}` : `it is ${fmt(loss)} on the first batch`;
  const smaller = trySmaller(lr, weightDecay, baseLr);
  return {
    firstLoss: first,
    lowestLoss: lowest,
    lastLoss: last,
    kind: 'loss-blew-up',
    cause: 'learning-rate',
    message: `the loss blew up: ${from}, beyond float32's range (${fmt(FLOAT32_MAX)}), where a float32 run overflows; ${smaller}`,
  };
}
