import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { crossEntropy, type Cost } from '../../src/nn/costs.js';
import { examples, type Examples } from '../../src/data/dataset.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { diagnose, firstNonFinite, FLOAT32_MAX, lossBeyondRange, nonFiniteInput, runawayLoss } from '../../src/train/diagnose.js';
import { loadData } from '../../src/data/load.js';
import { cli } from '../helpers.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backprop, Gradients, Workspace } from '../../src/nn/backprop.js';

const ds = loadData({ data: 'embedded', limit: 500, testLimit: 100, seed: 1 });

async function run(arch: Omit<Architecture, 'sizes'>, lr: number, ex: Examples = ds.train, prepare: (net: Network) => Network = (n) => n) {
  const rng = new Rng(1);
  const net = prepare(Network.create({ sizes: [ex.dim, 16, 10], ...arch }, arch.activation === 'relu' ? 'he' : 'xavier', rng));
  const r = await runTraining(new SgdTrainer(net, { lr, batchSize: 32, weightDecay: 0 }, jsKernels), ex, rng, initialState(ex.count), { epochs: 3 });
  if (r.status !== 'diverged') throw new Error(`expected divergence, got ${r.status}`);
  return { r, net };
}

describe('divergence diagnosis blames the right thing', () => {
  it('a loss that rose and then went non-finite: the learning rate', async () => {
    const { r } = await run({ activation: 'sigmoid', outputActivation: 'linear', cost: 'quadratic' }, 3);
    expect(r.diagnosis).toMatchObject({ kind: 'loss-blew-up', cause: 'learning-rate' });
    expect(r.diagnosis.lastLoss!).toBeGreaterThan(2 * r.diagnosis.lowestLoss!);
    expect(r.diagnosis.message).toMatch(/^the loss blew up: it rose from \S+ at its lowest to \S+, then .+ became (NaN|-?Infinity); try a smaller learning rate, e\.g\. --lr 0\.3$/);
  });

  it('δ^L non-finite from finite z and a while the loss was fine: the cost/activation pairing, at the output layer', async () => {
    // The textbook ∇_a C = (a − y)/(a(1 − a)) times the softmax Jacobian: 0/0 once a float32 softmax output is exactly 0 or 1.
    const naive: Cost = {
      ...crossEntropy,
      delta(out, z, a, y, delta) {
        const A = a.data,
          Y = y.data,
          D = delta.data;
        for (let i = 0; i < A.length; i++) D[i] = (A[i] - Y[i]) / (A[i] * (1 - A[i]));
        out.backward(z, a, delta, delta);
      },
    };
    const { r } = await run({ activation: 'relu', outputActivation: 'softmax', cost: 'cross-entropy' }, 0.2, ds.train, (net) => {
      net.weights[1].data.forEach((v, i, W) => (W[i] = 200 * v)); // saturated outputs from the start
      return net.withCost(naive);
    });
    expect(r.diagnosis).toMatchObject({ kind: 'non-finite', cause: 'pairing', layer: 2, quantity: 'delta' });
    expect(r.diagnosis.message).toMatch(/^δ\^2 became NaN at the output layer \(cross-entropy cost after a softmax output\) from finite z\^2 and a\^2 on the first batch: /);
    expect(r.diagnosis.message).toMatch(/not the learning rate$/);
  });

  it('layer 1 overflowing float32 on huge inputs: the data', async () => {
    const huge = examples(
      ds.train.features.map((v) => (v > 0 ? 3e38 : 0)),
      ds.train.labels,
      ds.train.dim,
    );
    const { r } = await run({ activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 0.2, huge);
    expect(r.diagnosis).toMatchObject({ kind: 'non-finite', cause: 'data', layer: 1, quantity: 'z' });
    expect(r.diagnosis.message).toMatch(/^layer 1 overflowed \(z\^1 became -?Infinity\) on the first batch: the inputs reach 3\.0e\+38; scale them to \[0, 1\]$/);
  });

  it('a layer overflowing float32 from huge weights with ordinary data and a fine loss: overflow, naming the layer', async () => {
    const { r, net } = await run({ activation: 'sigmoid', outputActivation: 'softmax', cost: 'log-likelihood' }, 0.01, ds.train, (net) => {
      net.weights[1].data.fill(3e38); // σ > 0, so every z^2 = Σ 3e38 σ(z^1) + b is past float32's 3.4e38
      return net;
    });
    expect(r.diagnosis).toMatchObject({ kind: 'non-finite', cause: 'overflow', layer: 2, quantity: 'z' });
    expect(r.diagnosis.message).toMatch(
      /^layer 2 overflowed float32 \(z\^2 became -?Infinity, its weights reach \|W\| = \S+e\+3\d\) on the first batch: try a smaller learning rate, e\.g\. --lr 0\.001, or --dtype float64$/,
    );
    expect(net.weights.every((w) => w.data.every((v) => Number.isFinite(v)))).toBe(true); // the failed step changed nothing
  });

  it('non-finite inputs are found before training', () => {
    const f = new Float32Array(6);
    f[4] = NaN;
    expect(nonFiniteInput(examples(f, new Uint8Array([0, 1, 0]), 2))).toEqual({ example: 2, input: 0, value: NaN });
    expect(nonFiniteInput(ds.train)).toBeUndefined();
  });

  it('a weight decay with ηλ ≥ 1 is refused before training (it trained to 8% with exit 0), blaming λ, not the learning rate', () => {
    const r = cli(['train', '--weight-decay', '20', '--limit', '1000', '--epochs', '3', '-q']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--weight-decay 20 with η = 0\.2: each step would scale the weights by 1 − ηλ = -3; give λ < 1\/η = 5 \(e\.g\. 0\.5\)/);
    expect(r.stderr).not.toMatch(/smaller learning rate/);
  });

  it('the CLI refuses non-finite inputs before training, naming the file, with exit 2', () => {
    const d = mkdtempSync(join(tmpdir(), 'bp-diag-'));
    const rows = Array.from({ length: 20 }, (_, i) => `${i % 2},0.5,${i === 7 ? '-1e39' : '0.25'}`);
    writeFileSync(join(d, 'tiny.csv'), rows.join('\n') + '\n');
    const r = cli(['train', '--data', join(d, 'tiny.csv'), '--hidden', '3', '--epochs', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // The CSV reader's value check names the line before training's own non-finite check (tested above) would.
    expect(r.stderr).toMatch(/tiny\.csv:8: column 3 is -1e39; expected values from 0 to 1/);
  });
});

export type { Matrix };

describe('diagnose(), by hand on a planted pass', () => {
  // A 2-2-2 float64 network, linear output, quadratic cost: |W¹| reaches 2, |W²| reaches 4. One finite pass of a
  // batch of 2; each test plants the non-finite value it is about (or none) and reads the diagnosis.
  function pass(output: 'linear' | 'sigmoid' = 'linear', dtype: 'float32' | 'float64' = 'float64') {
    const net = new Network(
      { sizes: [2, 2, 2], activation: 'tanh', outputActivation: output, cost: 'quadratic' },
      [Matrix.from(2, 2, [0.5, -1, 2, 0.25], dtype), Matrix.from(2, 2, [1, -3, 0.5, -4], dtype)],
      dtype === 'float64' ? [Float64Array.from([0.1, -0.2]), Float64Array.from([0, 0.3])] : [Float32Array.from([0.1, -0.2]), Float32Array.from([0, 0.3])],
    );
    const ws = new Workspace(net, 2);
    ws.input.data.set([0.5, 1, -1, 0.25]);
    const y = Matrix.from(2, 2, [1, 0, 0, 1], dtype);
    backprop(net, ws, y, new Gradients(net), jsKernels);
    return { net, ws, y };
  }
  const flat = { first: 1, lowest: 1, last: 1 };
  const lower = 'try a smaller learning rate, e.g. --lr 0.01';

  it('a finite pass: the loss became NaN, an overflow, with no layer', () => {
    const { net, ws, y } = pass();
    expect(firstNonFinite(net, ws, y)).toBeUndefined();
    expect(diagnose(net, ws, y, {}, 0.1)).toEqual({ kind: 'non-finite', cause: 'overflow', message: `the loss became NaN: ${lower}` });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({ kind: 'non-finite', cause: 'overflow', firstLoss: 1, lowestLoss: 1, lastLoss: 1, message: `the loss became NaN: ${lower}` });
  });

  it('rising: above the first loss and more than twice the lowest, both strictly', () => {
    const { net, ws, y } = pass();
    const d = diagnose(net, ws, y, { first: 1, lowest: 1, last: 3 }, 0.1);
    expect(d).toEqual({
      kind: 'loss-blew-up',
      cause: 'learning-rate',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 3,
      message: `the loss blew up: it rose from 1.00 at its lowest to 3.00, then the loss became NaN; ${lower}`,
    });
    // not above the first, not above twice the lowest, below the first though above twice the lowest
    for (const losses of [
      { first: 3, lowest: 1, last: 3 },
      { first: 1, lowest: 1.5, last: 3 },
      { first: 5, lowest: 1, last: 3 },
    ])
      expect(diagnose(net, ws, y, losses, 0.1)).toMatchObject({ kind: 'non-finite', cause: 'overflow', message: `the loss became NaN: ${lower}` });
  });

  it('the advice: a tenth of η, or a smaller weight decay once ηλ ≥ 1 (from exactly 1)', () => {
    const { net, ws, y } = pass();
    expect(diagnose(net, ws, y, {}, 0.4, 2).message).toBe('the loss became NaN: try a smaller learning rate, e.g. --lr 0.04');
    // η/10 without binary noise: 0.7 / 10 is 0.06999999999999999, 2.5e-6 / 10 is 2.5000000000000004e-7.
    expect(diagnose(net, ws, y, {}, 0.7).message).toBe('the loss became NaN: try a smaller learning rate, e.g. --lr 0.07');
    expect(runawayLoss({}, 5e38, 2.5e-6).message).toMatch(/ --lr 2\.5e-7$/);
    // With a schedule: a tenth of --lr, not of the η the schedule had reached; and where the schedule had raised η
    // above --lr (onecycle's --div-factor 1e-300 started it at 2e+299: "try --lr 2e+298"), its flags are the cause.
    expect(runawayLoss({}, 5e38, 0.05, 0, 0.5).message).toMatch(/try a smaller learning rate, e\.g\. --lr 0\.05$/);
    expect(diagnose(net, ws, y, {}, 2e299, 0, 0.2).message).toBe('the loss became NaN: the schedule had raised η to 2.0e+299, above --lr 0.2: check its flags (--div-factor, --decay)');
    expect(runawayLoss({}, 5e38, 0.2 * (1 + 1e-15), 0, 0.2).message).toMatch(/--lr 0\.02$/); // onecycle's peak is --lr, give or take rounding
    expect(diagnose(net, ws, y, {}, 0.5, 2).message).toBe(
      'the loss became NaN: --weight-decay 2 with η = 0.5 scales W by 1 − ηλ = 0.00 each step (it must stay within (0, 1)): try a smaller --weight-decay, e.g. 0.2',
    );
    expect(diagnose(net, ws, y, {}, 1, 3).message).toBe(
      'the loss became NaN: --weight-decay 3 with η = 1 scales W by 1 − ηλ = -2.00 each step (it must stay within (0, 1)): try a smaller --weight-decay, e.g. 0.1',
    );
  });

  it('a non-finite input: the data, before anything else (even a rising loss)', () => {
    const { net, ws, y } = pass();
    ws.x.data[1] = NaN;
    ws.z[1].data[0] = Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'input', layer: 0, value: NaN });
    expect(diagnose(net, ws, y, { first: 1, lowest: 1, last: 3 }, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'data',
      layer: 0,
      quantity: 'input',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 3,
      message: 'an input of the batch is NaN: the data holds a non-finite value',
    });
  });

  it('non-finite weights of any layer, or only a bias: the learning rate, whatever the loss did', () => {
    let { net, ws, y } = pass();
    net.weights[1].data[2] = Infinity;
    ws.z[1].data[0] = NaN; // the weights are looked at first
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 2, value: Infinity });
    net.weights[0].data[0] = NaN; // a NaN weight is named as NaN (it is falsy: it once fell through to the finite biases, "W^1 became 0")
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 1, value: NaN });
    net.weights[0].data[0] = 0;
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'loss-blew-up',
      cause: 'learning-rate',
      layer: 2,
      quantity: 'weights',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message: `the loss blew up: W^2 became Infinity in the last update; ${lower}`,
    });
    ({ net, ws, y } = pass());
    net.biases[0][1] = -Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 1, value: -Infinity });
    expect(diagnose(net, ws, y, flat, 0.1).message).toBe(`the loss blew up: W^1 became -Infinity in the last update; ${lower}`);
    ({ net, ws, y } = pass());
    net.weights[0].data[0] = -Infinity;
    net.biases[0][0] = Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'weights', layer: 1, value: -Infinity });
  });

  it('z or a overflowing: the layer, its largest weight, float64 offered only for float32; the data only for layer 1 past 10⁶', () => {
    let { net, ws, y } = pass();
    ws.z[2].data[1] = -Infinity;
    ws.x.data[0] = 2e6; // huge inputs, but layer 1 is fine
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'z', layer: 2, value: -Infinity });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'overflow',
      layer: 2,
      quantity: 'z',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message: `layer 2 overflowed float64 (z^2 became -Infinity, its weights reach |W| = 4.00) while the loss was 1.00: ${lower}`,
    });
    ({ net, ws, y } = pass());
    ws.a[2].data[3] = NaN;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'a', layer: 2, value: NaN });
    expect(diagnose(net, ws, y, {}, 0.1).message).toBe(`layer 2 overflowed float64 (a^2 became NaN, its weights reach |W| = 4.00) on the first batch: ${lower}`);
    ({ net, ws, y } = pass());
    ws.a[1].data[0] = Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'a', layer: 1, value: Infinity });
    // layer 1: the inputs at 10⁶ are not yet huge; past it they are
    for (const [input, cause] of [
      [1e6, 'overflow'],
      [0.5, 'overflow'],
      [2e6, 'data'],
    ] as const) {
      ({ net, ws, y } = pass());
      ws.x.data[2] = input;
      ws.z[1].data[1] = NaN;
      const d = diagnose(net, ws, y, { first: 0.5, lowest: 0.5, last: 0.5 }, 0.1);
      expect(d).toMatchObject({ kind: 'non-finite', cause, layer: 1, quantity: 'z' });
      expect(d.message).toBe(
        cause === 'data'
          ? 'layer 1 overflowed (z^1 became NaN) while the loss was 0.500: the inputs reach 2.0e+6; scale them to [0, 1]'
          : `layer 1 overflowed float64 (z^1 became NaN, its weights reach |W| = 2.00) while the loss was 0.500: ${lower}`,
      );
    }
    ({ net, ws, y } = pass('linear', 'float32'));
    ws.z[2].data[0] = Infinity;
    expect(diagnose(net, ws, y, {}, 0.1).message).toBe(`layer 2 overflowed float32 (z^2 became Infinity, its weights reach |W| = 4.00) on the first batch: ${lower}, or --dtype float64`);
  });

  it('a non-finite cost or δ^L from finite z and a: the pairing; δ below the output: overflow through the next weights', () => {
    let { net, ws, y } = pass();
    ws.z[2].data[0] = ws.a[2].data[0] = 1e200; // finite, but ½(a − y)² is not
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'cost', layer: 2, value: Infinity });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'pairing',
      layer: 2,
      quantity: 'cost',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message:
        'the cost became Infinity at the output layer (quadratic cost after a linear output) from finite z^2 and a^2 while the loss was 1.00: a numerical fault of this cost/activation pairing, not the learning rate',
    });
    ({ net, ws, y } = pass('sigmoid'));
    ws.delta[2].data[1] = NaN;
    ws.delta[1].data[0] = Infinity; // δ^L is computed first
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'delta', layer: 2, value: NaN });
    expect(diagnose(net, ws, y, {}, 0.1)).toMatchObject({
      cause: 'pairing',
      message:
        'δ^2 became NaN at the output layer (quadratic cost after a sigmoid output) from finite z^2 and a^2 on the first batch: a numerical fault of this cost/activation pairing, not the learning rate',
    });
    ({ net, ws, y } = pass());
    ws.delta[1].data[3] = -Infinity;
    expect(firstNonFinite(net, ws, y)).toEqual({ quantity: 'delta', layer: 1, value: -Infinity });
    expect(diagnose(net, ws, y, flat, 0.1)).toEqual({
      kind: 'non-finite',
      cause: 'overflow',
      layer: 1,
      quantity: 'delta',
      firstLoss: 1,
      lowestLoss: 1,
      lastLoss: 1,
      message: `δ^1 overflowed float64 back-propagating through W^2 (|W| up to 4.00; δ^1 became -Infinity) while the loss was 1.00: ${lower}`,
    });
  });

  it('numbers in messages: 3 significant digits, exponential from 10⁵ and below 10⁻³ (0 as 0.00)', () => {
    const { net, ws, y } = pass();
    ws.z[2].data[0] = NaN;
    const shown = (last: number) => /while the loss was (\S+):/.exec(diagnose(net, ws, y, { first: last, lowest: last, last }, 0.1).message)![1];
    expect([1e5, 99999, 0.5, 1e-3, 2e-4, 0, -0.25].map(shown)).toEqual(['1.0e+5', '1.00e+5', '0.500', '0.00100', '2.0e-4', '0.00', '-0.250']);
  });
});

