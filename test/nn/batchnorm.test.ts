import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { jsKernels } from '../../src/linalg/index.js';
import { BN_EPS, batchNormBackward, batchNormForward } from '../../src/nn/batchnorm.js';
import { backprop, feedforward, Gradients, sgdStep, Workspace } from '../../src/nn/backprop.js';
import { numericalGradients } from '../../src/check/finite-diff.js';
import { convArchitecture, layersFlag, Network, type Architecture } from '../../src/nn/network.js';
import { copyWeights } from '../../src/train/early-stop.js';
import { batchNormLayers, LayerSpecError, parseLayerList } from '../../src/nn/layers.js';
import { gradcheck, GRADCHECK_DEFAULTS, TOLERANCES } from '../../src/check/gradcheck.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { cli, loadTfjsExport, oneHot, randomMatrix } from '../helpers.js';

const opts = { ...GRADCHECK_DEFAULTS, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 1, tfjs: true };
const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-bn-'));

function buffers(F: number, N: number) {
  return { pre: new Float64Array(F * N), xhat: new Float64Array(F * N), invStd: new Float64Array(F), dGamma: new Float64Array(F), dBeta: new Float64Array(F) };
}

describe('batch normalisation, by hand', () => {
  it('normalises with the batch statistics, moves the running ones by PyTorch momentum 0.1 with the unbiased variance, and evaluates with them', () => {
    // one feature, N = 4: μ = 2.5, σ² = 1.25 (biased), unbiased 5/3; γ = 2, β = 0.5
    const z = Float64Array.from([1, 2, 3, 4]);
    const params = Float64Array.from([2, 0.5]);
    const mean = Float64Array.from([0]),
      variance = Float64Array.from([1]);
    const buf = buffers(1, 4),
      y = new Float64Array(4);
    batchNormForward('update', z, 1, 4, params, mean, variance, buf, y);
    const s = Math.sqrt(1.25 + BN_EPS);
    [1, 2, 3, 4].forEach((v, j) => expect(y[j]).toBeCloseTo((2 * (v - 2.5)) / s + 0.5, 14));
    expect(mean[0]).toBeCloseTo(0.25, 15); // 0.9·0 + 0.1·2.5
    expect(variance[0]).toBeCloseTo(0.9 + 0.1 * (5 / 3), 15); // 0.9·1 + 0.1·σ²·N/(N − 1)
    // 'batch' leaves the running statistics alone
    batchNormForward('batch', z, 1, 4, params, mean, variance, buf, y);
    expect(mean[0]).toBeCloseTo(0.25, 15);
    // evaluation: γ (z − r_μ)/√(r_σ² + ε) + β
    batchNormForward('running', z, 1, 4, params, mean, variance, buf, y);
    expect(y[0]).toBeCloseTo((2 * (1 - 0.25)) / Math.sqrt(0.9 + 1 / 6 + BN_EPS) + 0.5, 14);
  });

  it('a batch of one (N = 1): σ² = 0, x̂ = 0, y = β, and the running variance takes σ² itself (N/(N − 1) would be 0/0)', () => {
    const params = Float64Array.from([2, 3, 0.5, -1]); // two features: γ = (2, 3), β = (0.5, −1)
    const mean = Float64Array.from([1, 0]),
      variance = Float64Array.from([2, 1]);
    const buf = buffers(2, 1),
      y = new Float64Array(2);
    batchNormForward('update', Float64Array.from([7, -4]), 2, 1, params, mean, variance, buf, y);
    expect(Array.from(y)).toEqual([0.5, -1]);
    expect(Array.from(buf.xhat)).toEqual([0, 0]);
    expect(mean[0]).toBeCloseTo(0.9 * 1 + 0.1 * 7, 15);
    expect(mean[1]).toBeCloseTo(0.1 * -4, 15);
    expect(Array.from(variance)).toEqual([0.9 * 2, 0.9 * 1]); // 0.9 r + 0.1 · 0
  });

  it('backward: ∂C/∂β = Σ G, ∂C/∂γ = Σ G x̂, and ∂C/∂z sums to 0 and is orthogonal to x̂ (the mean and the scale are taken out)', () => {
    const z = Float64Array.from([1, 2, 3, 4]),
      params = Float64Array.from([2, 0.5]);
    const buf = buffers(1, 4),
      y = new Float64Array(4);
    batchNormForward('batch', z, 1, 4, params, new Float64Array(1), new Float64Array(1), buf, y);
    const G = Float64Array.from([1, 0, 0, 0]);
    batchNormBackward(G, 1, 4, params, buf);
    expect(buf.dBeta[0]).toBe(1);
    expect(buf.dGamma[0]).toBeCloseTo(buf.xhat[0], 15);
    expect(G.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 14);
    const x0 = buf.xhat[0];
    // Σ x̂² = N σ²/(σ² + ε), not N: orthogonal up to the ε term, γ/√(σ² + ε) · Σ G x̂ · ε/(σ² + ε)
    expect(G.reduce((a, g, j) => a + g * buf.xhat[j], 0)).toBeCloseTo((2 / Math.sqrt(1.25 + BN_EPS)) * x0 * (BN_EPS / (1.25 + BN_EPS)), 14);
    // by hand: γ/σ (G − mean G − x̂ mean(G x̂)) at j = 0
    expect(G[0]).toBeCloseTo((2 / Math.sqrt(1.25 + BN_EPS)) * (1 - 0.25 - (x0 * x0) / 4), 14);
  });
});

