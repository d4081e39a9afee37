import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { parseLayerList } from '../../src/nn/layers.js';
import { convArchitecture, Network, type Architecture } from '../../src/nn/network.js';
import { copyInitialWeights, initFromMismatch } from '../../src/train/init-from.js';
import { newRecord, recordFlags, runRecordProblem } from '../../src/train/settings.js';

const dense: Architecture = { sizes: [6, 5, 4, 3], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [1] };
const conv: Architecture = {
  ...convArchitecture(parseLayerList('conv3x3x3,pool2,7'), [1, 6, 6], 3, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }),
  batchNorm: [1, 2],
};

/** A network whose every number, running statistics included, is drawn from the seed. */
function filled(arch: Architecture, seed: number, dtype: 'float32' | 'float64' = 'float32'): Network {
  const rng = new Rng(seed);
  const net = Network.create(arch, 'he', rng, dtype);
  for (const b of net.biases) for (let i = 0; i < b.length; i++) b[i] = rng.normal();
  for (const r of net.running())
    for (let i = 0; i < r.mean.length; i++) {
      r.mean[i] = rng.normal();
      r.variance[i] = 1 + rng.uniform();
    }
  return net;
}

describe('--init-from: which models can start a run', () => {
  it('the same architecture: no mismatch, with or without --reinit-output', () => {
    expect(initFromMismatch(dense, { ...dense }, false)).toBeUndefined();
    expect(initFromMismatch(conv, { ...conv }, true)).toBeUndefined();
  });

  it('names the first difference, and what to give', () => {
    expect(initFromMismatch(dense, { ...dense, sizes: [6, 9, 4, 3] }, false)).toBe(
      "the model's layers are 6,5,bn,4,3, but the run asks for 6,9,bn,4,3 (give --layers 6,5,bn,4,3 to train the model's own layers)",
    );
    expect(initFromMismatch(dense, { ...dense, batchNorm: undefined }, true)).toMatch(/^the model's layers are 6,5,bn,4,3, but the run asks for 6,5,4,3 /);
    expect(initFromMismatch(dense, { ...dense, activation: 'relu' }, false)).toBe("the model's hidden activation is tanh, but the run asks for relu (give --activation tanh)");
    expect(initFromMismatch(dense, { ...dense, sizes: [6, 5, 4, 7] }, false)).toBe(
      "the model's output layer has 3 units, but the run's has 7 (the data's classes or --layers); or add --reinit-output to start a new output layer from the seed",
    );
    expect(initFromMismatch(dense, { ...dense, outputActivation: 'sigmoid', cost: 'cross-entropy' }, false)).toMatch(/output activation is softmax, but the run asks for sigmoid/);
    expect(initFromMismatch(dense, { ...dense, cost: 'quadratic' }, false)).toMatch(/trained with --cost log-likelihood, but the run asks for quadratic/);
    const convIn = { ...conv, input: [1, 8, 8] as const };
    expect(initFromMismatch(conv, convIn, false)).toMatch(/on 1×6×6 images.*on 1×8×8 images/);
  });

  it('conv nets: input shapes told apart digit by digit, the message naming both and the outputs', () => {
    const c = (input: [number, number, number]) => convArchitecture(parseLayerList('conv3x3x2,7'), input, 3, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' });
    // 1×13×8 and 11×3×8 would read alike with their dimensions run together
    expect(initFromMismatch(c([1, 13, 8]), c([11, 3, 8]), false)).toBe(
      "the model's layers are conv3x3x2,7 (on 1×13×8 images, 3 outputs), but the run asks for conv3x3x2,7 (on 11×3×8 images, 3 outputs) (give --layers conv3x3x2,7 to train the model's own layers)",
    );
  });

  it('a network without hidden layers has no hidden activation to differ in', () => {
    const flat: Architecture = { sizes: [6, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
    expect(initFromMismatch(flat, { ...flat, activation: 'tanh' }, false)).toBeUndefined();
  });

  it('--reinit-output lets the output layer differ, but not the layers below it', () => {
    expect(initFromMismatch(dense, { ...dense, sizes: [6, 5, 4, 7], outputActivation: 'sigmoid', cost: 'cross-entropy' }, true)).toBeUndefined();
    expect(initFromMismatch(dense, { ...dense, sizes: [6, 5, 5, 7] }, true)).toMatch(/layers are 6,5,bn,4,3/);
  });
});

describe('--init-from: the weights a run starts from', () => {
  it("every W, b, γ, β and running statistic is the model's (a conv net with batch normalisation, float64 model into a float32 run)", () => {
    const model = filled(conv, 1, 'float64');
    const net = filled(conv, 2);
    copyInitialWeights(model, net, false);
    for (let i = 0; i < net.weights.length; i++) {
      expect(Array.from(net.weights[i].data)).toEqual(Array.from(Float32Array.from(model.weights[i].data)));
      expect(Array.from(net.biases[i])).toEqual(Array.from(Float32Array.from(model.biases[i])));
    }
    expect(net.running()).toHaveLength(2);
    net.running().forEach((r, k) => {
      expect(Array.from(r.mean)).toEqual(Array.from(Float32Array.from(model.running()[k].mean)));
      expect(Array.from(r.variance)).toEqual(Array.from(Float32Array.from(model.running()[k].variance)));
    });
  });

  it("--reinit-output keeps the seed's W^L and b^L and takes every other layer from the model", () => {
    const model = filled(dense, 1);
    const other = { ...dense, sizes: [6, 5, 4, 7] };
    const net = filled(other, 2);
    const seedsOutput = net.clone();
    copyInitialWeights(model, net, true);
    expect(Array.from(net.weights[2].data)).toEqual(Array.from(seedsOutput.weights[2].data));
    expect(Array.from(net.biases[2])).toEqual(Array.from(seedsOutput.biases[2]));
    for (const i of [0, 1, 3]) {
      expect(Array.from(net.weights[i].data)).toEqual(Array.from(model.weights[i].data));
      expect(Array.from(net.biases[i])).toEqual(Array.from(model.biases[i]));
    }
    expect(Array.from(net.running()[0].mean)).toEqual(Array.from(model.running()[0].mean));
  });
});

describe('the new settings read back from a checkpoint or a model', () => {
  const record = newRecord({}, { data: 'embedded', arch: { sizes: [784, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, init: 'he', lr: 0.1, backend: 'js' });
  const bad = (edit: Record<string, unknown>) => runRecordProblem({ ...record, ...edit });
  it('takes good values, and names a bad one', () => {
    const initFrom = { file: 'base.safetensors', sha256: 'ab'.repeat(32), reinitOutput: true };
    expect(bad({ initFrom, valData: 'val.csv', saveEvery: 2, saveBest: 'val-accuracy', epochs: 0 })).toBeUndefined();
    expect(bad({ initFrom: { ...initFrom, sha256: 'abc' } })).toBe('options.initFrom needs a file, its sha256 (64 hex digits) and reinitOutput true or false');
    expect(bad({ initFrom: { ...initFrom, reinitOutput: 'yes' } })).toMatch(/^options\.initFrom needs/);
    expect(bad({ valData: '' })).toBe('options.valData must be a dataset name or path');
    expect(bad({ saveEvery: 0 })).toBe('options.saveEvery 0 must be a positive integer');
    expect(bad({ saveBest: 'test-accuracy' })).toBe('options.saveBest "test-accuracy" is not one of val-loss, val-accuracy');
    expect(bad({ epochs: -1 })).toBe('options.epochs -1 must be an integer ≥ 0');
  });
  it('gives the flags that train them again', () => {
    expect(recordFlags({ ...record, initFrom: { file: 'b.safetensors', sha256: '0'.repeat(64), reinitOutput: true }, valData: 'v.csv', saveEvery: 3, saveBest: 'val-loss' })).toMatchObject({
      'init-from': 'b.safetensors',
      'reinit-output': true,
      'val-data': 'v.csv',
      'save-every': 3,
      'save-best': true,
      'monitor-metric': 'val-loss',
    });
  });
});
