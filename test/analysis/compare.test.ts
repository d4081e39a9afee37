import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { backprop, Gradients, Workspace } from '../../src/nn/backprop.js';
import { numericalGradients } from '../../src/check/finite-diff.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { evaluationBatch, layerStats, speedLabel, stalls } from '../../src/analysis/layers.js';
import { adviceFor } from '../../src/cli/advice.js';
import { cli, diagonalPoints, during } from '../helpers.js';
import { compareActivations } from '../../src/analysis/compare.js';
import { evaluate } from '../../src/train/metrics.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import type { Dataset } from '../../src/data/dataset.js';

describe('layer statistics', () => {
  it('speed is ‖∂C/∂b^l‖ from backprop; saturation and dead units are counted by their definitions', () => {
    const rng = new Rng(4);
    const net = Network.create({ sizes: [3, 4, 2], activation: 'relu', outputActivation: 'sigmoid', cost: 'cross-entropy' }, 'he', rng, 'float64');
    // Unit 0 of layer 1 can never fire: weights and bias pushed negative on positive inputs.
    net.weights[0].data.set([-5, -5, -5], 0);
    net.biases[0][0] = -1;
    const ws = new Workspace(net, 5);
    ws.input.data.set(Array.from({ length: 15 }, () => rng.uniform()));
    const y = Matrix.from(2, 5, [1, 0, 1, 0, 1, 0, 1, 0, 1, 0], 'float64');
    const stats = layerStats(net, { ws, y }, jsKernels, true);
    const g = new Gradients(net);
    backprop(net, ws, y, g, jsKernels);
    expect(stats[0].speed).toBeCloseTo(Math.hypot(...g.gradB[0]), 12);
    expect(stats[1].gradW).toBeCloseTo(Math.hypot(...g.gradW[1].data), 12);
    expect(stats[0].dead).toBeGreaterThanOrEqual(0.25); // unit 0 at least
    const Z = ws.z[1];
    let dead = 0;
    for (let i = 0; i < 4; i++) if ([0, 1, 2, 3, 4].every((j) => Z.get(i, j) <= 0)) dead++;
    expect(stats[0].dead).toBe(dead / 4);
    let sat = 0;
    for (const a of ws.a[2].data) if (a * (1 - a) < 0.0025) sat++;
    expect(stats[1].saturated).toBe(sat / 10);
    expect(stats[0].histogram!.counts.reduce((a, b) => a + b, 0)).toBe(20);
    expect(stats[1].outputDelta).toBeGreaterThan(0);
  });

  it('finds the layers that stopped learning, and the CLI words the advice', () => {
    const saturated = stalls([{ layer: 1, hidden: true, activation: 'sigmoid', speed: 1e-5, gradW: 0, meanAbsZ: 9, saturated: 0.95 }]);
    expect(saturated).toEqual([{ kind: 'saturated', layer: 1, activation: 'sigmoid', fraction: 0.95 }]);
    expect(adviceFor(saturated[0])).toMatch(/layer 1 \(sigmoid\): 95% of its units are saturated/);
    const dead = stalls([{ layer: 2, hidden: true, activation: 'relu', speed: 0, gradW: 0, meanAbsZ: 1, dead: 0.92 }]);
    expect(dead).toEqual([{ kind: 'dead', layer: 2, activation: 'relu', fraction: 0.92 }]);
    expect(adviceFor(dead[0])).toMatch(/92% of its units are dead/);
    expect(adviceFor(stalls([{ layer: 3, hidden: false, activation: 'sigmoid', speed: NaN, gradW: NaN, meanAbsZ: 1 }])[0])).toBe('layer 3: the gradient is NaN; the run is diverging');
    expect(stalls([{ layer: 1, hidden: true, activation: 'relu', speed: 0.1, gradW: 0, meanAbsZ: 1, dead: 0.1 }])).toEqual([]);
  });
});

