import type { CompareRun } from '../analysis/compare.js';
import type { LayerStats } from '../analysis/layers.js';
import { activation, isActivationName } from '../nn/activations.js';
import { activationColor, ACTIVATION_COLORS, BASE, coloredHeader, epochAxis, layerColor, layerName, logAxis, overlaidHistogram, shareAxis, speedEncoding, title, type VlSpec } from './charts.js';

/** A chart of a report: the spec (its title is inside it) and a caption in HTML. */
export interface Chart {
  id: string;
  spec: VlSpec;
  caption: string;
}

/** Dead (ReLU family: z ≤ 0 on every example) or saturated (sigmoid, tanh: f′(z) ≈ 0): what the layer statistics measure for an activation. */
const WHEN = ['at initialisation', 'after training'] as const;

const act = (name: string) => (isActivationName(name) ? activation(name) : undefined);
const kindOf = (name: string) => (act(name)?.stalls === 'dies' ? 'dead' : 'saturated');
const panelName = (a: string) => `${a}: ${kindOf(a)} units`;
const colorOf = (a: string) => ACTIVATION_COLORS[a] ?? '#222';

/** a at the symlog bin edge t = k·step: sign(t)·(e^|t| − 1), the inverse of t = sign(a)·ln(1 + |a|). */
const symlogEdge = (k: number, step: number) => Math.sign(k) * Math.expm1(Math.abs(k) * step);

/**
 * The rows of one histogram for overlaidHistogram. Bounded activations: the
 * density (share per unit of a) on equal bins of f's range, the same bins at
 * initialisation and after training. Unbounded ones: the share of the batch in
 * each symlog bin (equal widths on the symlog axis they are drawn on, anchored
 * at 0, so both histograms share their edges), and the share exactly at 0.
 */
export function histogramRows(h: NonNullable<LayerStats['histogram']>, base: { activation: string; when: string; layer: string }): Record<string, unknown>[] {
  const total = h.counts.reduce((a, b) => a + b, 0) || 1;
  const steps = (edges: number[], ys: number[]) => [...ys.map((y, i) => ({ ...base, kind: 'step', a: edges[i], y })), { ...base, kind: 'step', a: edges[ys.length], y: ys[ys.length - 1] ?? 0 }];
  if (h.symlog) {
    const { step, first, counts, zeros } = h.symlog;
    const edges = Array.from({ length: counts.length + 1 }, (_, i) => symlogEdge(first + i, step));
    return [
      ...(counts.length
        ? steps(
            edges,
            counts.map((c) => c / total),
          )
        : []),
      { ...base, kind: 'zero', a: 0, y: zeros / total },
    ];
  }
  // Density, so that the bounded rows read as densities: each bin from its left edge, its right edge closing the last.
  const w = (h.hi - h.lo) / h.counts.length;
  return steps(
    Array.from({ length: h.counts.length + 1 }, (_, i) => h.lo + i * w),
    h.counts.map((c) => c / total / w),
  );
}

/** ", here at initialisation layer 1 learns at 0.064× the speed of layer 4 with sigmoid, 0.52× with relu": measured, for the caption. */
function firstToLast(runs: CompareRun[]): string {
  const parts = runs.flatMap((r) => {
    const ls = r.initial.filter((l) => l.hidden);
    return ls.length > 1 && ls[ls.length - 1].speed > 0 ? [{ a: r.activation, ratio: ls[0].speed / ls[ls.length - 1].speed, first: ls[0].layer, last: ls[ls.length - 1].layer }] : [];
  });
  if (!parts.length) return '';
  const x = (v: number) => `${Number(v.toPrecision(2))}×`;
  return `; here, at initialisation, layer ${parts[0].first} learns at ${parts.map((p, i) => `${x(p.ratio)}${i === 0 ? ` the speed of layer ${p.last}` : ''} with ${p.a}`).join(', ')}`;
}

/**
 * The charts of a compare report (Nielsen, "Neural Networks and Deep
 * Learning", ch. 5: the speed of learning ‖∂C/∂bˡ‖ per layer, saturation).
 */
