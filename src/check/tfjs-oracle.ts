import { OPTIMIZER_DEFAULTS, type OptimizerConfig } from '../train/optimizers.js';
import type * as TF from '@tensorflow/tfjs';
import type { Matrix } from '../linalg/index.js';
import type { ActivationName } from '../nn/activations.js';
import { activation, LEAKY_SLOPE, sigmoid, softmax } from '../nn/activations.js';
import type { CostName } from '../nn/costs.js';
import type { Network } from '../nn/network.js';
import type { ConvGeometry } from '../nn/layers.js';
import { BN_EPS } from '../nn/batchnorm.js';

type Tf = typeof TF;

let loaded: Promise<{ tf: Tf; backend: string }> | undefined;

/**
 * TensorFlow.js, the reference oracle: @tensorflow/tfjs-node where it is
 * installed (an optional dependency), otherwise @tensorflow/tfjs on its CPU
 * backend. Loaded on first use only: tfjs is never on the training path.
 */
export function loadTf(): Promise<{ tf: Tf; backend: string }> {
  loaded ??= (async () => {
    let tf: Tf;
    try {
      const name = '@tensorflow/tfjs-node';
      tf = (await import(name)) as Tf;
    } catch {
      tf = await import('@tensorflow/tfjs');
      // The CPU backend, unless this process already chose one (bench --tfjs-layers picks wasm).
      if (!tf.engine().backendName) await tf.setBackend('cpu'); // undefined until a backend is chosen
    }
    tf.env().set('PROD', true); // no console banner suggesting tfjs-node; we know
    await tf.ready();
    return { tf, backend: tf.getBackend() };
  })();
  return loaded;
}

/** Each activation as tfjs ops: a complete table (the type requires every name), not a comparison of names. */
const TF_ACTIVATION: Record<ActivationName, (tf: Tf, z: TF.Tensor2D) => TF.Tensor2D> = {
  sigmoid: (tf, z) => tf.sigmoid(z),
  relu: (tf, z) => tf.relu(z),
  tanh: (tf, z) => tf.tanh(z),
  'leaky-relu': (tf, z) => tf.leakyRelu(z, LEAKY_SLOPE),
  softmax: (tf, z) => tf.softmax(z), // over the last axis: one example per row here
  linear: (_tf, z) => z,
};

function activate(tf: Tf, name: ActivationName, z: TF.Tensor2D): TF.Tensor2D {
  return TF_ACTIVATION[name](tf, z);
}

/**
 * The mean cost from the output's Z in log space where the pairing needs
 * ln a or ln(1 − a), as src/nn/costs.ts computes it: tf.logSoftmax; softplus
 * for sigmoid; for softmax, ln(1 − a_j) = ln Σ_(k≠j) e^(z_k − c) − ln Σ_k e^(z_k − c),
 * c each row's max. Undefined for the other pairings.
 */
function logSpaceCost(tf: Tf, out: ActivationName, cost: CostName, z: TF.Tensor2D, y: TF.Tensor2D): TF.Scalar | undefined {
  const m = z.shape[0],
    n = z.shape[1];
  if (activation(out) === sigmoid && cost === 'cross-entropy') {
    return tf.div<TF.Scalar>(tf.sum(tf.add(tf.mul(y, tf.softplus(tf.neg(z))), tf.mul(tf.sub(1, y), tf.softplus(z)))), m);
  }
  if (activation(out) !== softmax || cost === 'quadratic') return undefined;
  const logA = tf.logSoftmax(z);
  if (cost === 'log-likelihood') return tf.div<TF.Scalar>(tf.neg(tf.sum(tf.mul(y, logA))), m);
  const E = tf.exp(tf.sub(z, tf.max(z, 1, true)));
  const others = tf.sub(tf.ones([n, n]), tf.eye(n)) as TF.Tensor2D;
  const log1mA = tf.sub(tf.log(tf.matMul(E, others)), tf.log(tf.sum(E, 1, true)));
  return tf.div<TF.Scalar>(tf.neg(tf.sum(tf.add(tf.mul(y, logA), tf.mul(tf.sub(1, y), log1mA)))), m);
}

