// compare's activation histograms: unbounded activations (ReLU) on symlog bins shared by the histogram at
// initialisation and after training, with the activations exactly 0 (units off, dead units) counted apart and drawn
// as a bar at 0; captions that say what was measured; a row of histograms that fits the page.
import { describe, expect, it } from 'vitest';
import type { CompareRun } from '../../src/analysis/compare.js';
import { symlogBins, type LayerStats } from '../../src/analysis/layers.js';
import { renderSvg } from '../../src/report/charts.js';
import { compareCharts, histogramRows } from '../../src/report/compare-charts.js';
import { trainingCharts } from '../../src/report/training.js';

describe('symlogBins', () => {
  it('bins t = sign(a)·ln(1 + |a|) in steps of 0.1 from t = 0, the exact zeros apart (computed by hand)', () => {
    // t: 0.05 → 0.0488 (bin 0), 1 → 0.693 (6), 3 → 1.386 (13), −0.5 → −0.405 (−5), 20 → 3.045 (30)
    const b = symlogBins([0, 0.05, 1, 0, 3, -0.5, 20]);
    expect(b.zeros).toBe(2);
    expect(b.first).toBe(-5);
    expect(b.counts).toHaveLength(36);
    const at = (k: number) => b.counts[k - b.first];
    expect([at(-5), at(0), at(6), at(13), at(30)]).toEqual([1, 1, 1, 1, 1]);
    expect(b.counts.reduce((s, c) => s + c, 0)).toBe(5);
    expect(symlogBins([0, 0, 0])).toEqual({ step: 0.1, first: 0, counts: [], zeros: 3 });
  });
});

describe('histogramRows', () => {
  const base = { activation: 'relu', layer: 'layer 1' };
  it('gives the initial and the trained ReLU histogram the same bin edges, and the share exactly at 0 as its own row', () => {
    const initial = [0, 0, 0.2, 0.4, 0.9, 1.3];
    const trained = [0, 0, 0, 0, 0.3, 2.5, 7, 40];
    const h = (a: number[]) => ({ lo: 0, hi: Math.max(...a), counts: [], symlog: symlogBins(a) });
    const rows = [...histogramRows({ ...h(initial), counts: [6] }, { ...base, when: 'at initialisation' }), ...histogramRows({ ...h(trained), counts: [8] }, { ...base, when: 'after training' })] as {
      kind: string;
      a: number;
      y: number;
      when: string;
    }[];
    // every step edge is e^(k/10) − 1 for a whole k: one grid for both
    for (const r of rows.filter((r) => r.kind === 'step')) expect(Math.abs(Math.log1p(r.a) * 10 - Math.round(Math.log1p(r.a) * 10))).toBeLessThan(1e-9);
    const zero = rows.filter((r) => r.kind === 'zero');
    expect(zero.map((r) => [r.when, r.a, r.y])).toEqual([
      ['at initialisation', 0, 2 / 6],
      ['after training', 0, 4 / 8],
    ]);
    // the shares of the steps and of the zeros add up to the whole batch
    const trainedSteps = rows.filter((r) => r.kind === 'step' && r.when === 'after training');
    expect(trainedSteps.slice(0, -1).reduce((s, r) => s + r.y, 0) + 4 / 8).toBeCloseTo(1, 12);
  });

  it('keeps densities over the range for a bounded activation', () => {
    const rows = histogramRows({ lo: 0, hi: 1, counts: [1, 3] }, { ...base, activation: 'sigmoid', when: 'after training' }) as { kind: string; a: number; y: number }[];
    expect(rows.map((r) => [r.kind, r.a, r.y])).toEqual([
      ['step', 0, 0.5],
      ['step', 0.5, 1.5],
      ['step', 1, 1.5],
    ]);
  });
});

/** A compare run of `hidden` layers with the given speeds at initialisation and histograms of `a`. */
function run(activation: string, speeds: number[], a: number[][]): CompareRun {
  const stats = (a: number[][]): LayerStats[] =>
    speeds.map((speed, i) => ({
      layer: i + 1,
      hidden: true,
      activation,
      speed,
      gradW: speed,
      meanAbsZ: 1,
      dead: 0,
      histogram: { lo: 0, hi: Math.max(1, ...a[i]), counts: [a[i].length], symlog: symlogBins(a[i]) },
    }));
  return {
    activation,
    init: 'he',
    lr: 0.1,
    sizes: [784, ...speeds.map(() => 30), 10],
    snapshots: [{ step: 0, epoch: 0, testLoss: 2, testAccuracy: 0.1, layers: stats(a) }],
    initial: stats(a),
    final: stats(a.map((x) => x.map((v) => v * 3))),
  } as CompareRun;
}

describe('the compare charts', () => {
  const runs = [
    run('sigmoid', [0.102, 0.466, 0.932, 1.61], [[0.1], [0.2], [0.3], [0.4]]),
    run(
      'relu',
      [0.728, 0.849, 1.07, 1.4],
      [
        [0, 1],
        [0, 2],
        [0, 3],
        [0, 4],
      ],
    ),
  ];
  it('says by how much the first layer is slower, measured, instead of "orders of magnitude"', () => {
    const caption = compareCharts(runs).find((c) => c.id === 'learning-speed')!.caption;
    expect(caption).not.toMatch(/orders of magnitude/);
    expect(caption).toContain('layer 1 learns at 0.063× the speed of layer 4 with sigmoid, 0.52× with relu');
  });

  it('draws a histogram row of 4 hidden layers within the page (1,100 pixels less padding)', async () => {
    const svg = await renderSvg(compareCharts(runs).find((c) => c.id === 'histograms')!.spec);
    expect(Number(/width="([\d.]+)"/.exec(svg)![1])).toBeLessThanOrEqual(1068);
  });
});

describe('the train report', () => {
  const history = [1, 2, 3, 4].map((epoch) => ({
    epoch,
    loss: 1 / epoch,
    trainAccuracy: 0.8,
    lr: 0.2,
    validationLoss: [0.5, 0.3, 0.35, 0.4][epoch - 1],
    validationAccuracy: 0.9,
    testLoss: 0.4,
    testAccuracy: 0.9,
    seconds: 1,
  }));
  it('marks the epoch early stopping kept, and writes η as plain numbers', async () => {
    const charts = trainingCharts(history, undefined, 2);
    const curves = await renderSvg(charts[0].spec);
    expect(curves).toContain('kept: epoch 2');
    expect(charts[0].caption).toContain('here those of epoch 2');
    expect(await renderSvg(trainingCharts(history)[0].spec)).not.toContain('kept: epoch');
    const eta = await renderSvg(charts.find((c) => c.id === 'learning-rate')!.spec);
    expect(eta).toContain('>0.2<');
    expect(eta).not.toMatch(/\de-\d/);
  });
});