describe('the bn token', () => {
  it('marks the layer before it (after a pooling too), counting the input in --layers', () => {
    expect(batchNormLayers(parseLayerList('784,100,bn,50,bn,10'), 0).layers).toEqual([1, 2]);
    expect(batchNormLayers(parseLayerList('100,bn,50'), 1)).toEqual({ tokens: [100, 50], layers: [1] });
    expect(batchNormLayers(parseLayerList('conv5x5x8,bn,pool2,conv3x3x4,pool2,bn,30'), 1).layers).toEqual([1, 2]);
    expect(() => batchNormLayers(parseLayerList('784,bn,10'), 0)).toThrow(LayerSpecError);
    expect(() => batchNormLayers(parseLayerList('bn,100'), 1)).toThrow(/must follow a layer/);
    expect(() => batchNormLayers(parseLayerList('100,bn,bn'), 1)).toThrow(/twice on layer 1/);
  });

  it('is written back into --layers (train --json config, train --config) where the layer list is', () => {
    expect(layersFlag({ sizes: [784, 100, 30, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [2] })).toBe('784,100,30,bn,10');
    const conv = convArchitecture(parseLayerList('conv5x5x8,pool2,100'), [1, 28, 28], 10, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' });
    expect(layersFlag({ ...conv, batchNorm: [1, 2] })).toBe('conv5x5x8,bn,pool2,100,bn');
    expect(layersFlag(conv)).toBe('conv5x5x8,pool2,100');
    const t = cli(['train', '--hidden', '20,bn', '--limit', '100', '--test-limit', '20', '--epochs', '1', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).config.layers).toBe('784,20,bn,10');
  });

  it('train refuses a bn on the output layer and a bn first, in one line', () => {
    const out = cli(['train', '--layers', '784,100,10,bn', '--epochs', '1']);
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split('\n')).toHaveLength(1);
    expect(out.stderr).toMatch(/--layers: "bn" after the output layer/);
    expect(cli(['train', '--hidden', 'bn,100']).stderr).toMatch(/--hidden: layer "bn" must follow a layer/);
  });
});

describe('networks with batch normalisation', () => {
  const rng = new Rng(5);
  const dense: Architecture = { sizes: [6, 5, 4, 3], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [1, 2] };
  const x = randomMatrix(rng, 4, 6);
  const y = oneHot([0, 2, 1, 2], 3);

  it('gradcheck passes γ, β and the layers below them against finite differences (float64) and tfjs', async () => {
    const net = Network.create(dense, 'xavier', new Rng(2), 'float64');
    // move γ and β off 1 and 0, so that a backward pass that forgets γ would show
    net.norm.forEach((n) => n?.params.forEach((_, i, p) => (p[i] += 0.3 * rng.normal())));
    const r = await gradcheck(net, x, y, opts);
    expect(r.tensors.map((t) => t.name)).toEqual(['W1', 'b1', 'W2', 'b2', 'W3', 'b3', 'bn1.gamma', 'bn1.beta', 'bn2.gamma', 'bn2.beta']);
    for (const t of r.tensors) {
      expect(t.finiteDifferences.pass, t.name).toBe(true);
      expect(t.tfjs?.pass, t.name).toBe(true);
    }
    expect(r.pass).toBe(true);
  }, 60_000);

  it('gradcheck passes a conv layer normalised per channel over examples × positions', async () => {
    const arch = { ...convArchitecture(parseLayerList('conv3x3x3,pool2'), [1, 6, 6], 3, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }), batchNorm: [1] };
    const net = Network.create(arch, 'he', new Rng(3), 'float64');
    expect(net.norm[1]?.features).toBe(3);
    const r = await gradcheck(net, randomMatrix(rng, 4, 36), y, opts);
    expect(r.tensors.find((t) => t.name === 'bn1.gamma')?.finiteDifferences.pass).toBe(true);
    expect(r.pass).toBe(true);
  }, 60_000);

  it("its buffers have the network's precision: float32 nets normalise in float32 (Z, x̂, 1/√(σ² + ε), Σ G x̂, Σ G)", () => {
    for (const [dtype, type] of [
      ['float32', Float32Array],
      ['float64', Float64Array],
    ] as const) {
      const ws = new Workspace(Network.create(dense, 'xavier', new Rng(2), dtype), 4);
      for (const l of [1, 2]) {
        const b = ws.bn[l]!;
        for (const k of ['pre', 'xhat', 'invStd', 'dGamma', 'dBeta'] as const) expect(b[k], `${dtype} bn${l}.${k}`).toBeInstanceOf(type);
        expect([b.pre.length, b.xhat.length, b.invStd.length]).toEqual([dense.sizes[l] * 4, dense.sizes[l] * 4, dense.sizes[l]]);
        expect(b.preZ.data).toBe(b.pre);
      }
    }
  });

  it('a training pass updates the running statistics; evaluation uses them; backprop leaves b unused (∂C/∂b = 0)', () => {
    const net = Network.create(dense, 'xavier', new Rng(2), 'float64');
    const ws = new Workspace(net, 4);
    ws.input.data.set(x.data);
    const grads = new Gradients(net);
    backprop(net, ws, y, grads, jsKernels);
    expect(grads.gradB[0].every((g) => g === 0)).toBe(true);
    expect(net.norm[1]!.runningMean.some((v) => v !== 0)).toBe(true);
    const batch = Float64Array.from(feedforward(net, ws, jsKernels, 'batch').data);
    const running = Float64Array.from(feedforward(net, ws, jsKernels).data);
    expect(running).not.toEqual(batch);
    // with the running statistics set to the batch's (biased) ones, evaluation equals the batch pass
    const fresh = Network.create(dense, 'xavier', new Rng(2), 'float64');
    const w2 = new Workspace(fresh, 4);
    w2.input.data.set(x.data);
    const ref = Float64Array.from(feedforward(fresh, w2, jsKernels, 'batch').data);
    for (const n of fresh.norm) {
      if (!n) continue;
      const z = w2.bn[n.layer]!.pre,
        N = 4;
      for (let i = 0; i < n.features; i++) {
        const row = Array.from(z.subarray(i * N, (i + 1) * N));
        const mu = row.reduce((a, b) => a + b, 0) / N;
        n.runningMean[i] = mu;
        n.runningVar[i] = row.reduce((a, b) => a + (b - mu) ** 2, 0) / N;
      }
    }
    const evaluated = feedforward(fresh, w2, jsKernels).data;
    ref.forEach((v, i) => expect(evaluated[i]).toBeCloseTo(v, 12));
  });

  it('--early-stop keeps the best epoch: copyWeights copies γ, β and the running statistics', () => {
    const a = Network.create(dense, 'xavier', new Rng(2), 'float32'),
      b = Network.create(dense, 'xavier', new Rng(3), 'float32');
    a.norm[1]!.runningMean.fill(0.5);
    a.norm[2]!.runningVar.fill(2);
    a.norm[2]!.params.fill(0.25);
    copyWeights(a, b);
    expect(Array.from(b.norm[1]!.runningMean)).toEqual(Array.from(a.norm[1]!.runningMean));
    expect(Array.from(b.norm[2]!.runningVar)).toEqual(Array.from(a.norm[2]!.runningVar));
    expect(Array.from(b.norm[2]!.params)).toEqual(Array.from(a.norm[2]!.params));
  });

  it('saves γ, β and the running statistics under PyTorch names and loads them back; nets without bn keep their bytes', () => {
    const net = Network.create(dense, 'xavier', new Rng(2), 'float32');
    const ws = new Workspace(net, 4);
    ws.input.data.set(x.as('float32').data);
    backprop(net, ws, y.as('float32'), new Gradients(net), jsKernels);
    const bytes = encodeSafetensors(net);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))).toString());
    expect(header.__metadata__.batch_norm).toBe('1,2');
    expect(header['bn1.running_var'].shape).toEqual([5]);
    expect(Object.keys(header).filter((k) => k.startsWith('bn2.'))).toEqual(['bn2.weight', 'bn2.bias', 'bn2.running_mean', 'bn2.running_var']);
    const back = decodeSafetensors(bytes, 'm').network;
    expect(back.arch.batchNorm).toEqual([1, 2]);
    expect(Array.from(back.norm[2]!.runningVar)).toEqual(Array.from(net.norm[2]!.runningVar));
    expect(Array.from(back.norm[1]!.params)).toEqual(Array.from(net.norm[1]!.params));
    expect(Buffer.from(encodeSafetensors(back)).equals(Buffer.from(bytes))).toBe(true);
    const plain = { ...dense, batchNorm: undefined };
    delete plain.batchNorm;
    const header2 = encodeSafetensors(Network.create(plain, 'xavier', new Rng(2)));
    expect(Buffer.from(header2).toString('latin1')).not.toMatch(/batch_norm|bn1/);
  });
});

