import { Matrix, type Float } from '../linalg/index.js';
import { LEAKY_SLOPE } from '../nn/activations.js';
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
  const fusedOutput = net.activations[L - 1].name === 'softmax' && net.cost.name === 'log-likelihood';
  let z: Node | undefined;
  for (let l = 0; l < L; l++) {
    z = g.addBias(g.matmul(W[l], a), b[l]); // Z = W A + b 1ᵀ
    if (l === L - 1 && fusedOutput) break;
    a = activate(net.activations[l].name, z);
  }
  let loss: Node;
  if (fusedOutput) loss = g.softmaxLogLikelihood(z!, Y);
  else {
    const scale = (k: number) => g.constant(k / m);
    switch (net.cost.name) {
      case 'quadratic': // (1/m) Σ ½ (a − y)²
        loss = g.mul(scale(0.5), g.sum(g.pow(g.sub(a, Y), g.constant(2))));
        break;
      case 'cross-entropy': // −(1/m) Σ [y ln a + (1 − y) ln(1 − a)]
        loss = g.mul(scale(-1), g.sum(g.add(g.mul(Y, g.log(a)), g.mul(g.sub(g.constant(1), Y), g.log(g.sub(g.constant(1), a))))));
        break;
      case 'log-likelihood': // −(1/m) Σ y ln a
        loss = g.mul(scale(-1), g.sum(g.mul(Y, g.log(a))));
        break;
    }
  }
  return { loss, W, b };
}

function activate(name: string, z: Node): Node {
  switch (name) {
    case 'sigmoid':
      return g.sigmoid(z);
    case 'relu':
      return g.relu(z);
    case 'tanh':
      return g.tanh(z);
    case 'leaky-relu':
      return g.leakyRelu(z, LEAKY_SLOPE);
    case 'softmax':
      return g.softmax(z);
    default:
      return z;
  }
}

/** ∂C/∂W^l and ∂C/∂b^l by the graph engine's backward pass. */
export function graphGradients(net: Network, x: Matrix, y: Matrix): { loss: number; gradW: Float[]; gradB: Float[] } {
  const { loss, W, b } = mlpLossGraph(net, x, y);
  backward(loss);
  return { loss: loss.scalar, gradW: W.map((w) => w.grad.data), gradB: b.map((v) => v.grad.data) };
}