/** The mean cost written with tfjs ops, on examples as rows. */
function meanCost(tf: Tf, name: CostName, a: TF.Tensor2D, y: TF.Tensor2D): TF.Scalar {
  const m = a.shape[0];
  switch (name) {
    case 'quadratic':
      return tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(a, y)))), m);
    case 'cross-entropy':
      return tf.div(tf.neg(tf.sum(tf.add(tf.mul(y, tf.log(a)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, a)))))), m);
    case 'log-likelihood':
      return tf.div(tf.neg(tf.sum(tf.mul(y, tf.log(a)))), m);
  }
}

/**
 * A conv layer in tfjs ops, NHWC as tfjs wants: the image in (from [m, n] in
 * (c, h, w) order, or the NHWC output of the conv layer below), W^l reshaped to
 * PyTorch's [out, in, kh, kw] and transposed to tfjs's [kh, kw, in, out];
 * tf.conv2d (a cross-correlation, as ours), the bias, f, then tf.maxPool or
 * tf.avgPool with stride = size ('valid' drops what does not fill a window).
 */
function convLayer(tf: Tf, g: ConvGeometry, name: ActivationName, a: TF.Tensor, W: TF.Tensor, b: TF.Tensor, bn?: TF.Tensor): TF.Tensor4D {
  const m = a.shape[0];
  const image = a.rank === 4 ? (a as TF.Tensor4D) : (tf.transpose(tf.reshape(a, [m, g.cIn, g.h, g.w]), [0, 2, 3, 1]) as TF.Tensor4D);
  const filter = tf.transpose(tf.reshape(W, [g.cOut, g.cIn, g.spec.kh, g.spec.kw]), [2, 3, 1, 0]) as TF.Tensor4D;
  const conv = tf.conv2d(image, filter, 1, g.spec.padding === 0 ? 'valid' : g.spec.padding);
  const z = (bn ? batchNorm(tf, conv, bn, [0, 1, 2]) : tf.add(conv, b)) as TF.Tensor4D; // per channel over examples × positions
  const act = TF_ACTIVATION[name](tf, z as unknown as TF.Tensor2D) as unknown as TF.Tensor4D;
  const p = g.spec.pool;
  if (!p) return act;
  return p.kind === 'avg' ? tf.avgPool(act, p.size, p.size, 'valid') : tf.maxPool(act, p.size, p.size, 'valid');
}

/**
 * Batch normalisation on the batch's statistics (Ioffe & Szegedy 2015,
 * Algorithm 1) from tf.moments, differentiated by tfjs through μ and σ²
 * alike: y = γ (z − μ)/√(σ² + ε) + β over the given axes (the examples, and
 * the positions of a conv layer's NHWC maps); params is our [γ; β].
 */
function batchNorm(tf: Tf, z: TF.Tensor, params: TF.Tensor, axes: number[]): TF.Tensor {
  const F = params.shape[0] / 2;
  const { mean, variance } = tf.moments(z, axes);
  const gamma = tf.slice(params, 0, F),
    beta = tf.slice(params, F, F);
  return tf.add(tf.mul(tf.div(tf.sub(z, mean), tf.sqrt(tf.add(variance, BN_EPS))), gamma), beta);
}

