import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { gradcheck, chooseCoords, GRADCHECK_DEFAULTS, TOLERANCES } from '../../src/check/gradcheck.js';
import { BUGS } from '../../src/check/bugs.js';
import { compare } from '../../src/check/compare.js';
import { cli, oneHot, randomMatrix } from '../helpers.js';
import { layerGeometry, layerSpecs, parseLayerList } from '../../src/nn/layers.js';

const opts = { ...GRADCHECK_DEFAULTS, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 1, tfjs: true };

describe('compare (allclose)', () => {
  it('computes max abs, max rel over non-tiny entries, tensor-level relative error and violations', () => {
    const d = compare([1.1, 2, 0], [1, 2, 1e-12], 0.05, 0);
    expect(d.maxAbs).toBeCloseTo(0.1, 12);
    expect(d.maxRel).toBeCloseTo(0.1, 12); // the 1e-12 entry is below the floor
    expect(d.tensorRel).toBeCloseTo(0.1 / Math.sqrt(5), 9);
    expect(d.violations).toBe(2); // 1.1 vs 1 and 0 vs 1e-12 (atol 0)
    expect(compare([NaN], [1], 1, 1).violations).toBe(1);
  });
  it('chooses all coordinates of small tensors and distinct sorted ones of large tensors', () => {
    expect(chooseCoords(5, 10, new Rng(1))).toEqual([0, 1, 2, 3, 4]);
    const c = chooseCoords(1000, 50, new Rng(1));
    expect(new Set(c).size).toBe(50);
    expect(c).toEqual([...c].sort((a, b) => a - b));
  });
});