describe('backprop compare', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-compare-'));
  it('sigmoid with N(0,1) init: layer 1 learns < 1/10 as fast as layer 4 at initialisation; ReLU with He init stays within 5×', () => {
    const r = cli(['compare', '--hidden', '30,30,30,30', '--epochs', '1', '--json', '--report', join(dir, 'r.html')]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    const by = Object.fromEntries(res.runs.map((x: { activation: string }) => [x.activation, x]));
    expect(by.sigmoid.init).toBe('normal');
    expect(by.relu.init).toBe('he');
    const speeds = (run: { initial: { hidden: boolean; speed: number }[] }) => run.initial.filter((l) => l.hidden).map((l) => l.speed);
    const s = speeds(by.sigmoid),
      q = speeds(by.relu);
    expect(s).toHaveLength(4);
    expect(s[0] / s[3]).toBeLessThan(0.1);
    expect(Math.max(...q) / Math.min(...q)).toBeLessThan(5);
    // the human output shows both
    expect(r.stderr).toMatch(/sigmoid init .* vanishing/);
    expect(r.stderr).toMatch(/relu init/);
    // identical batches: both runs took the same number of steps and measured at the same points
    expect(by.sigmoid.snapshots.map((x: { step: number }) => x.step)).toEqual(by.relu.snapshots.map((x: { step: number }) => x.step));
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toMatch(/<svg/);
  });

  it('--every adds measurements inside epochs; --lr and --init per activation; tanh and leaky-relu allowed', () => {
    const r = cli([
      'compare',
      '--activations',
      'tanh,leaky-relu',
      '--hidden',
      '20,20',
      '--epochs',
      '1',
      '--limit',
      '1000',
      '--every',
      '25',
      '--lr',
      'tanh=0.05,leaky-relu=0.02',
      '--init',
      'xavier',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const runs = JSON.parse(r.stdout).runs;
    expect(runs.map((x: { lr: number }) => x.lr)).toEqual([0.05, 0.02]);
    expect(runs.map((x: { init: string }) => x.init)).toEqual(['xavier', 'xavier']);
    expect(runs[0].snapshots.map((x: { step: number }) => x.step)).toEqual([0, 25, 50, 75, 100]);
    expect(runs[0].snapshots[1].layers[0].saturated).toBeDefined();
    expect(runs[1].snapshots[1].layers[0].dead).toBeDefined();
  });

  it('batch normalisation, on dense and conv layers: each run trains it, and the speed of a normalised layer is labelled ‖∂C/∂β‖', () => {
    const dense = cli(['compare', '--limit', '200', '--test-limit', '100', '--hidden', '10,bn,10', '--epochs', '1', '--eval-size', '50']);
    expect(dense.code, dense.stderr).toBe(0);
    expect(dense.stderr).not.toMatch(/error/);
    expect(dense.stdout).toMatch(/^ {2}sigmoid .*\n +layer 1 .* ‖∂C\/∂β‖ \S+ → \S+\n +layer 2 .* ‖∂C\/∂b‖ /m);
    const conv = cli(['compare', '--limit', '200', '--test-limit', '100', '--hidden', 'conv3x3x2,bn,pool2,10', '--epochs', '1', '--eval-size', '50', '--json']);
    expect(conv.code, conv.stderr).toBe(0);
    const layers = JSON.parse(conv.stdout).runs[0].initial as { layer: number; batchNorm?: boolean; speed: number }[];
    expect(layers.map((l) => [l.layer, l.batchNorm ?? false])).toEqual([
      [1, true],
      [2, false],
      [3, false],
    ]);
    expect(layers[0].speed).toBeGreaterThan(0);
  });

  it('rejects a bad activation list and per-activation values for activations not compared', () => {
    const a = cli(['compare', '--activations', 'sigmoid,softmax']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/"softmax" is not a hidden activation/);
    const b = cli(['compare', '--lr', 'tanh=0.1']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--lr tanh=0\.1: "tanh" is not one of --activations sigmoid,relu/);
  });
});

describe('backprop compare: signals stop the running network and keep the runs so far (as train and learners)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-compare-sig-'));
  // Far more epochs than run before the signal: the first network (sigmoid) is still training when it comes.
  const LONG = ['compare', '--limit', '2000', '--test-limit', '100', '--epochs', '1000', '--json'];
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    it(`${sig}: exit ${code}, the interrupted line, the tables, --json and --report of the epochs so far`, async () => {
      const report = join(dir, `${sig}.html`);
      const r = await during([...LONG, '--report', report], /^runs: /m, 1500, [sig]);
      expect(r.code, r.stderr).toBe(code);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ command: 'compare', interrupted: true, signal: sig, report });
      expect(j.runs.map((x: { activation: string; interrupted?: boolean }) => [x.activation, x.interrupted])).toEqual([['sigmoid', true]]);
      const epochs = j.runs[0].snapshots.length - 1; // snapshot 0 is the untrained network, then one per epoch
      expect(j.runs[0].snapshots.map((x: { epoch: number }) => x.epoch)).toEqual(Array.from({ length: epochs + 1 }, (_, i) => i));
      expect(epochs).toBeLessThan(1000);
      expect(r.stderr).toContain(
        `interrupted${sig === 'SIGINT' ? '' : ` by ${sig}`}: the tables show the runs that ran, as far as they got (sigmoid after ${epochs} epoch${epochs === 1 ? '' : 's'}; not run: relu)`,
      );
      expect(r.stderr).toMatch(/test accuracy and cost, side by side/);
      expect(r.stderr).not.toMatch(/error/);
      expect(readFileSync(report, 'utf8')).toMatch(/<svg/);
    }, 60_000);

  it('a second signal exits at once: no JSON, no report', async () => {
    const report = join(dir, 'twice.html');
    const r = await during([...LONG, '--report', report], /^runs: /m, 1500, ['SIGTERM', 'SIGINT']); // two different signals: the same one twice may merge while pending
    expect([130, 143], r.stderr).toContain(r.code);
    expect(r.stdout).toBe('');
    expect(existsSync(report)).toBe(false);
  }, 60_000);
});

