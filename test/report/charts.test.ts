import { describe, expect, it } from 'vitest';
import type { CompareRun } from '../../src/analysis/compare.js';
import type { LayerStats } from '../../src/analysis/layers.js';
import { ACTIVATION_COLORS, decades, integerTicks, layerPalette, powerOfTen, renderSvg, type VlSpec } from '../../src/report/charts.js';
import { compareCharts } from '../../src/report/compare-charts.js';

const luminance = (hex: string) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

describe('chart helpers', () => {
  it('integer ticks in steps of 1, 2, 5, 10, …', () => {
    expect(integerTicks(3)).toEqual([0, 1, 2, 3]);
    expect(integerTicks(2.4)).toEqual([0, 1, 2, 3]);
    expect(integerTicks(0.2)).toEqual([0, 1]);
    expect(integerTicks(25)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(integerTicks(100)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  });

  it('decades and their labels', () => {
    expect(decades(0.003, 2)).toEqual([-3, -2, -1, 0, 1]);
    expect(decades(1, 10)).toEqual([0, 1]);
    expect(decades(5, 5)).toEqual([0, 1]);
    expect([-12, -1, 0, 1, 2].map(powerOfTen)).toEqual(['10⁻¹²', '10⁻¹', '1', '10', '10²']);
  });

  it('an ordered layer palette: darkest first, lighter with depth, never an activation colour', () => {
    for (const n of [1, 2, 4, 9]) {
      const p = layerPalette(n);
      expect(p).toHaveLength(n);
      for (let i = 1; i < n; i++) expect(luminance(p[i])).toBeGreaterThan(luminance(p[i - 1]));
      for (const c of p) expect(Object.values(ACTIVATION_COLORS)).not.toContain(c);
    }
    expect(new Set(Object.values(ACTIVATION_COLORS)).size).toBe(Object.keys(ACTIVATION_COLORS).length);
  });
});

/** Two small made-up runs: enough for every chart. */
function stats(activation: string, speed: number, extra: Partial<LayerStats>, histogram = false): LayerStats[] {
  const h = histogram ? { histogram: { lo: 0, hi: activation === 'relu' ? 3 : 1, counts: [5, 1, 1, 3] } } : {};
  return [
    { layer: 1, hidden: true, activation, speed, gradW: 1, meanAbsZ: 1, ...extra, ...h },
    { layer: 2, hidden: true, activation, speed: speed * 4, gradW: 1, meanAbsZ: 1, ...extra, ...h },
    { layer: 3, hidden: false, activation: 'sigmoid', speed: 1, gradW: 1, meanAbsZ: 1, outputDelta: 1 },
  ];
}
function run(activation: string, kind: 'saturated' | 'dead'): CompareRun {
  const snapshots = [0, 0.5, 1, 1.5, 2].map((epoch, i) => ({
    step: i * 10,
    epoch,
    testLoss: 2 / (i + 1),
    testAccuracy: 0.1 + 0.2 * i,
    layers: stats(activation, 0.01 * (i + 1), { [kind]: 0.1 * i }),
  }));
  return {
    activation: activation as CompareRun['activation'],
    init: 'he',
    lr: 0.1,
    sizes: [4, 3, 3, 2],
    snapshots,
    initial: stats(activation, 0.01, { [kind]: 0 }, true),
    final: stats(activation, 0.05, { [kind]: 0.4 }, true),
  };
}
const RUNS = [run('sigmoid', 'saturated'), run('relu', 'dead')];

/** Every object in a spec, depth first. */
function* nodes(x: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(x)) for (const y of x) yield* nodes(y);
  else if (x && typeof x === 'object') {
    yield x as Record<string, unknown>;
    for (const y of Object.values(x)) yield* nodes(y);
  }
}

describe("compare's charts", () => {
  const charts = compareCharts(RUNS);

  it('one colour per activation in every chart, the fixed one', () => {
    let seen = 0;
    for (const c of charts)
      for (const n of nodes(c.spec)) {
        if (n.field !== 'activation' || !n.scale) continue;
        const { domain, range } = n.scale as { domain: string[]; range: string[] };
        domain.forEach((a, i) => expect(range[i]).toBe(ACTIVATION_COLORS[a]));
        seen++;
      }
    expect(seen).toBeGreaterThanOrEqual(2);
  });

  it('epoch axes tick at whole epochs only, and every chart has a title', () => {
    for (const c of charts) {
      expect((c.spec.title as { text: string }).text.length, c.id).toBeGreaterThan(0);
      for (const n of nodes(c.spec)) if (n.field === 'epoch') expect((n.axis as { values: number[] }).values).toEqual([0, 1, 2]);
    }
  });

  it('render to SVG with their titles, legends that name every encoding, and the cost on a log scale', async () => {
    const svgs = new Map<string, string>();
    for (const c of charts) svgs.set(c.id, await renderSvg(c.spec as VlSpec));
    const text = (id: string) => [...svgs.get(id)!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(text('learning-curves')).toEqual(expect.arrayContaining(['Learning curves', 'activation', 'sigmoid', 'relu', 'test cost C (log scale)', '10⁻¹', '1', '10']));
    expect(text('learning-speed')).toEqual(expect.arrayContaining(['Speed of learning per hidden layer', 'hidden layer', 'layer 1', 'layer 2', '‖∂C/∂bˡ‖ (log scale)']));
    expect(text('saturation')).toEqual(expect.arrayContaining(['Saturated and dead units', 'sigmoid: saturated units', 'relu: dead units', 'hidden layer']));
    expect(text('histograms')).toEqual(expect.arrayContaining(['Activation histograms', 'at initialisation', 'after training', 'aˡ (symlog scale)']));
    // No tick between whole epochs.
    expect(text('saturation')).not.toContain('0.5');
    // The facet headers are drawn in the activation's colour.
    expect(svgs.get('learning-speed')).toMatch(new RegExp(`fill="${ACTIVATION_COLORS.sigmoid}"[^>]*>sigmoid<`));
  });
});
