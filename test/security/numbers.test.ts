import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, saveModel } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { augmentProblem, parseAugment } from '../../src/data/augment.js';
import { readCsv } from '../../src/data/csv.js';
import { ADAPTIVE_UPDATE_TOLERANCE, PARITY_TOLERANCE, parityPass } from '../../src/check/parity.js';
import { BIN, cli, needs, PYTHON, SYSTEM } from '../helpers.js';

// Class 4 of issue 26: numbers that are right, or refused with the reason.

const dir = () => mkdtempSync(join(tmpdir(), 'backprop-sec-'));
const small = () => Network.create({ sizes: [5, 3, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(3));
const dataOffset = (bytes: Uint8Array) => 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));

// The optimizer metadata train writes (src/cli/train.ts, optimizerLabel) and other multi-byte text: every residue mod 8.
const METADATA: [string, Record<string, string>][] = [
  ['momentum μ=0.9', { optimizer: 'momentum μ=0.9' }],
  ['nesterov μ=0.95', { optimizer: 'nesterov μ=0.95' }],
  ['adam β₁ β₂ ε', { optimizer: 'adam β₁=0.9 β₂=0.999 ε=1e-8' }],
  ['adamw β₁ β₂ ε, λ', { optimizer: 'adamw β₁=0.9 β₂=0.999 ε=1e-8', lr: 'η=0.001 λ=0.01' }],
  ['one 3-byte character', { note: '→' }],
  ['two 3-byte characters', { note: '→→' }],
  ['a 4-byte character', { note: '🙂' }],
];