describe('backprop train --monitor', () => {
  it('prints per-layer speed and saturation each epoch and warns when a layer stops learning', () => {
    const r = cli(['train', '--monitor', '--epochs', '1', '--activation', 'sigmoid', '--init', 'normal', '--hidden', '30', '--lr', '30', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/layers: 1: ‖∂C\/∂b‖ \d\.\de-?\d+ \d+% sat · 2: ‖∂C\/∂b‖/);
    expect(r.stderr).toMatch(/⚠ layer 1 \(sigmoid\): \d+% of its units are saturated/);
    const res = JSON.parse(r.stdout);
    expect(res.monitor).toHaveLength(2); // at initialisation and after epoch 1
    expect(res.monitor[1].warnings.length).toBeGreaterThan(0);
  });
});

describe('compareActivations in process', () => {
  const ds: Dataset = { name: 'points', classes: 2, train: diagonalPoints(new Rng(1), 8), test: diagonalPoints(new Rng(2), 6) };
  const cfg = {
    runs: [
      { activation: 'sigmoid', init: 'normal', lr: 0.5 },
      { activation: 'relu', init: 'he', lr: 0.1 },
    ] as const,
    arch: { sizes: [2, 3, 2], activation: 'sigmoid' as const, outputActivation: 'sigmoid' as const, cost: 'quadratic' as const },
    batchSize: 2,
    epochs: 2,
    every: 3,
    seed: 5,
    evalSize: 4,
    dtype: 'float64' as const,
  };

  it('measures at initialisation, every N batches and at epoch ends, on identical batches; the first snapshot is the untrained network', async () => {
    const seen: string[] = [];
    const runs = await compareActivations(ds, { ...cfg, runs: cfg.runs.map((r) => ({ ...r })) }, jsKernels, (spec, epoch) => seen.push(`${spec.activation} ${epoch}`));
    expect(seen).toEqual(['sigmoid 1', 'sigmoid 2', 'relu 1', 'relu 2']);
    for (const [i, run] of runs.entries()) {
      const spec = cfg.runs[i];
      expect([run.activation, run.init, run.lr, run.diverged]).toEqual([spec.activation, spec.init, spec.lr, undefined]);
      expect(run.sizes).toEqual([2, 3, 2]);
      // 4 batches per epoch: steps 0, 3 (every 3), 4 (epoch end), 6, 8 (epoch end; not twice)
      expect(run.snapshots.map((s) => s.step)).toEqual([0, 3, 4, 6, 8]);
      expect(run.snapshots.map((s) => s.epoch)).toEqual([0, 0.75, 1, 1.5, 2]);
      // the untrained network, drawn from the seed, measured on the evaluation batch drawn from it
      const fresh = Network.create({ sizes: [2, 3, 2], activation: spec.activation, outputActivation: 'sigmoid', cost: 'quadratic' }, spec.init, new Rng(cfg.seed), 'float64');
      const t = evaluate(fresh, ds.test, jsKernels);
      expect(run.snapshots[0].testLoss).toBe(t.loss);
      expect(run.snapshots[0].testAccuracy).toBe(t.accuracy);
      const initial = layerStats(fresh, evaluationBatch(fresh, ds.train, cfg.seed, cfg.evalSize), jsKernels, true);
      expect(run.initial).toEqual(initial);
      expect(run.snapshots[0].layers).toEqual(initial.map(({ histogram: _, ...rest }) => rest));
      expect(run.final[0].histogram).toBeDefined();
      expect(run.final[1].speed).not.toBe(run.initial[1].speed); // it trained
      expect(run.final).toHaveLength(2);
      // the batches are those of train --seed: the init stream is the seed, the shuffle stream seed + 1
      const own = Network.create({ sizes: [2, 3, 2], activation: spec.activation, outputActivation: 'sigmoid', cost: 'quadratic' }, spec.init, new Rng(cfg.seed), 'float64');
      await runTraining(new SgdTrainer(own, { lr: spec.lr, batchSize: 2, weightDecay: 0 }, jsKernels), ds.train, new Rng(cfg.seed + 1), initialState(8), { epochs: 2 });
      expect(run.final).toEqual(layerStats(own, evaluationBatch(own, ds.train, cfg.seed, cfg.evalSize), jsKernels, true));
    }
  });

  it('shouldStop (a signal): the run stops at its next epoch end or yield, marked interrupted; the runs after it never start', async () => {
    let stop = false;
    const runs = await compareActivations(ds, { ...cfg, epochs: 3, runs: cfg.runs.map((r) => ({ ...r })), shouldStop: () => stop }, jsKernels, () => (stop = true));
    expect(runs).toHaveLength(1);
    expect(runs[0].interrupted).toBe(true);
    expect(runs[0].snapshots.map((s) => s.step)).toEqual([0, 3, 4]); // epoch 1 of 3
    const own = Network.create({ sizes: [2, 3, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(cfg.seed), 'float64');
    await runTraining(new SgdTrainer(own, { lr: 0.5, batchSize: 2, weightDecay: 0 }, jsKernels), ds.train, new Rng(cfg.seed + 1), initialState(8), { epochs: 1 });
    expect(runs[0].final).toEqual(layerStats(own, evaluationBatch(own, ds.train, cfg.seed, cfg.evalSize), jsKernels, true));
    // asked before any run: the first still runs (a study of no runs has nothing to show), to its first stop; a finished run is not marked
    const first = await compareActivations(ds, { ...cfg, batchSize: 8, every: 0, epochs: 2, runs: cfg.runs.map((r) => ({ ...r })), shouldStop: () => true }, jsKernels);
    expect(first.map((r) => [r.activation, r.interrupted, r.snapshots.map((s) => s.step)])).toEqual([['sigmoid', true, [0, 1]]]);
    const done = await compareActivations(ds, { ...cfg, epochs: 1, runs: cfg.runs.map((r) => ({ ...r })), shouldStop: () => false }, jsKernels);
    expect(done.map((r) => r.interrupted)).toEqual([undefined, undefined]);
  });

  it('every = 0 measures at epoch ends only; a diverging run says where', async () => {
    const runs = await compareActivations(ds, { ...cfg, every: 0, arch: { ...cfg.arch, outputActivation: 'linear' as const }, runs: [{ activation: 'relu', init: 'normal', lr: 1e200 }] }, jsKernels);
    expect(runs[0].diverged).toMatch(/^diverged at epoch 1, batch \d+: /);
    const calm = await compareActivations(ds, { ...cfg, every: 0, epochs: 1, runs: [{ activation: 'tanh', init: 'xavier', lr: 0.1 }] }, jsKernels);
    expect(calm[0].snapshots.map((s) => s.step)).toEqual([0, 4]);
    // every 2 with 4 batches an epoch: the epoch ends are measured once, not again as 'every'
    const even = await compareActivations(ds, { ...cfg, every: 2, epochs: 2, runs: [{ activation: 'tanh', init: 'xavier', lr: 0.1 }] }, jsKernels);
    expect(even[0].snapshots.map((s) => s.step)).toEqual([0, 2, 4, 6, 8]);
  });

  // `compare --hidden 10,bn` gave "internal error: Matrix … needs NaN values": the runs were rebuilt from the hidden
  // sizes, and the bn token reached them. They now take the architecture whole, and a batch-normalised layer's speed
  // of learning is ‖∂C/∂β^l‖ (its β takes the place of b^l, which it does not have: ‖∂C/∂b^l‖ would read 0).
  it('a network with batch normalisation: each run keeps it, and its speed is ‖∂C/∂β‖ against finite differences', async () => {
    const arch = { sizes: [2, 4, 3, 2], activation: 'sigmoid' as const, outputActivation: 'sigmoid' as const, cost: 'quadratic' as const, batchNorm: [1, 2] };
    const runs = await compareActivations(ds, { ...cfg, arch, every: 0, epochs: 1, runs: [{ activation: 'tanh', init: 'xavier', lr: 0.1 }] }, jsKernels);
    expect(runs[0].diverged).toBeUndefined();
    const fresh = Network.create({ ...arch, activation: 'tanh' }, 'xavier', new Rng(cfg.seed), 'float64');
    expect(fresh.norm.filter(Boolean)).toHaveLength(2);
    const batch = evaluationBatch(fresh, ds.train, cfg.seed, cfg.evalSize);
    const x = batch.ws.input.clone();
    const numeric = numericalGradients(fresh, x, batch.y, 1e-6);
    for (const l of [1, 2]) {
      const { index, features } = fresh.norm[l]!;
      const beta = Array.from(numeric.gradB[index].subarray(features));
      expect(Math.hypot(...beta)).toBeGreaterThan(1e-4);
      expect(runs[0].initial[l - 1].speed / Math.hypot(...beta)).toBeCloseTo(1, 6);
    }
    expect(runs[0].initial[2].speed).toBeCloseTo(Math.hypot(...numeric.gradB[2]), 9); // the output layer keeps its b
    // and says so: the two normalised layers are flagged (their label ‖∂C/∂β‖), the output layer is not
    expect(runs[0].initial.map((s) => [s.batchNorm, speedLabel(s)])).toEqual([
      [true, '‖∂C/∂β‖'],
      [true, '‖∂C/∂β‖'],
      [undefined, '‖∂C/∂b‖'],
    ]);
  });
});
