import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { examples, slice, type Examples } from '../../src/data/dataset.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { getKernels, jsKernels, Matrix } from '../../src/linalg/index.js';
import { accuracy, type Progress } from '../../src/learners/learner.js';
import { RBM_DEFAULTS, RbmLearner, rbmMemory, RECONSTRUCTION_STEPS, type RbmOptions } from '../../src/learners/rbm.js';
import { filtersPng } from '../../src/report/png-grid.js';
import { Rng } from '../../src/base/rng.js';

/** A small RBM with random parameters: D image units, K classes, H hidden units. */
function randomRbm(D: number, K: number, H: number, seed: number): RbmLearner {
  const rng = new Rng(seed);
  const rbm = new RbmLearner({ hidden: H });
  rbm.dim = D;
  rbm.classes = K;
  rbm.v = Matrix.zeros(H, D + K);
  for (let i = 0; i < rbm.v.data.length; i++) rbm.v.data[i] = rng.normal();
  rbm.c = Float32Array.from({ length: H }, () => rng.normal());
  rbm.bv = Float32Array.from({ length: D + K }, () => rng.normal());
  return rbm;
}

/**
 * The whole of RbmLearner.fit written out again, plainly and in float64, from the equations of its doc comment
 * (Larochelle & Bengio 2008; Hinton's CD-k and Tieleman's persistent chains), drawing the same random numbers in the
 * same order: the weights N(0, 0.01²), the chains' examples, each epoch's shuffle, then each Bernoulli and class
 * draw (a uniform of 32 bits). Returns V, c and [b; d] after training.
 */
function referenceRbm(train: Examples, classes: number, o: RbmOptions, seed: number): { v: number[]; c: number[]; bv: number[] } {
  const rng = new Rng(seed);
  const u = () => rng.nextUint32() * 2 ** -32;
  const { hidden: H, lr, momentum: mu, weightDecay: lambda, epochs, cdK, persistent, batchSize: m } = o;
  const D = train.dim,
    n = D + classes;
  const rows = Array.from({ length: train.count }, (_, e) => [...train.features.subarray(e * D, (e + 1) * D)].concat(Array.from({ length: classes }, (_, y) => (y === train.labels[e] ? 1 : 0))));
  const row = (e: number) => rows[e].slice();
  const V = Array.from({ length: H * n }, () => 0.01 * rng.normal());
  const c = new Array<number>(H).fill(0);
  const bv = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let e = 0; e < train.count; e++) s += rows[e][i];
    const p = Math.min(0.99, Math.max(0.01, s / train.count));
    return Math.log(p / (1 - p));
  });
  const sigma = (z: number) => 1 / (1 + Math.exp(-z));
  const hiddenP = (v: number[]) => Array.from({ length: H }, (_, j) => sigma(c[j] + v.reduce((s, vi, i) => s + V[j * n + i] * vi, 0)));
  const visibleP = (h: number[]) => {
    const r = Array.from({ length: n }, (_, i) => bv[i] + h.reduce((s, hj, j) => s + hj * V[j * n + i], 0));
    const label = r.slice(D).map((z) => Math.exp(z));
    const sum = label.reduce((a, b) => a + b, 0);
    return r
      .slice(0, D)
      .map(sigma)
      .concat(label.map((z) => z / sum));
  };
  const bernoulli = (p: number[]) => p.map((pi) => (u() < pi ? 1 : 0));
  const drawVisible = (p: number[]) => {
    const x = p.slice(0, D).map((pi) => (u() < pi ? 1 : 0));
    let r = u(),
      y = classes - 1;
    for (let k = 0; k < classes; k++)
      if ((r -= p[D + k]) < 0) {
        y = k;
        break;
      }
    return x.concat(Array.from({ length: classes }, (_, k) => (k === y ? 1 : 0)));
  };
  let chains = persistent ? Array.from({ length: m }, () => row(rng.int(train.count))) : [];
  const dV = new Array<number>(H * n).fill(0),
    dc = new Array<number>(H).fill(0),
    dbv = new Array<number>(n).fill(0);
  const order = Array.from({ length: train.count }, (_, i) => i);
  for (let epoch = 0; epoch < epochs; epoch++) {
    rng.shuffle(order);
    for (let b = 0; b < Math.floor(train.count / m); b++) {
      const v0 = order.slice(b * m, b * m + m).map(row);
      const p0 = v0.map(hiddenP);
      // The negative phase: k Gibbs steps from a sample of h given the data, or given the persistent chains.
      let pk = persistent ? chains.map(hiddenP) : p0;
      let hs = pk.map(bernoulli);
      let vk: number[][] = [];
      for (let step = 1; step <= cdK; step++) {
        vk = hs.map(visibleP);
        if (persistent) vk = vk.map(drawVisible);
        pk = vk.map(hiddenP);
        if (step < cdK) hs = pk.map(bernoulli);
      }
      if (persistent) chains = vk;
      // ΔV ← μ ΔV + (η/m)(⟨h vᵀ⟩_data − ⟨h vᵀ⟩_k) − ηλV, V ← V + ΔV; the biases likewise, without decay.
      for (let j = 0; j < H; j++)
        for (let i = 0; i < n; i++) {
          let g = 0;
          for (let r = 0; r < m; r++) g += p0[r][j] * v0[r][i] - pk[r][j] * vk[r][i];
          dV[j * n + i] = mu * dV[j * n + i] + (lr / m) * g - lr * lambda * V[j * n + i];
          V[j * n + i] += dV[j * n + i];
        }
      for (let j = 0; j < H; j++) {
        dc[j] = mu * dc[j] + (lr / m) * p0.reduce((s, p, r) => s + p[j] - pk[r][j], 0);
        c[j] += dc[j];
      }
      for (let i = 0; i < n; i++) {
        dbv[i] = mu * dbv[i] + (lr / m) * v0.reduce((s, v, r) => s + v[i] - vk[r][i], 0);
        bv[i] += dbv[i];
      }
    }
  }
  return { v: V, c, bv };
}

