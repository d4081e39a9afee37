import { Matrix, type Float } from '../linalg/index.js';
import { LEAKY_SLOPE, sigmoid, softmax, type Activation, type ActivationName } from '../nn/activations.js';
import type { Network } from '../nn/network.js';
import { backward, type Node } from '../autodiff/node.js';
import * as g from '../autodiff/ops.js';

/**
 * The network's mean cost written as a computation graph of our autodiff
 * engine (src/autodiff), with W^l and b^l as variables: a second, independent
 * way to get ∂C/∂W^l and ∂C/∂b^l, in float64.
 */
export function mlpLossGraph(net: Network, x: Matrix, y: Matrix): { loss: Node; W: Node[]; b: Node[] } {
  const m = x.rows;
  const W = net.weights.map((w, l) => g.variable(`W${l + 1}`, w.as('float64')));
  const b = net.biases.map((v, l) => g.variable(`b${l + 1}`, Matrix.from(v.length, 1, v, 'float64')));
  const Y = g.constant(y.as('float64'), 'Y');
  let a: Node = g.transpose(g.constant(x.as('float64'), 'X')); // A^0 = Xᵀ: inputs come one example per row
  const L = net.depth;
  const out = net.activations[L - 1];
  // The cost is written in log space from Z^L where it needs ln a or ln(1 − a), as the network's own cost is (src/nn/costs.ts):
  // here from elementary nodes, so the graph's gradient is an independent derivation of the same δ^L.
  const logSpace = (out === softmax && net.cost.name !== 'quadratic') || (out === sigmoid && net.cost.name === 'cross-entropy');
  let z: Node | undefined;
  for (let l = 0; l < L; l++) {
    z = g.addBias(g.matmul(W[l], a), b[l]); // Z = W A + b 1ᵀ
    if (l === L - 1 && logSpace) break;
    a = activate(net.activations[l], z);
  }
  const scale = (k: number) => g.constant(k / m);
  const one = g.constant(1);
  let loss: Node;
  if (logSpace && out === sigmoid) {
    // −[y ln σ(z) + (1 − y) ln(1 − σ(z))] = y softplus(−z) + (1 − y) softplus(z)
    loss = g.mul(scale(1), g.sum(g.add(g.mul(Y, g.softplus(g.neg(z!))), g.mul(g.sub(one, Y), g.softplus(z!)))));
  } else if (logSpace) {
    // ln a = z − c − ln(1ᵀE) and ln(1 − a) = ln((11ᵀ − I)E) − ln(1ᵀE), E = e^(z − c), c each column's max (a constant: the value does not depend on it)
    const n = z!.rows;
    const c = z!.value.as('float64');
    for (let j = 0; j < m; j++) {
      let max = -Infinity;
      for (let i = 0; i < n; i++) max = Math.max(max, c.data[i * m + j]);
      for (let i = 0; i < n; i++) c.data[i * m + j] = max;
    }
    const shifted = g.sub(z!, g.constant(c, 'column max'));
    const E = g.exp(shifted);
    const ones = Matrix.zeros(n, n, 'float64').data.fill(1);
    const others = Float64Array.from(ones, (v, i) => (i % (n + 1) === 0 ? 0 : v));
    const logSum = g.log(g.matmul(g.constant(Matrix.from(n, n, ones, 'float64'), '11ᵀ'), E));
    const logA = g.sub(shifted, logSum);
    if (net.cost.name === 'log-likelihood')
      loss = g.mul(scale(-1), g.sum(g.mul(Y, logA))); // −(1/m) Σ y ln a
    else {
      const log1mA = g.sub(g.log(g.matmul(g.constant(Matrix.from(n, n, others, 'float64'), '11ᵀ − I'), E)), logSum);
      loss = g.mul(scale(-1), g.sum(g.add(g.mul(Y, logA), g.mul(g.sub(one, Y), log1mA))));
    }
  } else {
    switch (net.cost.name) {
      case 'quadratic': // (1/m) Σ ½ (a − y)²
        loss = g.mul(scale(0.5), g.sum(g.pow(g.sub(a, Y), g.constant(2))));
        break;
      case 'cross-entropy': // −(1/m) Σ [y ln a + (1 − y) ln(1 − a)]
        loss = g.mul(scale(-1), g.sum(g.add(g.mul(Y, g.log(a)), g.mul(g.sub(one, Y), g.log(g.sub(one, a))))));
        break;
      case 'log-likelihood': // −(1/m) Σ y ln a
        loss = g.mul(scale(-1), g.sum(g.mul(Y, g.log(a))));
        break;
    }
  }
  return { loss, W, b };
}

/**
 * Each activation as the graph engine's own op: deliberately restated from
 * src/autodiff's elementary derivatives rather than taken from src/nn, so the
 * gradient it yields is an independent check of the activation's backward.
 */
const GRAPH_OPS: Record<ActivationName, (z: Node) => Node> = {
  sigmoid: g.sigmoid,
  relu: g.relu,
  tanh: g.tanh,
  'leaky-relu': (z) => g.leakyRelu(z, LEAKY_SLOPE),
  softmax: g.softmax,
  linear: (z) => z,
};

function activate(act: Activation, z: Node): Node {
  const op = Object.hasOwn(GRAPH_OPS, act.name) ? GRAPH_OPS[act.name] : undefined;
  if (!op) throw new Error(`the graph oracle has no op for the activation "${act.name}"`);
  return op(z);
}

/** ∂C/∂W^l and ∂C/∂b^l by the graph engine's backward pass. */
export function graphGradients(net: Network, x: Matrix, y: Matrix): { loss: number; gradW: Float[]; gradB: Float[] } {
  const { loss, W, b } = mlpLossGraph(net, x, y);
  backward(loss);
  return { loss: loss.scalar, gradW: W.map((w) => w.grad.data), gradB: b.map((v) => v.grad.data) };
}
