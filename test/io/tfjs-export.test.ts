import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { exportTfjs } from '../../src/io/tfjs-export.js';
import { BN_EPS, BN_MOMENTUM } from '../../src/nn/batchnorm.js';
import { parseLayerList } from '../../src/nn/layers.js';
import { convArchitecture, Network, type Architecture } from '../../src/nn/network.js';
import { outputs } from '../../src/train/metrics.js';
import { jsKernels } from '../../src/linalg/index.js';
import { Rng } from '../../src/base/rng.js';

// exportTfjs in-process (the CLI tests of `export --format tfjs` run dist/): each kind of layer (dense, conv with
// padding, max and average pooling, batch normalisation, leaky ReLU) loaded back into tfjs and run on inputs, whose
// outputs must be ours.

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The network with its batch-normalisation parameters and running statistics moved off their defaults. */
function build(arch: Architecture, seed: number): Network {
  const net = Network.create(arch, 'he', new Rng(seed), 'float32');
  const rng = new Rng(seed + 100);
  for (const n of net.norm) {
    if (!n) continue;
    n.params.forEach((_, i, p) => (p[i] += 0.5 * rng.normal()));
    n.runningMean.forEach((_, i, p) => (p[i] = 0.3 * rng.normal()));
    // small variances, so that ε (1e-5 here, Keras's default 1e-3) changes the outputs
    n.runningVar.forEach((_, i, p) => (p[i] = 0.002 + 0.01 * rng.uniform()));
  }
  return net;
}

async function exportAndLoad(net: Network): Promise<{ json: any; model: tf.LayersModel; out: string; files: { modelJson: string; weights: string } }> {
  const out = join(mkdtempSync(join(tmpdir(), 'backprop-tfjs-export-')), 'model');
  dirs.push(out);
  const files = await exportTfjs(net, out);
  const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
  const weightData = new Uint8Array(readFileSync(join(out, 'weights.bin'))).buffer;
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
  return { json, model, out, files };
}

/** The largest difference between tfjs's outputs and ours on random inputs (some negative, so leaky ReLU's slope shows). */
function maxDiff(net: Network, model: tf.LayersModel, seed: number): number {
  const rng = new Rng(seed);
  const n = 6,
    d = net.sizes[0];
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const theirs = (model.predict(tf.tensor2d(x, [n, d])) as tf.Tensor2D).arraySync();
  let diff = 0;
  for (let i = 0; i < n; i++) {
    const mine = outputs(net, x.subarray(i * d, (i + 1) * d), jsKernels);
    expect(theirs[i].length).toBe(mine.length);
    mine.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - theirs[i][j]))));
  }
  return diff;
}

const layerNames = (model: tf.LayersModel) => model.layers.map((l) => `${l.getClassName()}:${l.name}`);

