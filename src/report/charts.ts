import type { CompareRun } from '../analysis/compare.js';

/** A Vega-Lite specification (JSON); rendered to SVG by Vega, in Node. */
export type VlSpec = Record<string, unknown>;

/** Renders a Vega-Lite spec to an SVG string with Vega's headless renderer (no browser, no network). */
export async function renderSvg(spec: VlSpec): Promise<string> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { font: 'sans-serif', view: { stroke: '#ddd' } } };
const layerName = (l: number) => `layer ${l}`;

/** One panel per activation: a line per hidden layer of `y` against the epoch. */
function perLayerOverEpochs(values: object[], y: Record<string, unknown>, height: number, extra: Record<string, unknown> = {}): VlSpec {
  return {
    ...base,
    data: { values },
    facet: { column: { field: 'activation', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height,
      mark: { type: 'line', point: true },
      encoding: { x: { field: 'epoch', type: 'quantitative' }, y, color: { field: 'layer', type: 'nominal' }, ...extra },
    },
  };
}

/** The charts of a compare report, as Vega-Lite specs. */
export function compareCharts(runs: CompareRun[]): { title: string; caption: string; spec: VlSpec }[] {
  const curves = runs.flatMap((r) => r.snapshots.map((s) => ({ activation: r.activation, epoch: s.epoch, 'test accuracy': s.testAccuracy, 'test cost': s.testLoss })));
  const speeds = runs.flatMap((r) =>
    r.snapshots.flatMap((s) => s.layers.filter((l) => l.hidden).map((l) => ({ activation: r.activation, epoch: s.epoch, layer: layerName(l.layer), speed: Math.max(l.speed, 1e-12) }))),
  );
  const fractions = runs.flatMap((r) =>
    r.snapshots.flatMap((s) =>
      s.layers
        .filter((l) => l.hidden && (l.saturated !== undefined || l.dead !== undefined))
        .map((l) => ({ activation: r.activation, epoch: s.epoch, layer: layerName(l.layer), fraction: l.saturated ?? l.dead ?? 0, kind: l.saturated !== undefined ? 'saturated' : 'dead' })),
    ),
  );
  const histograms = runs.flatMap((r) =>
    (['initial', 'final'] as const).flatMap((when) =>
      r[when].filter((l) => l.hidden && l.histogram).flatMap((l) => {
        const h = l.histogram!;
        const total = h.counts.reduce((a, b) => a + b, 0) || 1;
        const w = (h.hi - h.lo) / h.counts.length;
        return h.counts.map((c, i) => ({ activation: r.activation, when: when === 'initial' ? 'at initialisation' : 'after training', layer: layerName(l.layer), a: h.lo + (i + 0.5) * w, share: c / total }));
      }),
    ),
  );
  return [
    {
      title: 'Learning curves',
      caption: 'Accuracy and mean cost on the test set, at initialisation and after every epoch (and every --every batches).',
      spec: {
        ...base,
        data: { values: curves },
        hconcat: ['test accuracy', 'test cost'].map((field) => ({
          width: 320,
          height: 220,
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'epoch', type: 'quantitative' },
            y: { field, type: 'quantitative', scale: { zero: false } },
            color: { field: 'activation', type: 'nominal' },
          },
        })),
      },
    },
    {
      title: 'Speed of learning per hidden layer',
      caption: "‖∂C/∂b^l‖ = ‖δ^l‖ on a fixed batch (Nielsen, NNDL ch. 5), log scale. With sigmoid the early layers learn orders of magnitude more slowly: the vanishing gradient.",
      spec: perLayerOverEpochs(speeds, { field: 'speed', type: 'quantitative', scale: { type: 'log' }, title: '‖∂C/∂b‖ (log)' }, 220),
    },
    {
      title: 'Saturated and dead units',
      caption: "Sigmoid/tanh: the share of (unit, example) pairs with f′(z) < 1% of its maximum. ReLU: the share of units with z ≤ 0 on every example of the batch.",
      spec: perLayerOverEpochs(
        fractions.length ? fractions : [{ activation: '-', epoch: 0, layer: '-', fraction: 0, kind: '-' }],
        { field: 'fraction', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] } },
        200,
        { strokeDash: { field: 'kind', type: 'nominal' } },
      ),
    },
    {
      title: 'Activation histograms',
      caption: 'The distribution of a^l over the evaluation batch, per hidden layer, at initialisation and after training. Saturated sigmoids pile up at 0 and 1.',
      spec: {
        ...base,
        data: { values: histograms },
        facet: { row: { field: 'activation', type: 'nominal', title: null }, column: { field: 'layer', type: 'nominal', title: null } },
        spec: {
          width: 150,
          height: 90,
          mark: { type: 'bar', opacity: 0.7 },
          encoding: {
            x: { field: 'a', type: 'quantitative', bin: false, title: 'a' },
            y: { field: 'share', type: 'quantitative', stack: null, axis: { format: '%' } },
            color: { field: 'when', type: 'nominal' },
          },
        },
        resolve: { scale: { x: 'independent' } },
      },
    },
  ];
}
