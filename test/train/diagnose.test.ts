import { describe, expect, it } from 'vitest';
import { jsKernels, type Matrix } from '../../src/linalg/index.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { crossEntropy, type Cost } from '../../src/nn/costs.js';
import { examples, type Examples } from '../../src/data/dataset.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { nonFiniteInput } from '../../src/train/diagnose.js';
import { loadData } from '../../src/data/load.js';
import { cli } from '../helpers.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