describe('sgdStep through batch normalisation', () => {
  const conv = { ...convArchitecture(parseLayerList('conv3x3x3,pool2,5'), [1, 6, 6], 3, { activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }), batchNorm: [1, 2] };
  const dense: Architecture = { sizes: [6, 5, 4, 3], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [1, 2] };
  for (const [name, arch] of [
    ['dense', dense],
    ['conv (γ, β per channel), then dense', conv],
  ] as const)
    it(`${name}: W ← (1 − ηλ)W − η∂C/∂W, [γ; β] ← [γ; β] − η∂C/∂[γ; β] (no decay), b of a normalised layer unchanged, the others b − η∂C/∂b; gradients by centred differences`, () => {
      const rng = new Rng(21);
      const net = Network.create(arch, 'xavier', new Rng(4), 'float64');
      // γ, β off 1 and 0, and biases off 0 (b^l of a normalised layer included: it must stay as it is)
      for (const b of net.biases) for (let i = 0; i < b.length; i++) b[i] += 0.3 * rng.normal();
      const x = randomMatrix(rng, 4, arch.sizes[0]),
        y = oneHot([0, 2, 1, 2], 3);
      const before = net.clone();
      const fd = numericalGradients(before, x, y, 1e-5);
      const [lr, wd] = [0.5, 0.1];
      const ws = new Workspace(net, 4);
      ws.input.data.set(x.data);
      expect(Number.isFinite(sgdStep(net, ws, y, lr, wd, jsKernels))).toBe(true);
      for (let l = 0; l < net.weights.length; l++) {
        const W0 = before.weights[l].data;
        for (let i = 0; i < W0.length; i++) expect(net.weights[l].data[i], `W${l + 1}[${i}]`).toBeCloseTo((1 - lr * wd) * W0[i] - lr * fd.gradW[l][i], 8);
      }
      for (let k = 0; k < net.biases.length; k++) {
        const b0 = before.biases[k];
        // b^l of a batch-normalised layer: not used, ∂C/∂b^l = 0, so it stays (the differences say 0 as well)
        for (let i = 0; i < b0.length; i++) expect(net.biases[k][i], `${k < net.depth ? 'b' + (k + 1) : 'bn [γ; β]'}[${i}]`).toBeCloseTo(b0[i] - lr * fd.gradB[k][i], 8);
      }
      for (const l of arch.batchNorm!) {
        expect(Array.from(net.biases[l - 1])).toEqual(Array.from(before.biases[l - 1]));
        const g = net.norm[l]!.params;
        expect(g.some((v, i) => Math.abs(v - before.norm[l]!.params[i]) > 1e-3)).toBe(true); // the step moved γ and β
      }
    });
});