describe('exportTfjs', () => {
  it('writes model.json (tfjs layers-model format) and weights.bin, and returns their paths', async () => {
    const net = build({ sizes: [5, 4, 3], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' }, 1);
    const { json, model, out, files } = await exportAndLoad(net);
    expect(files).toEqual({ modelJson: join(out, 'model.json'), weights: join(out, 'weights.bin') });
    expect(readdirSync(out).sort()).toEqual(['model.json', 'weights.bin']);
    expect(json.format).toBe('layers-model');
    expect(json.generatedBy).toBe('backprop');
    expect(json.convertedBy).toBeNull();
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.weightsManifest[0].weights.map((w: { name: string; shape: number[] }) => [w.name, w.shape])).toEqual([
      ['dense_1/kernel', [5, 4]],
      ['dense_1/bias', [4]],
      ['dense_2/kernel', [4, 3]],
      ['dense_2/bias', [3]],
    ]);
    expect(readFileSync(join(out, 'weights.bin')).length).toBe(4 * net.parameterCount);
    expect(layerNames(model)).toEqual(['Dense:dense_1', 'Dense:dense_2']);
    expect(model.layers.map((l) => (l.getConfig() as { activation: string }).activation)).toEqual(['sigmoid', 'softmax']);
    expect(model.inputs[0].shape).toEqual([null, 5]);
    expect(maxDiff(net, model, 2)).toBeLessThan(1e-6);
  });

  it('dense layers: tanh and linear outputs; leaky ReLU as a linear Dense and a LeakyReLU', async () => {
    for (const [activation, outputActivation] of [
      ['tanh', 'linear'],
      ['leaky-relu', 'leaky-relu'],
    ] as const) {
      const net = build({ sizes: [5, 4, 4, 2], activation, outputActivation, cost: 'quadratic' }, 3);
      const { model } = await exportAndLoad(net);
      if (activation === 'leaky-relu') {
        expect(layerNames(model)).toEqual(['Dense:dense_1', 'LeakyReLU:leaky_relu_1', 'Dense:dense_2', 'LeakyReLU:leaky_relu_2', 'Dense:dense_3', 'LeakyReLU:leaky_relu_3']);
        expect(model.layers.filter((l) => l.getClassName() === 'Dense').map((l) => (l.getConfig() as { activation: string }).activation)).toEqual(['linear', 'linear', 'linear']);
      } else expect(layerNames(model)).toEqual(['Dense:dense_1', 'Dense:dense_2', 'Dense:dense_3']);
      expect(maxDiff(net, model, 4), activation).toBeLessThan(1e-5);
    }
  });

  it('batch normalisation of dense layers: a Dense without bias, BatchNormalization (ε, Keras momentum 0.9), then the activation', async () => {
    const net = build({ sizes: [6, 5, 4, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [1] }, 5);
    const { model, json } = await exportAndLoad(net);
    expect(layerNames(model)).toEqual(['Dense:dense_1', 'BatchNormalization:batchnorm_1', 'Activation:activation_1', 'Dense:dense_2', 'Dense:dense_3']);
    const [d1, bn, act] = model.layers.map((l) => l.getConfig() as Record<string, unknown>);
    expect(d1.useBias).toBe(false);
    expect(d1.activation).toBe('linear');
    expect(act.activation).toBe('relu');
    expect(bn).toMatchObject({ axis: -1, epsilon: BN_EPS, momentum: 1 - BN_MOMENTUM });
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name).slice(0, 5)).toEqual(['dense_1/kernel', 'batchnorm_1/gamma', 'batchnorm_1/beta', 'dense_2/kernel', 'dense_2/bias']);
    expect(maxDiff(net, model, 6)).toBeLessThan(1e-5);
    // with leaky ReLU the normalised layer is followed by LeakyReLU, not an Activation
    const leaky = build({ sizes: [6, 5, 3], activation: 'leaky-relu', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [1] }, 7);
    const l = await exportAndLoad(leaky);
    expect(layerNames(l.model)).toEqual(['Dense:dense_1', 'BatchNormalization:batchnorm_1', 'LeakyReLU:leaky_relu_1', 'Dense:dense_2']);
    expect(maxDiff(leaky, l.model, 8)).toBeLessThan(1e-5);
  });

  it('conv nets: Reshape to [c, h, w], ZeroPadding2D, Conv2D (kernel [kh, kw, in, out]), pooling, Flatten, channels first', async () => {
    const rest = { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
    const arch = convArchitecture(parseLayerList('conv3x2x2p1,avgpool2,conv2x2x3,maxpool2,4'), [2, 6, 5], 3, rest);
    const net = build(arch, 9);
    const { model } = await exportAndLoad(net);
    expect(layerNames(model)).toEqual([
      'Reshape:image',
      'ZeroPadding2D:padding_1',
      'Conv2D:conv_1',
      'AveragePooling2D:pool_1',
      'Conv2D:conv_2',
      'MaxPooling2D:pool_2',
      'Flatten:flatten_2',
      'Dense:dense_3',
      'Dense:dense_4',
    ]);
    const conv1 = model.getLayer('conv_1').getConfig() as Record<string, unknown>;
    expect(conv1).toMatchObject({ filters: 2, kernelSize: [3, 2], activation: 'relu', useBias: true, dataFormat: 'channelsFirst' });
    expect(model.getLayer('pool_1').getConfig()).toMatchObject({ poolSize: [2, 2], strides: [2, 2], dataFormat: 'channelsFirst' });
    expect(maxDiff(net, model, 10)).toBeLessThan(1e-5);
  });

  it('conv nets with batch normalisation per channel (Permute, BatchNormalization on the last axis, Permute back) and leaky ReLU', async () => {
    const rest = { activation: 'leaky-relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
    const arch = { ...convArchitecture(parseLayerList('conv3x3x2,pool2'), [1, 6, 6], 3, rest), batchNorm: [1] };
    const net = build(arch, 11);
    const { model } = await exportAndLoad(net);
    expect(layerNames(model)).toEqual([
      'Reshape:image',
      'Conv2D:conv_1',
      'Permute:to_channels_last_1',
      'BatchNormalization:batchnorm_1',
      'Permute:to_channels_first_1',
      'LeakyReLU:leaky_relu_1',
      'MaxPooling2D:pool_1',
      'Flatten:flatten_1',
      'Dense:dense_2',
    ]);
    expect(model.getLayer('conv_1').getConfig()).toMatchObject({ activation: 'linear', useBias: false });
    expect(maxDiff(net, model, 12)).toBeLessThan(1e-5);
    const relu = { ...convArchitecture(parseLayerList('conv3x3x2'), [1, 5, 5], 2, { ...rest, activation: 'relu' }), batchNorm: [1] };
    const r = build(relu, 13);
    const loaded = await exportAndLoad(r);
    expect(layerNames(loaded.model)).toContain('Activation:activation_1');
    expect(maxDiff(r, loaded.model, 14)).toBeLessThan(1e-5);
  });

  it('refuses an --out that is a file, before writing anything', async () => {
    const d = mkdtempSync(join(tmpdir(), 'backprop-tfjs-export-'));
    dirs.push(d);
    const f = join(d, 'file');
    writeFileSync(f, 'x');
    await expect(exportTfjs(build({ sizes: [2, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 1), f)).rejects.toThrow(
      `--out ${f}: exists and is a file, expected a directory`,
    );
    expect(readFileSync(f, 'utf8')).toBe('x');
  });
});