/** The network's loss as a tfjs function of its variables; X and Yᵀ come in with examples as rows. */
function lossFn(tf: Tf, net: Network, W: TF.Variable[], b: TF.Variable[], x: TF.Tensor2D, y: TF.Tensor2D): () => TF.Scalar {
  return () => {
    let a: TF.Tensor = x;
    for (let l = 0; l < net.depth; l++) {
      const g = net.geometry[l + 1];
      const norm = net.norm[l + 1];
      if (g) {
        a = convLayer(tf, g, net.activations[l].name, a, W[l], b[l], norm && b[norm.index]);
        continue;
      }
      // a conv layer's NHWC output flattened in our (c, h, w) order
      const flat = a.rank === 4 ? (tf.reshape(tf.transpose(a, [0, 3, 1, 2]), [a.shape[0], -1]) as TF.Tensor2D) : (a as TF.Tensor2D);
      // Zᵀ = Aᵀ Wᵀ + 1 bᵀ: the same Z = W A + b 1ᵀ with examples as rows.
      const product = tf.matMul(flat, W[l], false, true);
      const z = (norm ? batchNorm(tf, product, b[norm.index], [0]) : tf.add(product, b[l])) as TF.Tensor2D; // under BN, β is the bias
      if (l === net.depth - 1) {
        const stable = logSpaceCost(tf, net.activations[l].name, net.cost.name, z, y);
        if (stable) return stable;
      }
      a = activate(tf, net.activations[l].name, z);
    }
    return meanCost(tf, net.cost.name, a as TF.Tensor2D, y);
  };
}

/** A matrix as a tfjs float32 tensor. */
function tensor(tf: Tf, m: Matrix): TF.Tensor2D {
  return tf.tensor2d(Float32Array.from(m.data), [m.rows, m.cols]);
}

function variables(tf: Tf, net: Network): { W: TF.Variable[]; b: TF.Variable[] } {
  return {
    W: net.weights.map((w, l) => tf.variable(tf.tensor2d(Float32Array.from(w.data), [w.rows, w.cols]), true, `W${l + 1}`)),
    b: net.biases.map((v, l) => tf.variable(tf.tensor1d(Float32Array.from(v)), true, `b${l + 1}`)),
  };
}

export interface TfGradients {
  loss: number;
  gradW: Float32Array[];
  gradB: Float32Array[];
}

/** ∂C/∂W^l and ∂C/∂b^l by tfjs automatic differentiation (tf.variableGrads), in float32. */
export async function tfGradients(net: Network, x: Matrix, y: Matrix): Promise<TfGradients> {
  const { tf } = await loadTf();
  return tf.tidy(() => {
    const { W, b } = variables(tf, net);
    const f = lossFn(tf, net, W, b, tensor(tf, x), tf.transpose(tensor(tf, y)));
    const { value, grads } = tf.variableGrads(f, [...W, ...b]);
    const out = {
      loss: value.dataSync()[0],
      // no gradient: a variable the loss does not use (b^l and the empty W entry of a batch-normalised layer), 0
      gradW: W.map((v) => (grads[v.name]?.dataSync() as Float32Array | undefined) ?? new Float32Array(v.size)),
      gradB: b.map((v) => (grads[v.name]?.dataSync() as Float32Array | undefined) ?? new Float32Array(v.size)),
    };
    [...W, ...b].forEach((v) => v.dispose());
    return out;
  });
}

/**
 * K steps of tf.train.sgd, tf.train.momentum (useNesterov for nesterov),
 * tf.train.adam, tf.train.rmsprop or tf.train.adagrad (amsgrad: its
 * definition in tfjs ops, tfAmsgrad) from the network's weights on the given batches; returns the
 * weights and biases afterwards (float32). L2 weight decay λ on the weights
 * is the penalty (λ/2)‖W‖² added to the loss, except for adamw, which tfjs
 * does not have: it is Adam followed by the decoupled decay W ← W − ηλW_old
 * of its definition (Loshchilov & Hutter 2019).
 */