/** Seven examples of five pixels and three classes: pixel 3 is always 0 and pixel 4 always 1 (their biases clamp). */
function tiny(): { train: Examples; test: Examples } {
  const rng = new Rng(3);
  const make = (count: number) => {
    const f = new Float32Array(count * 5);
    for (let e = 0; e < count; e++) {
      for (let i = 0; i < 3; i++) f[e * 5 + i] = Math.fround(rng.uniform());
      f[e * 5 + 4] = 1;
    }
    return examples(
      f,
      Uint8Array.from({ length: count }, (_, e) => [0, 1, 2, 1, 0, 2, 2, 1, 0][e]),
      5,
    );
  };
  return { train: make(7), test: make(9) };
}

const softplus = (z: number) => Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));

describe('classification RBM', () => {
  const ds = loadEmbedded(); // once: reading the embedded digits takes a second on a busy machine
  it('free energy equals −log Σ_h e^(−E(x, y, h)) summed over all 2^H hidden states', () => {
    const D = 6,
      K = 3,
      H = 5;
    const rbm = randomRbm(D, K, H, 3);
    const rng = new Rng(4);
    const n = 4;
    const x = Float32Array.from({ length: n * D }, () => rng.uniform());
    const ex = examples(x, new Uint8Array(n), D);
    const F = rbm.freeEnergies(ex, jsKernels);
    const V = rbm.v.data,
      N = D + K;
    for (let e = 0; e < n; e++) {
      for (let y = 0; y < K; y++) {
        // E(x, y, h) = −hᵀWx − hᵀU_y − bᵀx − d_y − cᵀh, summed over every h ∈ {0,1}^H
        let bx = 0;
        for (let i = 0; i < D; i++) bx += rbm.bv[i] * x[e * D + i];
        let z = 0;
        for (let mask = 0; mask < 1 << H; mask++) {
          let minusE = bx + rbm.bv[D + y];
          for (let j = 0; j < H; j++) {
            if (!(mask & (1 << j))) continue;
            let a = rbm.c[j] + V[j * N + D + y];
            for (let i = 0; i < D; i++) a += V[j * N + i] * x[e * D + i];
            minusE += a;
          }
          z += Math.exp(minusE);
        }
        // freeEnergies leaves out −bᵀx (the same for every class)
        expect(F[e * K + y] - bx).toBeCloseTo(-Math.log(z), 4);
      }
    }
  });

  // Digits, whose hidden units' probabilities vary with the example, so that every sample depends on what it is drawn from.
  for (const o of [
    { hidden: 5, lr: 0.05, momentum: 0.5, weightDecay: 0.05, epochs: 2, cdK: 2, persistent: false, batchSize: 3 },
    // η = 1: the weights grow within an update, the hidden units leave ½, and each sample depends on its chain
    { hidden: 5, lr: 1, momentum: 0.5, weightDecay: 0.05, epochs: 2, cdK: 2, persistent: true, batchSize: 3 },
    { hidden: 4, lr: 0.1, momentum: 0.9, weightDecay: 0.02, epochs: 3, cdK: 1, persistent: false, batchSize: 4 },
    { hidden: 4, lr: 1, momentum: 0, weightDecay: 0, epochs: 1, cdK: 3, persistent: true, batchSize: 4 },
    // At η = 1 the hidden units saturate and sampling from the data or from the chains draws the same states: PCD with
    // ηs where they do not (negative phases started from the data instead of the chains, or chains never carried over, fail these).
    { hidden: 5, lr: 0.3, momentum: 0.5, weightDecay: 0.05, epochs: 2, cdK: 1, persistent: true, batchSize: 3 },
    { hidden: 8, lr: 0.2, momentum: 0.5, weightDecay: 0, epochs: 3, cdK: 2, persistent: true, batchSize: 5 },
  ] satisfies RbmOptions[])
    it(`trains exactly as its equations written out in float64: ${o.persistent ? 'P' : ''}CD-${o.cdK}, μ = ${o.momentum}, λ = ${o.weightDecay}, m = ${o.batchSize}`, async () => {
      const train = slice(ds.train, 0, 31),
        test = slice(ds.test, 0, 20);
      const rbm = new RbmLearner(o);
      const r = await rbm.fit({ ...ds, train, test }, { kernels: jsKernels, seed: 11, budget: {}, test });
      const ref = referenceRbm(train, 10, o, 11);
      const close = (got: ArrayLike<number>, want: number[]) => {
        expect(got.length).toBe(want.length);
        const worst = want.reduce((w, x, i) => (Math.abs(got[i] - x) > Math.abs(got[w] - want[w]) ? i : w), 0);
        expect(got[worst], `entry ${worst}, the farthest`).toBeCloseTo(want[worst], 5);
      };
      close(rbm.v.data, ref.v);
      close(rbm.c, ref.c);
      close(rbm.bv, ref.bv);
      // Weight decay moves the weights well beyond the tolerance, so that a wrong sign or a dropped term shows.
      if (o.weightDecay > 0) expect(Math.max(...referenceRbm(train, 10, { ...o, weightDecay: 0 }, 11).v.map((x, i) => Math.abs(x - ref.v[i])))).toBeGreaterThan(1e-4);
      // Predictions: argmin_y F(x, y) = −d_y − Σ_j softplus(c_j + W_j x + U_jy), from the reference's parameters.
      const D = 784,
        n = 794;
      const want = Array.from({ length: test.count }, (_, e) => {
        const F = Array.from({ length: 10 }, (_, y) => {
          let f = -ref.bv[D + y];
          for (let j = 0; j < o.hidden; j++) {
            let z = ref.c[j] + ref.v[j * n + D + y];
            for (let i = 0; i < D; i++) z += ref.v[j * n + i] * test.features[e * D + i];
            f -= softplus(z);
          }
          return f;
        });
        return F.indexOf(Math.min(...F));
      });
      expect([...rbm.predict(test)]).toEqual(want);
      // Work: (1 + 2k + 1 if persistent) passes an example an update; flops 2·m·n·H for each pass and the two outer products.
      const batches = Math.floor(31 / o.batchSize),
        passes = 1 + 2 * o.cdK + (o.persistent ? 1 : 0);
      const last = r.trace[r.trace.length - 1];
      expect(last.work).toBe(o.epochs * batches * o.batchSize * passes);
      expect(last.flops).toBe(o.epochs * batches * 2 * o.batchSize * n * o.hidden * (passes + 2));
      expect(r.parametersUpdated).toBe(o.hidden * n + o.hidden + n);
      expect(r.details).toEqual({ epochs: o.epochs, updates: o.epochs * batches, 'CD steps': o.cdK, chains: o.persistent ? 'persistent' : 'from the data', 'hidden units': o.hidden });
      expect(rbm.describe()).toBe(
        `classification RBM, ${o.hidden} hidden units, ${o.persistent ? 'P' : ''}CD-${o.cdK}, η=${o.lr} μ=${o.momentum} λ=${o.weightDecay} m=${o.batchSize}, ${o.epochs} epoch${o.epochs === 1 ? '' : 's'}`,
      );
    });

  it('persistent chains on images whose every pixel varies: each chain row sampled apart from the next', async () => {
    const { train, test } = tiny();
    const o: RbmOptions = { hidden: 6, lr: 1, momentum: 0.5, weightDecay: 0, epochs: 3, cdK: 2, persistent: true, batchSize: 3 };
    const rbm = new RbmLearner(o);
    await rbm.fit({ name: 'tiny', classes: 3, train, test }, { kernels: jsKernels, seed: 2, budget: {}, test });
    const ref = referenceRbm(train, 3, o, 2);
    const worst = ref.v.reduce((w, x, i) => (Math.abs(rbm.v.data[i] - x) > Math.abs(rbm.v.data[w] - ref.v[w]) ? i : w), 0);
    expect(rbm.v.data[worst]).toBeCloseTo(ref.v[worst], 5);
  });

  it('an error inside the work is thrown on, not taken for a stop', async () => {
    const train = slice(ds.train, 0, 40),
      test = slice(ds.test, 0, 10);
    const fit = new RbmLearner({ hidden: 3, epochs: 1, batchSize: 4 }).fit(
      { ...ds, train, test },
      {
        kernels: jsKernels,
        seed: 1,
        budget: {},
        test,
        yieldMs: 0,
        onProgress: (p) => {
          if (p.done >= 3) throw new Error('broken at update 3');
        },
      },
    );
    await expect(fit).rejects.toThrow(/^broken at update 3$/);
  });

  it('describes one epoch in the singular and the defaults in full', () => {
    expect(new RbmLearner({ epochs: 1 }).describe()).toBe('classification RBM, 500 hidden units, CD-1, η=0.02 μ=0.9 λ=0.0001 m=20, 1 epoch');
    expect(new RbmLearner({ persistent: true, cdK: 5 }).describe()).toBe('classification RBM, 500 hidden units, PCD-5, η=0.02 μ=0.9 λ=0.0001 m=20, 10 epochs');
  });

  it('the visible biases start at log(p/(1 − p)) of the data means, clamped to p in [0.01, 0.99]; the hidden biases at 0', async () => {
    const { train, test } = tiny();
    const rbm = new RbmLearner({ hidden: 2, epochs: 0 });
    await rbm.fit({ name: 'tiny', classes: 3, train, test }, { kernels: jsKernels, seed: 1, budget: {}, test });
    const logit = (p: number) => Math.log(p / (1 - p));
    let mean0 = 0;
    for (let e = 0; e < 7; e++) mean0 += train.features[e * 5] / 7;
    expect(rbm.bv[0]).toBeCloseTo(logit(mean0), 6);
    expect(rbm.bv[3]).toBeCloseTo(logit(0.01), 6); // always 0
    expect(rbm.bv[4]).toBeCloseTo(logit(0.99), 6); // always 1
    expect([...rbm.bv.subarray(5)].map((b) => +b.toFixed(5))).toEqual([2 / 7, 2 / 7, 3 / 7].map((p) => +Math.fround(logit(p)).toFixed(5))); // labels 0, 0, 1, 1, 2, 2, 2
    expect([...rbm.c]).toEqual([0, 0]);
  });

  it('memory by hand: V and its velocity, the batch (capped by the training set), the chains, the free-energy block and scores, the order', () => {
    const o = { ...RBM_DEFAULTS, hidden: 3, batchSize: 2, persistent: true };
    expect(rbmMemory(o, 5, 3, 7, 4)).toEqual({
      'weights V and their velocity': 4 * 2 * 3 * 8,
      'batch: visible units v0, vk': 4 * 2 * 2 * 8,
      'batch: hidden units p0, pk, hs': 4 * 3 * 2 * 3,
      'persistent chains': 4 * 2 * 8,
      'free-energy block': 4 * 500 * (8 + 3),
      'free energies (float64)': 8 * 4 * 3,
      'training order': 4 * 7,
    });
    const capped = rbmMemory({ ...o, batchSize: 100, persistent: false }, 5, 3, 7);
    expect(capped['batch: visible units v0, vk']).toBe(4 * 2 * 7 * 8);
    expect(capped['persistent chains']).toBe(0);
    expect(capped['free energies (float64)']).toBe(8 * 10_000 * 3);
  });

  it('reconstructs the first digit of each class by k Gibbs steps v → h → v with its label clamped', () => {
    const { train } = tiny();
    const rbm = randomRbm(5, 3, 40, 8);
    (rbm.opts as RbmOptions).cdK = 3;
    rbm.bv[5 + 2] = 30; // the model itself would put every label on class 2: only the clamp keeps the true ones
    const { originals, reconstructions } = rbm.reconstruct(train, 2, jsKernels, 5);
    expect(originals.map((x) => [...x])).toEqual([0, 1].map((e) => [...train.features.subarray(e * 5, e * 5 + 5)])); // labels 0 and 1: examples 0 and 1
    const rng = new Rng(5);
    const n = 8,
      V = rbm.v.data;
    const sigma = (z: number) => 1 / (1 + Math.exp(-z));
    let v = [0, 1].map((e) => [...train.features.subarray(e * 5, e * 5 + 5), ...[0, 1, 2].map((y) => (y === train.labels[e] ? 1 : 0))]);
    for (let step = 0; step < 3; step++) {
      const hs = v
        .map((x) => Array.from({ length: 40 }, (_, j) => sigma(rbm.c[j] + x.reduce((s, xi, i) => s + V[j * n + i] * xi, 0))))
        .map((p) => p.map((pj) => (rng.nextUint32() * 2 ** -32 < pj ? 1 : 0)));
      v = hs.map((h, r) => [
        ...Array.from({ length: 5 }, (_, i) => sigma(rbm.bv[i] + h.reduce((s: number, hj, j) => s + hj * V[j * n + i], 0))),
        ...[0, 1, 2].map((y) => (y === train.labels[r] ? 1 : 0)),
      ]);
    }
    for (let r = 0; r < 2; r++) for (let i = 0; i < 5; i++) expect(reconstructions[r][i]).toBeCloseTo(v[r][i], 5);
  });

  it('reports progress by updates and measures the trace at updates 1, 2, 3, 4, 6, 8, 11, 15, 20 (×1.3)', async () => {
    const train = slice(ds.train, 0, 40),
      test = slice(ds.test, 0, 10);
    const seen: Progress[] = [];
    const r = await new RbmLearner({ hidden: 3, epochs: 2, batchSize: 4 }).fit({ ...ds, train, test }, { kernels: jsKernels, seed: 1, budget: {}, test, onProgress: (p) => seen.push(p) });
    expect(r.trace.map((p) => p.work / (4 * 3))).toEqual([0, 1, 2, 3, 4, 6, 8, 11, 15, 20]); // 4 examples × 3 passes an update
    expect(seen.map((p) => [p.done, p.total, p.unit])).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, 20, 'updates']));
  });

  it('a stop between updates ends the run there, with the updates done and no error', async () => {
    const train = slice(ds.train, 0, 40),
      test = slice(ds.test, 0, 10);
    let stop = false;
    const r = await new RbmLearner({ hidden: 3, epochs: 2, batchSize: 4 }).fit(
      { ...ds, train, test },
      { kernels: jsKernels, seed: 1, budget: {}, test, onProgress: (p) => (stop ||= p.done >= 3), shouldStop: () => stop },
    );
    expect(r.details.updates).toBe(3);
    expect(r.trace.map((p) => p.work / 12)).toEqual([0, 1, 2]); // the point due after update 3 was not measured: a signal
    expect(r.details.epochs).toBe(0);
  });

  it('predict() before fit() says so; equal free energies go to the lowest class', () => {
    expect(() => new RbmLearner().predict(slice(ds.test, 0, 1), jsKernels)).toThrow('rbm: fit() first');
    const flat = randomRbm(784, 10, 3, 1);
    flat.v.data.fill(0);
    flat.c.fill(0);
    flat.bv.fill(0); // every class the same free energy
    expect([...flat.predict(slice(ds.test, 0, 5), jsKernels)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('free energies in blocks of 500 examples: 1,100 examples give each one its own, as computed one at a time', () => {
    const rbm = randomRbm(784, 10, 4, 3);
    for (let i = 0; i < rbm.v.data.length; i++) rbm.v.data[i] *= 0.05;
    const ex = slice(ds.train, 0, 1100);
    const all = rbm.freeEnergies(ex, jsKernels);
    expect(all.length).toBe(1100 * 10);
    for (const e of [0, 499, 500, 999, 1000, 1099]) {
      const one = rbm.freeEnergies(slice(ex, e, e + 1), jsKernels);
      for (let y = 0; y < 10; y++) expect(all[e * 10 + y], `example ${e}, class ${y}`).toBeCloseTo(one[y], 4);
    }
  });

  // The reconstructions are drawn after the fit, outside its budget and its checks for a signal: with --cd-k 1000000
  // they ran 10⁶ Gibbs steps, minutes that Ctrl-C could not stop (SIGKILL).
  it('reconstructs with k = --cd-k Gibbs steps up to RECONSTRUCTION_STEPS (100), the same images as k = 100', () => {
    const { train } = tiny();
    const images = (k: number) => {
      const rbm = randomRbm(5, 3, 40, 8);
      (rbm.opts as RbmOptions).cdK = k;
      return { steps: rbm.reconstructionSteps, images: rbm.reconstruct(train, 2, jsKernels, 5).reconstructions.map((x) => [...x]) };
    };
    expect(RECONSTRUCTION_STEPS).toBe(100);
    expect(images(3).steps).toBe(3);
    expect(images(100).steps).toBe(100);
    const huge = images(1_000_000);
    expect(huge).toEqual({ steps: 100, images: images(100).images });
    expect(huge.images).not.toEqual(images(99).images); // the 100th step draws new samples: the cap is at 100, not before
  });

  it('draws min(H, maxFilters) filters; reconstructs only the classes present, up to count', () => {
    const rbm = randomRbm(5, 3, 4, 8);
    expect(rbm.filterImages(tiny().test, jsKernels, 2, 3).filters).toHaveLength(3);
    expect(rbm.filterImages(tiny().test, jsKernels, 2).filters).toHaveLength(4);
    const noOnes = examples(
      Float32Array.from({ length: 15 }, (_, i) => (i % 5) / 5),
      Uint8Array.of(2, 0, 2),
      5,
    );
    expect(rbm.reconstruct(noOnes, 5, jsKernels).originals).toHaveLength(2); // classes 0 and 2 (examples 1 and 0)
    expect(rbm.reconstruct(noOnes, 1, jsKernels).originals.map((x) => [...x])).toEqual([[...noOnes.features.subarray(5, 10)]]);
  });

  it('the label softmax stays finite for label inputs of 400 (exp(800) overflows: the largest is subtracted first)', () => {
    const rbm = randomRbm(5, 3, 2, 4);
    rbm.bv.set([400, 399, 0], 5);
    const r = Matrix.zeros(1, 8);
    rbm.visibleProbs(Matrix.zeros(1, 2), r, jsKernels); // h = 0: the inputs are the biases
    const e1 = Math.exp(-1);
    expect([...r.data.subarray(5)].map((x) => +x.toFixed(6))).toEqual([1 / (1 + e1), e1 / (1 + e1), 0].map((x) => +Math.fround(x).toFixed(6)));
  });

  it('learns the digits by CD-1 alone: ≥ 85% on held-out digits from 2,000 training digits', async () => {
    const kernels = await getKernels('auto');
    const small = { ...ds, train: slice(ds.train, 0, 2000), test: slice(ds.test, 0, 500) };
    const rbm = new RbmLearner({ hidden: 200, epochs: 3 });
    const r = await rbm.fit(small, { kernels, seed: 1, budget: {}, test: small.test });
    expect(r.trace[0].testAccuracy).toBeLessThan(0.3); // before training: chance
    const acc = accuracy(rbm.predict(small.test), small.test);
    expect(acc).toBe(r.trace[r.trace.length - 1].testAccuracy);
    expect(acc).toBeGreaterThanOrEqual(0.85);
    expect(r.trace[r.trace.length - 1].work).toBe(3 * 2000 * 3); // 3 epochs of 2,000; CD-1: 1 + 2k = 3 passes an example
    expect(r.parametersUpdated).toBe(200 * 794 + 200 + 794);
  });

  it('the same seed gives the same weights', async () => {
    const small = { ...ds, train: slice(ds.train, 0, 200), test: slice(ds.test, 0, 50) };
    const fit = async (seed: number, persistent: boolean) => {
      const rbm = new RbmLearner({ hidden: 16, epochs: 2, cdK: 2, persistent });
      await rbm.fit(small, { kernels: jsKernels, seed, budget: {}, test: small.test });
      return rbm.v.data;
    };
    expect(await fit(5, true)).toEqual(await fit(5, true));
    expect(await fit(5, false)).not.toEqual(await fit(6, false));
  });

  it('draws the filters as 28×28 tiles of the weights, then digits over their reconstructions', async () => {
    const rbm = randomRbm(784, 10, 12, 9);
    const test = slice(ds.test, 0, 100);
    const png = PNG.sync.read(filtersPng(rbm.filterImages(test, jsKernels), [28, 28]));
    // 12 filters on 10 per row → 2 rows; then 10 originals and 10 reconstructions: 4 rows of 29 pixels, 2 gaps of 4, 1 border
    expect([png.width, png.height]).toEqual([10 * 29 + 1, 4 * 29 + 1 + 2 * 4]);
    // Filter 3's brightest and darkest weights are white and black (each tile uses its own contrast)
    const w = rbm.v.data.subarray(3 * 794, 3 * 794 + 784);
    const hi = w.indexOf(Math.max(...w)),
      lo = w.indexOf(Math.min(...w));
    const px = (i: number) => png.data[4 * ((1 + Math.floor(i / 28)) * png.width + 1 + 3 * 29 + (i % 28))];
    expect([px(hi), px(lo)]).toEqual([255, 0]);
  });
});
