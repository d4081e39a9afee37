import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../../src/io/safetensors.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { evaluate, outputs } from '../../src/train/metrics.js';
import { jsKernels } from '../../src/linalg/index.js';
import { cli, loadTfjsExport, needs, PYTHON, SYSTEM } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'backprop-interop-'));
const modelFile = join(dir, 'model.safetensors');
const test = loadEmbedded().test;
const FIX = fileURLToPath(new URL('../fixtures/', import.meta.url));

beforeAll(() => {
  const r = cli(['train', '--save', modelFile]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

/** Our outputs for every test digit, examples as rows. */
function ours(file = modelFile): { predictions: ArrayLike<number>; out: number[][] } {
  const { network } = loadModel(file);
  const ev = evaluate(network, test, jsKernels);
  const out = Array.from({ length: test.count }, (_, i) => outputs(network, test.features.subarray(i * 784, (i + 1) * 784), jsKernels));
  return { predictions: ev.predictions, out };
}

describe('export to TensorFlow.js', () => {
  it('tf.loadLayersModel loads a Sequential of Dense layers with the same argmax on all 2,000 test digits, outputs within 1e-5', async () => {
    const out = join(dir, 'tfjs');
    const r = cli(['export', '--model', modelFile, '--format', 'tfjs', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    // tfjs-node would read file:// URLs; plain tfjs gets the same artifacts from memory.
    const { model, json } = await loadTfjsExport(out);
    expect(json.format).toBe('layers-model');
    expect(json.modelTopology.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual(['Dense', 'Dense']);
    expect(model.layers.map((l) => (l.getConfig() as { activation: string }).activation)).toEqual(['relu', 'softmax']);
    const y = model.predict(tf.tensor2d(test.features, [test.count, 784])) as tf.Tensor2D;
    const theirs = y.arraySync();
    const mine = ours();
    let maxDiff = 0;
    theirs.forEach((row, i) => {
      const best = row.indexOf(Math.max(...row));
      expect(best).toBe(mine.predictions[i]);
      row.forEach((p, j) => (maxDiff = Math.max(maxDiff, Math.abs(p - mine.out[i][j]))));
    });
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
  });

  it('leaky ReLU becomes a Dense + LeakyReLU pair that still agrees', async () => {
    const f = join(dir, 'leaky.safetensors');
    expect(cli(['train', '--activation', 'leaky-relu', '--epochs', '1', '--hidden', '20', '--save', f]).code).toBe(0);
    const out = join(dir, 'tfjs-leaky');
    expect(cli(['export', '--model', f, '--out', out]).code).toBe(0);
    const { model } = await loadTfjsExport(out);
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Dense', 'LeakyReLU', 'Dense']);
    const theirs = (model.predict(tf.tensor2d(test.features.subarray(0, 200 * 784), [200, 784])) as tf.Tensor2D).arraySync();
    const mine = ours(f);
    theirs.forEach((row, i) => row.forEach((p, j) => expect(Math.abs(p - mine.out[i][j])).toBeLessThanOrEqual(1e-5)));
  });
});

describe('Python + numpy read the safetensors file', () => {
  it('and reproduce our predictions on all 2,000 test digits (Debian python3-numpy)', (ctx) => {
    needs(ctx, SYSTEM.numpy);
    const inputs = join(dir, 'inputs.f32');
    writeFileSync(inputs, Buffer.from(test.features.buffer, test.features.byteOffset, test.features.byteLength));
    const script = fileURLToPath(new URL('./numpy_predict.py', import.meta.url));
    const r = spawnSync(PYTHON, [script, modelFile, inputs, String(test.count), '784'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { predictions: number[]; outputs: number[][] };
    const mine = ours();
    expect(res.predictions).toEqual(Array.from(mine.predictions));
    let maxDiff = 0;
    res.outputs.forEach((row, i) => row.forEach((p, j) => (maxDiff = Math.max(maxDiff, Math.abs(p - mine.out[i][j])))));
    expect(maxDiff).toBeLessThan(1e-5);
  });
});

describe('backprop predict', () => {
  for (const [file, digit] of [
    ['digit-7.png', 7],
    ['digit-0.png', 0],
    ['digit-4.png', 4],
    ['digit-4.pgm', 4],
  ] as const)
    it(`a hand-drawn ${digit} (${file}, larger than 28×28, off-centre, black on white) is classified as ${digit}`, () => {
      const r = cli(['predict', '--model', modelFile, join(FIX, file), '--json']);
      expect(r.code, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout).predictions[0];
      expect(p.label).toBe(digit);
      expect(p.probabilities).toHaveLength(10);
      expect(p.probabilities.reduce((s: number, x: number) => s + x, 0)).toBeCloseTo(1, 5);
    });

  it('reads dataset examples by SPEC:index, marks right and wrong, and draws the input with --show', () => {
    const r = cli(['predict', '--model', modelFile, 'embedded:0', 'embedded:train:3', '--show']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/embedded:0 → 5 \(\d+\.\d%\) {2}✓ true 5/);
    expect(r.stdout.split('\n').filter((l) => /@@/.test(l)).length).toBeGreaterThan(10); // the digit, drawn
  });

  it('bad inputs are one-line errors', () => {
    const blank = join(dir, 'blank.pgm');
    writeFileSync(blank, 'P2\n3 3\n255\n255 255 255 255 255 255 255 255 255\n'.replace('3 3', '30 1') + ' 255'.repeat(21));
    for (const [args, msg] of [
      [['nope.png'], /nope\.png: no such file, and not SPEC:index/],
      [['embedded:99999'], /index 99999 is past the 2000 test examples/],
      [[join(FIX, 'make-digits.mjs')], /not a PNG or PGM image/],
      [[blank], /no ink found/],
    ] as const) {
      const r = cli(['predict', '--model', modelFile, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
  });
});

describe('backprop evaluate --misclassified', () => {
  it('shows the N worst mistakes as images with true and predicted labels', () => {
    const r = cli(['evaluate', '--model', modelFile, '--misclassified', '6', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.misclassified).toHaveLength(6);
    for (const m of res.misclassified) expect(m.trueLabel).not.toBe(m.predicted);
    const outs = res.misclassified.map((m: { trueOutput: number }) => m.trueOutput);
    expect(outs).toEqual([...outs].sort((a, b) => a - b));
    expect(r.stderr).toMatch(new RegExp(`#${res.misclassified[0].index} true ${res.misclassified[0].trueLabel} → ${res.misclassified[0].predicted}`));
  });
});