export async function tfTrain(
  net: Network,
  batches: { x: Matrix; y: Matrix }[],
  lr: number,
  optimizer: OptimizerConfig = { name: 'sgd', ...OPTIMIZER_DEFAULTS },
  weightDecay = 0,
): Promise<{ W: Float32Array[]; b: Float32Array[] }> {
  const { tf } = await loadTf();
  const { W, b } = variables(tf, net);
  const opt = tfOptimizer(tf, lr, optimizer);
  const o = optimizer;
  const coupled = o.name === 'adamw' ? 0 : weightDecay;
  for (const batch of batches) {
    tf.tidy(() => {
      const cost = lossFn(tf, net, W, b, tensor(tf, batch.x), tf.transpose(tensor(tf, batch.y)));
      const f = coupled ? () => tf.add(cost(), tf.mul(coupled / 2, tf.addN(W.map((w) => tf.sum(tf.square(w)))))) as TF.Scalar : cost;
      const decay = o.name === 'adamw' && weightDecay ? W.map((w) => tf.mul(lr * weightDecay, w)) : undefined;
      opt.minimize(f, false, [...W, ...b]);
      decay?.forEach((d, l) => W[l].assign(tf.sub(W[l], d)));
    });
  }
  const out = { W: W.map((v) => v.dataSync() as Float32Array), b: b.map((v) => v.dataSync() as Float32Array) };
  [...W, ...b].forEach((v) => v.dispose());
  opt.dispose();
  return out;
}

/** What tfTrain asks of an optimizer: tf.train's `minimize` and `dispose`. */
type TfOptimizer = Pick<TF.Optimizer, 'minimize' | 'dispose'>;

/**
 * tfjs's optimizer for ours. tf.train.rmsprop puts ε inside the root, √(v + ε),
 * where PyTorch and we put it outside, √v + ε: it gets ε², and √(v + ε²) and
 * √v + ε differ only where √v is near ε. tf.train.adagrad adds the backend's
 * ε (1e-7) inside the root: with G₀ = 0.1, as the parity test runs it, that
 * changes √G by under 2e-7 of itself.
 */
function tfOptimizer(tf: Tf, lr: number, o: OptimizerConfig): TfOptimizer {
  switch (o.name) {
    case 'sgd':
      return tf.train.sgd(lr);
    case 'momentum':
    case 'nesterov':
      return tf.train.momentum(lr, o.momentum, o.name === 'nesterov');
    case 'adam':
    case 'adamw':
      return tf.train.adam(lr, o.beta1, o.beta2, o.eps);
    case 'rmsprop':
      return tf.train.rmsprop(lr, o.alpha, 0, o.eps * o.eps);
    case 'adagrad':
      return tf.train.adagrad(lr, o.accumulator);
    case 'amsgrad':
      return tfAmsgrad(tf, lr, o);
  }
}

/**
 * AMSGrad, which tfjs lacks, restated in tfjs ops from its definition (an
 * oracle restates what it checks): Reddi, Kale & Kumar 2018, Algorithm 2, with
 * Adam's bias corrections as torch.optim.Adam(amsgrad=True):
 *   m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  v_max ← max(v_max, v),
 *   θ ← θ − η (m/(1 − β₁ᵗ)) / (√(v_max/(1 − β₂ᵗ)) + ε)
 */
function tfAmsgrad(tf: Tf, lr: number, { beta1, beta2, eps }: OptimizerConfig): TfOptimizer {
  const slots = new Map<string, TF.Variable[]>();
  let t = 0;
  return {
    minimize(f: () => TF.Scalar, _returnCost?: boolean, vars?: TF.Variable[]) {
      t++;
      const { grads } = tf.variableGrads(f, vars);
      for (const p of vars ?? []) {
        const g = grads[p.name];
        if (!g) continue; // a variable the loss does not use
        let s = slots.get(p.name);
        if (!s) slots.set(p.name, (s = [0, 1, 2].map(() => tf.variable(tf.zerosLike(p)))));
        const [m, v, vMax] = s;
        m.assign(tf.add(tf.mul(beta1, m), tf.mul(1 - beta1, g)));
        v.assign(tf.add(tf.mul(beta2, v), tf.mul(1 - beta2, tf.square(g))));
        vMax.assign(tf.maximum(vMax, v));
        const step = tf.div(tf.div(m, 1 - beta1 ** t), tf.add(tf.sqrt(tf.div(vMax, 1 - beta2 ** t)), eps));
        p.assign(tf.sub(p, tf.mul(lr, step)));
      }
      Object.values(grads).forEach((g) => g.dispose());
      return null;
    },
    dispose() {
      for (const s of slots.values()) s.forEach((x) => x.dispose());
    },
  };
}