export function compareCharts(runs: CompareRun[]): Chart[] {
  const activations = runs.map((r) => r.activation);
  const hidden = runs[0]?.initial.filter((l) => l.hidden).map((l) => l.layer) ?? [];
  const lastEpoch = Math.max(0, ...runs.flatMap((r) => r.snapshots.map((s) => s.epoch)));
  const curves = runs.flatMap((r) => r.snapshots.map((s) => ({ activation: r.activation, epoch: s.epoch, accuracy: s.testAccuracy, cost: s.testLoss })));
  const speeds = runs.flatMap((r) =>
    r.snapshots.flatMap((s) => s.layers.filter((l) => l.hidden).map((l) => ({ activation: r.activation, epoch: s.epoch, layer: layerName(l.layer), speed: Math.max(l.speed, 1e-12) }))),
  );
  const fractions = runs.flatMap((r) =>
    r.snapshots.flatMap((s) =>
      s.layers
        .filter((l) => l.hidden && (l.saturated !== undefined || l.dead !== undefined))
        .map((l) => ({ activation: r.activation, panel: panelName(r.activation), epoch: s.epoch, layer: layerName(l.layer), fraction: l.saturated ?? l.dead ?? 0 })),
    ),
  );
  const histograms = runs.flatMap((r) =>
    (['initial', 'final'] as const).flatMap((when) =>
      r[when].filter((l) => l.hidden && l.histogram).flatMap((l) => histogramRows(l.histogram!, { activation: r.activation, when: WHEN[when === 'initial' ? 0 : 1], layer: layerName(l.layer) })),
    ),
  );
  // Panels per activation side by side, wrapped so that the page needs no scrolling: 1, 2, 3, or 2 × 2.
  const columns = activations.length === 3 ? 3 : Math.min(activations.length, 2);
  const panel = { width: columns === 3 ? 250 : 330, height: 230 };
  const lines = { type: 'line', point: true };
  // A row of histograms, one per hidden layer, within the page's 1,100 pixels: 70 for the y axis, 28 between panels.
  const histogramWidth = Math.max(110, Math.min(190, Math.floor((1000 - 70 - 28 * (hidden.length - 1)) / Math.max(1, hidden.length))));
  return [
    {
      id: 'learning-curves',
      caption:
        'Accuracy and mean cost C on the 2,000 test examples, at initialisation (epoch 0), after every epoch and every <code>--every</code> batches. The cost is on a log scale: its first drop is steep.',
      spec: {
        ...BASE,
        title: title('Learning curves', 'test accuracy and test cost against epochs, one line per activation'),
        data: { values: curves },
        hconcat: [
          { ...panel, mark: lines, encoding: { x: epochAxis(lastEpoch), y: shareAxis('accuracy', 'test accuracy'), color: activationColor(activations) } },
          {
            ...panel,
            mark: lines,
            encoding: {
              x: epochAxis(lastEpoch),
              y: logAxis(
                'cost',
                'test cost C (log scale)',
                curves.map((c) => c.cost),
              ),
              color: activationColor(activations),
            },
          },
        ],
      },
    },
    {
      id: 'learning-speed',
      caption:
        'The speed of learning of hidden layer <i>l</i>, ‖∂C/∂b<sup><i>l</i></sup>‖ = ‖δ<sup><i>l</i></sup>‖, on a fixed batch of training examples (Nielsen, <i>Neural Networks and Deep Learning</i>, ch. 5), log scale shared by the panels. ' +
        'With sigmoid, δ<sup><i>l</i></sup> = (W<sup><i>l</i>+1</sup>)<sup>T</sup>δ<sup><i>l</i>+1</sup> ⊙ σ′(z<sup><i>l</i></sup>) shrinks at each layer back from the output (σ′ ≤ ¼): the early layers learn more slowly, the vanishing gradient' +
        firstToLast(runs) +
        '.',
      spec: {
        ...BASE,
        title: title('Speed of learning per hidden layer', '‖∂C/∂bˡ‖ per layer against epochs; darker lines are layers nearer the input'),
        data: { values: speeds },
        facet: { field: 'activation', type: 'nominal', sort: activations, header: coloredHeader('activation', Object.fromEntries(activations.map((a) => [a, colorOf(a)]))) },
        columns,
        spec: {
          ...panel,
          mark: lines,
          encoding: speedEncoding(speeds, lastEpoch, hidden),
        },
      },
    },
    {
      id: 'saturation',
      caption:
        'Saturated units (sigmoid, tanh): the share of (unit, example) pairs with f′(z) below 1% of its largest value, where δ = … ⊙ f′(z) ≈ 0 and the unit barely learns. ' +
        'Dead units (ReLU, leaky ReLU): the share of units with z ≤ 0 on every example of the batch, whose gradient is 0 (or α for leaky ReLU) everywhere.',
      spec: {
        ...BASE,
        title: title('Saturated and dead units', 'share of each hidden layer that has stopped learning, against epochs'),
        data: { values: fractions.length ? fractions : [{ activation: '-', panel: '-', epoch: 0, layer: '-', fraction: 0 }] },
        facet: { field: 'panel', type: 'nominal', sort: activations.map(panelName), header: coloredHeader('panel', Object.fromEntries(activations.map((a) => [panelName(a), colorOf(a)]))) },
        columns,
        spec: { ...panel, mark: lines, encoding: { x: epochAxis(lastEpoch), y: shareAxis('fraction', 'share of the layer'), color: layerColor(hidden) } },
      },
    },
    {
      id: 'histograms',
      caption:
        'The distribution of the activations a<sup><i>l</i></sup> over the evaluation batch, per hidden layer, at initialisation (grey) and after training (dark), overlaid. ' +
        'Bounded activations (sigmoid, tanh) as densities over the same bins before and after; saturated sigmoids pile up at 0 and 1. ' +
        'ReLU activations are unbounded and grow during training, so their rows spread a on a symlog scale, on bins of equal width there (the same bins before and after), and show the share of the batch in each bin on a square-root scale; ' +
        'the bar at 0 is the share of activations exactly 0: units that are off for an example, and for every example if the unit is dead.',
      spec: {
        ...BASE,
        title: title('Activation histograms', 'aˡ per hidden layer; grey at initialisation, black after training'),
        data: { values: histograms },
        vconcat: activations.map((a) => {
          const range = act(a)?.range;
          const bounded = range !== undefined && Number.isFinite(range.lo) && Number.isFinite(range.hi);
          return {
            title: { text: a, color: colorOf(a), fontSize: 15, anchor: 'start', offset: 6 },
            transform: [{ filter: `datum.activation == ${JSON.stringify(a)}` }],
            facet: { column: { field: 'layer', type: 'nominal', sort: hidden.map(layerName), header: { labelFontSize: 13, title: null } } },
            spec: overlaidHistogram({
              x: bounded ? undefined : { type: 'symlog' },
              y: bounded ? undefined : { type: 'sqrt' },
              xTitle: bounded ? 'aˡ' : 'aˡ (symlog scale)',
              yTitle: bounded ? 'density' : 'share of the batch (√ scale)',
              zeros: !bounded,
              when: WHEN,
              width: histogramWidth,
            }),
            resolve: { scale: { x: 'independent', y: 'shared' } },
          };
        }),
      },
    },
  ];
}