describe('gradcheck', () => {
  const rng = new Rng(4);
  const net = Network.create({ sizes: [6, 5, 4, 3], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng, 'float64');
  const x = randomMatrix(rng, 4, 6); // 4 examples as rows
  const y = oneHot([0, 2, 1, 2], 3);

  it('passes the correct gradients against finite differences and tfjs', async () => {
    const r = await gradcheck(net, x, y, opts);
    expect(r.pass).toBe(true);
    expect(r.tensors.map((t) => t.name)).toEqual(['W1', 'b1', 'W2', 'b2', 'W3', 'b3']);
    for (const t of r.tensors) {
      expect(t.finiteDifferences.checked).toBe(t.size);
      expect(t.finiteDifferences.maxAbs).toBeLessThan(1e-9);
      expect(t.tfjs!.tensorRel).toBeLessThan(1e-5);
      expect(t.tfjs!.tensorRel).toBeGreaterThan(0); // float32 against float64: not bit-equal, so it really compared
      expect(t.graph!.pass).toBe(true);
      expect(t.graph!.tensorRel).toBeLessThan(1e-12);
    }
  });

  for (const bug of (Object.keys(BUGS) as (keyof typeof BUGS)[]).filter((b) => b !== 'flip-kernel'))
    it(`fails on the ${bug} bug`, async () => {
      const r = await gradcheck(net, x, y, { ...opts, method: BUGS[bug] });
      expect(r.pass).toBe(false);
      expect(r.tensors.some((t) => !t.finiteDifferences.pass)).toBe(true);
      expect(r.tensors.some((t) => !t.tfjs!.pass)).toBe(true);
      expect(r.tensors.some((t) => !t.graph!.pass)).toBe(true);
    });

  it('does not change the network it checks', async () => {
    const before = net.weights.map((w) => Array.from(w.data));
    await gradcheck(net, x, y, opts);
    expect(net.weights.map((w) => Array.from(w.data))).toEqual(before);
  });
});

describe('gradcheck on a conv net (two conv layers, max- and average pooling, padding, dense)', () => {
  const input = [2, 7, 6] as const;
  const layers = [...layerSpecs(parseLayerList('conv3x3x3p1,pool2,conv2x2x4,avgpool2')), { kind: 'dense' as const, units: 3 }];
  const arch = { sizes: layerGeometry(input, layers).sizes, activation: 'tanh' as const, outputActivation: 'softmax' as const, cost: 'log-likelihood' as const, input, layers };
  const rng = new Rng(5);
  const net = Network.create(arch, 'xavier', rng, 'float64');
  for (const b of net.biases) b.forEach((_, i) => (b[i] = 0.1 * rng.normal()));
  const x = randomMatrix(rng, 3, arch.sizes[0]);
  const y = oneHot([0, 2, 1], 3);

  it('passes against finite differences and tfjs (tf.conv2d, tf.maxPool, tf.avgPool), W as [out, in, kh, kw]; the graph engine is not asked', async () => {
    const r = await gradcheck(net, x, y, opts);
    expect(r.tensors.map((t) => [t.name, t.shape])).toEqual([
      ['W1', [3, 2, 3, 3]],
      ['b1', [3]],
      ['W2', [4, 3, 2, 2]],
      ['b2', [4]],
      ['W3', [3, 4]],
      ['b3', [3]],
    ]);
    for (const t of r.tensors) {
      expect(t.finiteDifferences.pass, t.name).toBe(true);
      expect(t.tfjs!.tensorRel, t.name).toBeLessThan(1e-5);
      expect(t.tfjs!.tensorRel, t.name).toBeGreaterThan(0);
      expect(t.graph).toBeUndefined();
    }
    expect(r.pass).toBe(true);
  });

  it('catches flip-kernel (the kernel gradient read as a convolution) on the conv layers only, with both oracles', async () => {
    const r = await gradcheck(net, x, y, { ...opts, method: BUGS['flip-kernel'] });
    expect(r.pass).toBe(false);
    expect(r.tensors.filter((t) => !t.finiteDifferences.pass).map((t) => t.name)).toEqual(['W1', 'W2']);
    expect(r.tensors.filter((t) => !t.tfjs!.pass).map((t) => t.name)).toEqual(['W1', 'W2']);
  });

  for (const bug of ['drop-fprime', 'no-mean', 'sign'] as const)
    it(`catches ${bug} on a conv net`, async () => {
      const r = await gradcheck(net, x, y, { ...opts, method: BUGS[bug] });
      expect(r.tensors.filter((t) => !t.finiteDifferences.pass).map((t) => t.name)).toContain('W1');
    });
});

describe('backprop gradcheck (CLI) on 784-30-30-10 with real digits', () => {
  for (const activation of ['sigmoid', 'relu', 'tanh'])
    for (const cost of ['quadratic', 'cross-entropy', 'log-likelihood'])
      it(`${activation} × ${cost}: every row passes, exit 0`, () => {
        const r = cli(['gradcheck', '--activation', activation, '--cost', cost, '--json']);
        expect(r.code, r.stderr).toBe(0);
        const res = JSON.parse(r.stdout);
        expect(res.architecture.sizes).toEqual([784, 30, 30, 10]);
        expect(res.pass).toBe(true);
        expect(res.tensors).toHaveLength(6);
        for (const t of res.tensors) {
          expect(t.finiteDifferences.pass && t.tfjs.pass && t.graph.pass).toBe(true);
          expect(t.finiteDifferences.checked).toBe(Math.min(t.size, 200));
        }
        expect(res.timing.parameters).toBe(24790);
        expect(res.timing.speedup).toBeGreaterThan(100);
      });

  it('a wrong gradient (f′(z) dropped) is reported as FAIL with exit code 1', () => {
    const r = cli(['gradcheck', '--activation', 'sigmoid', '--bug', 'drop-fprime']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL: W1 \(finite differences\)/);
    expect(r.stdout).toMatch(/W3[^\n]*\n[^\n]*\n\s+finite differences \(float64\).*PASS/); // the output layer is still right
  });

  for (const [name, args] of [
    ['sigmoid/quadratic', ['--activation', 'sigmoid', '--output-activation', 'sigmoid', '--cost', 'quadratic', '--lr', '3']],
    ['relu/softmax', ['--activation', 'relu', '--output-activation', 'softmax', '--cost', 'log-likelihood', '--lr', '0.1']],
  ] as const)
    it(`--train-steps 20 parity with tf.train.sgd: ${name}`, () => {
      const r = cli(['gradcheck', ...args, '--train-steps', '20', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      const p = j.trainParity;
      // The gradients are float64 on the js loops; the parity trains on --backend's provider (auto here), which it names.
      expect(j.provenance).toMatchObject({ provider: 'js', dtype: 'float64', seed: 1 });
      expect(['blas', 'tensorflow', 'wasm', 'js']).toContain(p.kernels);
      expect(p.steps).toBe(20);
      expect(p.maxWeightDiff).toBeLessThanOrEqual(1e-4);
      expect(p.pass).toBe(true);
    });

  it('parity fails when the trainer uses a wrong gradient', () => {
    const r = cli(['gradcheck', '--bug', 'sign', '--train-steps', '5', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).trainParity.pass).toBe(false);
  });

  it('checks a saved model', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-'));
    const file = `${dir}/m.safetensors`;
    expect(cli(['train', '--limit', '500', '--epochs', '1', '--hidden', '20', '--save', file]).code).toBe(0);
    const r = cli(['gradcheck', '--model', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).architecture.sizes).toEqual([784, 20, 10]);
  });
});