describe(`${METADATA.length + 1} safetensors data offsets are multiples of 8 whatever the metadata`, () => {
  for (const [what, meta] of METADATA)
    it(what, () => {
      for (const dtype of ['float32', 'float64'] as const) expect(dataOffset(encodeSafetensors(small().clone(dtype), meta)) % 8).toBe(0);
    });
  it('numpy reads each saved file in place (an aligned view) and gets our weights', (ctx) => {
    needs(ctx, SYSTEM.numpy);
    const d = dir();
    const files = METADATA.map(([, meta], i) => {
      const f = join(d, `m${i}.safetensors`);
      saveModel(f, small(), meta);
      return f;
    });
    const script = `
import json, struct, sys, numpy as np
for f in sys.argv[1:]:
    b = open(f, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8 + n])
    w = h['W1']
    a = np.frombuffer(b, dtype='<f4', count=15, offset=8 + n + w['data_offsets'][0])
    assert a.flags.aligned and (8 + n) % 8 == 0, f
    print(repr(float(a[0])))
`;
    const r = spawnSync(PYTHON, ['-c', script, ...files], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const first = Math.fround(small().weights[0].data[0]);
    expect(r.stdout.trim().split('\n').map(Number)).toEqual(files.map(() => first));
  });
});

const sigmas: [string, string, RegExp | undefined][] = [
  ['σ = 1e-200 (σ² underflows: NaN images) is refused', 'elastic=34:1e-200', /elastic σ 1e-200 is below 0\.125 pixel/],
  ['σ = 0.1 (no smoothing at all) is refused', 'elastic=34:0.1', /below 0\.125/],
  ['σ = 0.125 (three taps) is taken', 'elastic=34:0.125', undefined],
  ['σ = 4 (Simard) is taken', 'elastic=34:4', undefined],
];
describe(`${sigmas.length + 1} elastic σ: usable or refused`, () => {
  for (const [what, spec, refused] of sigmas)
    it(what, () => {
      if (refused) expect(() => parseAugment(spec)).toThrow(refused);
      else expect(parseAugment(spec).elastic).toBeDefined();
    });
  it('a checkpoint recording σ = 1e-200 is refused too', () => expect(augmentProblem({ elastic: { alpha: 34, sigma: 1e-200 } })).toMatch(/below 0\.125/));
});

const csvs: [string, string, RegExp | number][] = [
  ['a hex cell (0x1F) is refused', '1,0x1F,0\n0,0,0\n', /column 2 "0x1F" is not a number \(decimal numbers only\)/],
  ['a decimal cell beyond float64 (1e400) is named out of range, not "not a number"', '1,1e400,0\n0,0,0\n', /column 2 "1e400" is out of range \(beyond ±1\.8e308\)/],
  ['a binary cell (0b1) is refused', '1,0b1,0\n0,0,0\n', /"0b1" is not a number/],
  ['an octal cell (0o7) is refused', '1,0.5,0o7\n0,0,0\n', /"0o7" is not a number/],
  ['a hex label is refused', '0x1,0.5,0\n0,0,0\n', /is not a number/],
  ['a header of column numbers 0,1,2 is refused, not trained on', '0,1,2\n1,0.5,0\n0,0,0\n', /:1: the first row 0,1,2,…,2 numbers the columns: a header/],
  ['a header of column numbers 1..785 is refused', `${Array.from({ length: 785 }, (_, i) => i + 1).join(',')}\n1,${'0,'.repeat(783)}0\n`, /numbers the columns/],
  ['a word header is skipped', 'label,a,b\n1,0.5,0\n0,0,0\n', 2],
  ['decimal forms are read: .5, 1e-1, +0.25, leading spaces', '1, .5,1e-1\n0,+0.25,0\n', 2],
  ['a first example that merely starts like 0,1 is kept', '0,1,1\n1,0,0\n', 2],
];
describe(`${csvs.length} CSV cells and headers`, () => {
  for (const [what, text, expected] of csvs)
    it(what, () => {
      const f = join(dir(), 'd.csv');
      writeFileSync(f, text);
      if (typeof expected === 'number') expect(readCsv(f).examples.count).toBe(expected);
      else expect(() => readCsv(f)).toThrow(expected);
    });
});

describe('evaluate --misclassified names classes above 255 as they are', () => {
  it('a 300-output model predicting class 299 is shown as 299, not 43', () => {
    const d = dir();
    const net = Network.create({ sizes: [4, 300], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(1));
    net.biases[0][299] = 50; // every example goes to class 299
    saveModel(join(d, 'm.safetensors'), net);
    writeFileSync(join(d, 'd.csv'), Array.from({ length: 10 }, (_, i) => `${i % 3},0.1,0.2,0.3,0.4`).join('\n') + '\n');
    const r = spawnSync(process.execPath, [BIN, 'evaluate', '--model', join(d, 'm.safetensors'), '--data', join(d, 'd.csv'), '--misclassified', '2', '--json'], {
      encoding: 'utf8',
      maxBuffer: 1 << 26, // a 300 × 300 confusion matrix
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { misclassified: { predicted: number }[] };
    expect(j.misclassified.map((w) => w.predicted)).toEqual([299, 299]);
    expect(r.stderr).toMatch(/→ 299/);
  }, 60_000);
});

const bounds: [string, Parameters<typeof parityPass>, boolean][] = [
  ['sgd: 1e-4 apart passes', ['sgd', 20, 0.1, PARITY_TOLERANCE, 1], true],
  ['sgd: 2e-4 apart fails', ['sgd', 20, 0.1, 2 * PARITY_TOLERANCE, 0], false],
  ['adam: a weight 3.8e-4 apart (a flipped near-zero step) passes when the update agrees', ['adam', 20, 0.001, 3.8e-4, 1e-5], true],
  ['adam: an update 1e-2 off fails (a wrong gradient)', ['adam', 20, 0.001, 1e-3, 1e-2], false],
  ['adamw: a weight further than 2Kη fails', ['adamw', 20, 0.001, 0.05, 0], false],
  ['adam: NaN fails', ['adam', 20, 0.001, NaN, NaN], false],
];
describe(`${bounds.length + 3} gradcheck's training parity: each rule's bound`, () => {
  for (const [what, args, pass] of bounds) it(what, () => expect(parityPass(...args).pass).toBe(pass));
  it(`the adaptive bound sits far from float32 noise (≤ 2e-5 measured) and below every bug's miss (≥ 0.59): ${ADAPTIVE_UPDATE_TOLERANCE}`, () => {
    expect(ADAPTIVE_UPDATE_TOLERANCE).toBeGreaterThanOrEqual(20 * 2e-5);
    expect(ADAPTIVE_UPDATE_TOLERANCE).toBeLessThan(0.59 / 100);
  });
  const gradcheck = (extra: string[]) => {
    const r = cli(['gradcheck', '--train-steps', '20', '--optimizer', 'adam', '--json', ...extra]);
    return { r, j: JSON.parse(r.stdout) as { pass: boolean; trainParity: { lr: number; pass: boolean } } };
  };
  it('the README command `gradcheck --train-steps 20 --optimizer adam` passes, with η = 0.001', () => {
    const { r, j } = gradcheck([]);
    expect(r.code, r.stderr).toBe(0);
    expect(j.trainParity).toMatchObject({ lr: 0.001, pass: true });
  }, 120_000);
  it('and its parity still catches --bug drop-fprime', () => {
    const { r, j } = gradcheck(['--bug', 'drop-fprime']);
    expect(r.code).toBe(1);
    expect(j.trainParity.pass).toBe(false);
  }, 120_000);
});
