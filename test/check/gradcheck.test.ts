import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { chooseCoords, gradcheck, GRADCHECK_DEFAULTS, timeBackpropVsFiniteDifferences, TOLERANCES } from '../../src/check/gradcheck.js';
import { BUGS } from '../../src/check/bugs.js';
import { compare } from '../../src/check/compare.js';
import { backpropGradients, cli, oneHot, randomMatrix, tinyBatch, tinyNet } from '../helpers.js';
import { layerGeometry, layerSpecs, parseLayerList } from '../../src/nn/layers.js';
import { Matrix } from '../../src/linalg/index.js';

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

  // A bug that is a no-op for the chosen network would pass silently: refused instead, one line, exit 2.
  for (const args of [
    ['--bug', 'drop-fprime', '--activation', 'linear'],
    ['--bug', 'no-mean', '--batch-size', '1'],
  ])
    it(`${args.join(' ')}: refused as a bug that would change nothing, exit 2`, () => {
      const r = cli(['gradcheck', ...args, '--no-tfjs']);
      expect(r.code, r.stdout).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^backprop: error: --bug ${args[1]} would change nothing here: .*\n$`));
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

  // Found by the fourth hostile hunt: each was a false FAIL of correct gradients, or a step that made every difference 0.
  it('an untrained conv model (--epochs 0, conv biases 0): those biases are drawn off the kink and said, and the check passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gc-'));
    const file = `${dir}/z0.safetensors`;
    expect(cli(['train', '--layers', 'conv5x5x4,pool2,16', '--epochs', '0', '--limit', '300', '--test-limit', '100', '--save', file, '-q']).code).toBe(0);
    const r = cli(['gradcheck', '--model', file, '--no-tfjs', '--coords', '20', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).convBiasesDrawn).toBe(4);
    expect(r.stderr).toMatch(/^4 conv biases of the model were exactly 0 \(never trained\): drawn from N\(0, 0\.1²\)/m);
  });

  it.each([
    [['--hidden', '6,bn', '--batch-size', '1'], /^backprop: error: --batch-size 1 with batch normalisation of a dense layer: a batch of one is its own mean/],
    [['--hidden', 'conv3x3x2,bn,pool2,6,bn', '--batch-size', '1'], /^backprop: error: --batch-size 1 with batch normalisation of a dense layer/],
    [['--eps', '1e-300'], /^backprop: error: option '--eps <h>' argument '1e-300' is invalid\. expected a step of at least 1e-10/],
    [['--eps', '9e-11'], /expected a step of at least 1e-10/],
  ])('gradcheck %j is refused in one line, exit 2', (args, message) => {
    const r = cli(['gradcheck', '--no-tfjs', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("--batch-size 1 where batch norm is on conv layers only: their statistics run over the image's positions, checked and passing", () => {
    const r = cli(['gradcheck', '--no-tfjs', '--hidden', 'conv3x3x2,bn,pool2,6', '--batch-size', '1', '--coords', '10', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).batch).toBe(1);
  });
});

describe('gradcheck', () => {
  it('chooseCoords: every index of a small tensor, else `coords` distinct sorted ones in range', () => {
    expect(chooseCoords(4, 4, new Rng(1))).toEqual([0, 1, 2, 3]);
    const c = chooseCoords(50, 7, new Rng(1));
    expect(c).toHaveLength(7);
    expect(new Set(c).size).toBe(7);
    expect(c).toEqual(c.slice().sort((a, b) => a - b));
    expect(c.every((i) => i >= 0 && i < 50)).toBe(true);
    expect(chooseCoords(50, 7, new Rng(1))).toEqual(c);
  });
  const opts = { ...GRADCHECK_DEFAULTS, coords: 5, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 3, tfjs: false };
  it('reports each tensor with its shape, the entries differenced and the mean loss; passes backprop', async () => {
    const net = tinyNet('float32'),
      { x, y } = tinyBatch();
    const r = await gradcheck(net, x, y, opts);
    expect(r.pass).toBe(true);
    expect([r.parameters, r.batch]).toEqual([3 * 4 + 4 + 4 * 2 + 2, 5]);
    expect(r.loss).toBeCloseTo(backpropGradients(net.clone('float64'), x, y).total / 5, 12);
    expect(r.tensors.map((t) => [t.name, t.shape, t.size, t.finiteDifferences.checked, t.graph!.checked])).toEqual([
      ['W1', [4, 3], 12, 5, 12],
      ['b1', [4], 4, 4, 4],
      ['W2', [2, 4], 8, 5, 8],
      ['b2', [2], 2, 2, 2],
    ]);
    expect(r.tensors.every((t) => t.finiteDifferences.pass && t.graph!.pass && t.tfjs === undefined)).toBe(true);
  });
  for (const bug of (Object.keys(BUGS) as (keyof typeof BUGS)[]).filter((b) => b !== 'flip-kernel')) {
    // (flip-kernel breaks conv kernels only: test/check/gradcheck.test.ts checks it on a conv net)
    it(`fails ${bug}, on the tensors it breaks, against both finite differences and the graph`, async () => {
      const { x, y } = tinyBatch();
      const r = await gradcheck(tinyNet(), x, y, { ...opts, method: BUGS[bug] });
      expect(r.pass).toBe(false);
      const failed = r.tensors.filter((t) => !t.finiteDifferences.pass).map((t) => t.name);
      expect(r.tensors.filter((t) => !t.graph!.pass).map((t) => t.name)).toEqual(failed);
      expect(failed).toEqual(bug === 'drop-fprime' ? ['W1', 'b1'] : ['W1', 'b1', 'W2', 'b2']);
    });
  }
  it('with tfjs, its float32 gradient passes at tensor level', async () => {
    const { x, y } = tinyBatch();
    const r = await gradcheck(tinyNet(), x, y, { ...opts, tfjs: true });
    expect(r.pass).toBe(true);
    for (const t of r.tensors) {
      expect(t.tfjs!.pass).toBe(true);
      expect(t.tfjs!.checked).toBe(t.size);
      expect(t.tfjs!.tensorRel).toBeLessThan(1e-4);
    }
    const bad = await gradcheck(tinyNet(), x, y, { ...opts, tfjs: true, method: BUGS.sign });
    expect(bad.tensors.every((t) => !t.tfjs!.pass)).toBe(true);
  });
  it('timing: 2P forward passes for all of finite differences, the speedup their ratio to one backprop', () => {
    const { x, y } = tinyBatch();
    const t = timeBackpropVsFiniteDifferences(tinyNet(), x.as('float32'), y);
    expect(t.parameters).toBe(26);
    expect(t.finiteDifferencesAll).toBe(2 * 26 * t.forward);
    expect(t.speedup).toBeCloseTo(t.finiteDifferencesAll / t.backprop, 9);
    expect(t.backprop).toBeGreaterThan(0);
  });
});
describe('compare and gradcheck at their boundaries', () => {
  it('a tensor checked at every entry draws nothing from the stream (the next tensor’s picks stay those of the seed)', () => {
    for (const size of [3, 4]) {
      const rng = new Rng(1);
      expect(chooseCoords(size, 4, rng)).toEqual(Array.from({ length: size }, (_, i) => i));
      expect(rng.int(1000)).toBe(new Rng(1).int(1000));
    }
    const rng = new Rng(1);
    chooseCoords(5, 4, rng);
    expect(rng.int(1000)).not.toBe(new Rng(1).int(1000));
  });

  const opts = { ...GRADCHECK_DEFAULTS, coords: 5, ...TOLERANCES.finiteDifferences, tfTensorRel: TOLERANCES.tfjs.tensorRel, seed: 3, tfjs: true };
  it('tfjs passes up to tensorRel = tfTensorRel inclusive', async () => {
    const { x, y } = tinyBatch();
    const r = await gradcheck(tinyNet(), x, y, opts);
    const worst = Math.max(...r.tensors.map((t) => t.tfjs!.tensorRel));
    expect(worst).toBeGreaterThan(0);
    const at = await gradcheck(tinyNet(), x, y, { ...opts, tfTensorRel: worst });
    expect(at.pass).toBe(true);
    const below = await gradcheck(tinyNet(), x, y, { ...opts, tfTensorRel: worst * (1 - 1e-9) });
    expect(below.tensors.filter((t) => !t.tfjs!.pass)).toHaveLength(1);
    expect(below.pass).toBe(false);
  });

  it('a tensor failing finite differences fails the check even when the graph agrees', async () => {
    const { x, y } = tinyBatch();
    const r = await gradcheck(tinyNet(), x, y, { ...opts, tfjs: false, rtol: 0, atol: 0 });
    expect(r.tensors.every((t) => !t.finiteDifferences.pass && t.graph!.pass)).toBe(true);
    expect(r.pass).toBe(false);
  });

  it('timing: the medians are in seconds, and of real passes (a forward pass of 784-30-10 on 8 examples takes well over 10 µs)', () => {
    const { x, y } = tinyBatch();
    const small = timeBackpropVsFiniteDifferences(tinyNet(), x.as('float32'), y);
    expect(small.backprop).toBeLessThan(0.1);
    expect(small.forward).toBeLessThan(0.1);
    const rng = new Rng(3);
    const big = Network.create({ sizes: [784, 30, 10], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng);
    const t = timeBackpropVsFiniteDifferences(
      big,
      Matrix.from(
        8,
        784,
        Array.from({ length: 8 * 784 }, () => rng.uniform()),
      ),
      Matrix.from(
        10,
        8,
        Array.from({ length: 80 }, (_, i) => (i % 9 === 0 ? 1 : 0)),
      ),
    );
    expect(t.forward).toBeGreaterThan(1e-5);
    expect(t.backprop).toBeGreaterThan(1e-5);
    expect(t.parameters).toBe(784 * 30 + 30 + 30 * 10 + 10);
  });
});
describe('more edges: the graph’s sigmoid cross-entropy in log space, and the timing budget', () => {
  // "Median of repeated timings: at least 5 runs and about 0.2 s": each of the two medians runs until 0.2 s have
  // passed, or 1000 runs if those come first. Bounds from the clock alone, not from how fast this machine is.
  it('a slow pass (784-100-10 on 32 examples, > 0.5 ms) is timed for about 0.2 s per median, not 5 runs and not 1000', () => {
    const rng = new Rng(4);
    const net = Network.create({ sizes: [784, 100, 10], activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', rng);
    const x = Matrix.from(
      32,
      784,
      Array.from({ length: 32 * 784 }, () => rng.uniform()),
    );
    const y = Matrix.from(
      10,
      32,
      Array.from({ length: 320 }, (_, i) => (i % 11 === 0 ? 1 : 0)),
    );
    const t0 = performance.now();
    const t = timeBackpropVsFiniteDifferences(net, x, y);
    const wall = (performance.now() - t0) / 1000;
    expect(t.forward).toBeGreaterThan(5e-4); // so 1000 runs would take over 1.5 s
    expect(wall).toBeGreaterThanOrEqual(0.4);
    expect(wall).toBeLessThan(0.4 + 20 * (t.backprop + t.forward) + 0.5);
  });

  it('a fast pass (3-4-2 on 5 examples) stops at 1000 runs, long before 0.2 s', () => {
    const { x, y } = tinyBatch();
    const t0 = performance.now();
    const t = timeBackpropVsFiniteDifferences(tinyNet(), x, y);
    const wall = (performance.now() - t0) / 1000;
    expect(t.backprop).toBeLessThan(5e-5); // 1000 runs: under 0.05 s
    expect(wall).toBeLessThan(0.3);
  });
});