describe('train with bn', () => {
  const SMALL = ['--limit', '300', '--test-limit', '100', '--batch-size', '20', '--backend', 'js'];

  for (const optimizer of ['sgd', 'adam'])
    it(`--checkpoint and --resume end bit-identical to a straight run (${optimizer}, bn on conv and dense layers); evaluate uses the running statistics`, () => {
      const d = tmp();
      const run = ['train', '--hidden', 'conv3x3x4,bn,pool2,20,bn', ...SMALL, '--optimizer', optimizer];
      const first = cli([...run, '--epochs', '1', '--checkpoint', join(d, 'ck')]);
      expect(first.code, first.stderr).toBe(0);
      const resumed = cli(['train', '--resume', join(d, 'ck'), '--epochs', '2', '--save', join(d, 'resumed.safetensors')]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const straight = cli([...run, '--epochs', '2', '--save', join(d, 'straight.safetensors'), '--json']);
      expect(straight.code, straight.stderr).toBe(0);
      expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
      const e = cli(['evaluate', '--model', join(d, 'straight.safetensors'), '--test-limit', '100', '--json']);
      expect(e.code, e.stderr).toBe(0);
      expect(JSON.parse(e.stdout).accuracy).toBe(JSON.parse(straight.stdout).testAccuracy);
      const s = cli(['summary', '--model', join(d, 'straight.safetensors')]);
      expect(s.stdout).toMatch(/batchnorm \(γ, β: 4 each\)/);
      expect(s.stdout).toMatch(/batchnorm \(γ, β: 20 each\)/); // a conv net: its table has the type column
    }, 120_000);

  for (const optimizer of ['sgd', 'adam'])
    it(`gradcheck --train-steps: ${optimizer} parity with tfjs through bn, γ and β included`, () => {
      const r = cli(['gradcheck', '--hidden', '20,bn,15,bn', '--optimizer', optimizer, '--train-steps', '10', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout).trainParity;
      expect(p.perTensor.map((t: { name: string }) => t.name)).toContain('bn2 [γ; β]');
      expect(p.pass).toBe(true);
    }, 120_000);
});

describe('export of a bn model', () => {
  it('export --format tfjs writes BatchNormalization layers (γ, β, moving mean and variance) that tf.loadLayersModel runs to our evaluation outputs', async () => {
    const d = tmp();
    const model = join(d, 'm.safetensors');
    const t = cli(['train', '--hidden', 'conv3x3x4,bn,pool2,20,bn', '--activation', 'leaky-relu', '--limit', '300', '--test-limit', '50', '--batch-size', '20', '--epochs', '1', '--save', model]);
    expect(t.code, t.stderr).toBe(0);
    const net = decodeSafetensors(readFileSync(model), model).network;
    expect(net.norm[2]!.runningMean.some((v) => v !== 0)).toBe(true); // trained: the running statistics moved
    const out = join(d, 'tfjs');
    const r = cli(['export', '--model', model, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const { tf, model: m } = await loadTfjsExport(out);
    expect(m.layers.map((l) => l.getClassName())).toEqual([
      'Reshape',
      'Conv2D',
      'Permute',
      'BatchNormalization',
      'Permute',
      'LeakyReLU',
      'MaxPooling2D',
      'Flatten',
      'Dense',
      'BatchNormalization',
      'LeakyReLU',
      'Dense',
    ]);
    const rng = new Rng(9);
    const x = Float32Array.from({ length: 8 * 784 }, () => rng.uniform());
    const ws = new Workspace(net, 8);
    ws.input.data.set(x);
    const ours = feedforward(net, ws, jsKernels); // 10 × 8, the running statistics
    const theirs = (m.predict(tf.tensor2d(x, [8, 784])) as import('@tensorflow/tfjs').Tensor2D).arraySync();
    for (let e = 0; e < 8; e++) for (let k = 0; k < 10; k++) expect(Math.abs(theirs[e][k] - ours.get(k, e))).toBeLessThan(1e-5);
  }, 120_000);
});