describe('a float64 run whose loss leaves float32’s range', () => {
  const net64 = Network.create({ sizes: [2, 2], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' }, 'normal', new Rng(1), 'float64');
  const net32 = Network.create({ sizes: [2, 2], activation: 'linear', outputActivation: 'linear', cost: 'quadratic' }, 'normal', new Rng(1));

  it('diverges past the largest float32 (3.4028235e38), either sign, in float64 only', () => {
    expect(FLOAT32_MAX).toBe(2 ** 128 - 2 ** 104);
    expect([lossBeyondRange(net64, 3.5e38), lossBeyondRange(net64, -3.5e38), lossBeyondRange(net64, FLOAT32_MAX), lossBeyondRange(net64, 1e30)]).toEqual([true, true, false, false]);
    expect(lossBeyondRange(net32, 3.5e38)).toBe(false); // float32 overflows on its own, to Infinity
  });

  it('blames the learning rate, or the weight decay once ηλ ≥ 1, with the losses it saw', () => {
    expect(runawayLoss({ first: 2.5, lowest: 0.125, last: 7 }, 4e39, 0.5)).toEqual({
      firstLoss: 2.5,
      lowestLoss: 0.125,
      lastLoss: 7,
      kind: 'loss-blew-up',
      cause: 'learning-rate',
      message: "the loss blew up: it rose from 0.125 at its lowest to 4.0e+39, beyond float32's range (3.4e+38), where a float32 run overflows; try a smaller learning rate, e.g. --lr 0.05",
    });
    expect(runawayLoss({}, 5e38, 0.5, 2).message).toBe(
      "the loss blew up: it is 5.0e+38 on the first batch, beyond float32's range (3.4e+38), where a float32 run overflows; try a smaller --weight-decay, e.g. 0.2",
    );
    expect(runawayLoss({}, 5e38, 4, 0.25).message).toMatch(/try a smaller --weight-decay, e\.g\. 0\.025$/); // ηλ = 1 exactly
    expect(runawayLoss({}, 5e38, 4, 0.2).message).toMatch(/try a smaller learning rate, e\.g\. --lr 0\.4$/);
  });
});
