import type { LayerStats } from '../analysis/layers.js';
import type { EpochMetrics } from '../train/sgd.js';
import { BASE, epochAxis, layerColor, layerName, logAxis, shareAxis, speedEncoding, title } from './charts.js';
import type { Chart } from './compare-charts.js';
import { esc, figure, page } from './html.js';

/** --monitor's statistics after an epoch (0: at initialisation). */
export interface MonitorSnapshot {
  epoch: number;
  layers: LayerStats[];
}

/** One fixed colour per data set in every chart of the training report. */
const SET_COLORS: Record<string, string> = { training: '#1f77b4', validation: '#ff7f0e', test: '#2ca02c' };
const SETS = ['training', 'validation', 'test'] as const;
const setColor = (present: string[]) => ({
  field: 'set',
  type: 'nominal',
  sort: present,
  scale: { domain: present, range: present.map((s) => SET_COLORS[s]) },
  legend: { title: null, orient: 'bottom' },
});

/**
 * The charts of `train --report`: learning curves (loss and accuracy of the
 * training batches as trained, of the validation and the test set, per
 * epoch), the learning rate per epoch, and with --monitor each hidden
 * layer's speed of learning ‖∂C/∂bˡ‖ and its saturated or dead units
 * (Nielsen, "Neural Networks and Deep Learning", ch. 5), as in compare's report.
 * `keptEpoch`: the epoch whose weights --early-stop kept, marked on the curves.
 */
export function trainingCharts(history: EpochMetrics[], monitor?: MonitorSnapshot[], keptEpoch?: number): Chart[] {
  const lastEpoch = Math.max(1, ...history.map((m) => m.epoch));
  const points = history.flatMap((m) =>
    [
      { set: 'training', loss: m.loss, accuracy: m.trainAccuracy },
      { set: 'validation', loss: m.validationLoss, accuracy: m.validationAccuracy },
      { set: 'test', loss: m.testLoss, accuracy: m.testAccuracy },
    ]
      .filter((p) => p.loss !== undefined && p.accuracy !== undefined)
      .map((p) => ({ epoch: m.epoch, ...p })),
  );
  const present = SETS.filter((s) => points.some((p) => p.set === s));
  // --early-stop: a dashed rule at the epoch whose weights were kept, labelled, over each panel.
  const kept =
    keptEpoch !== undefined
      ? [
          { data: { values: [{ epoch: keptEpoch }] }, mark: { type: 'rule', strokeDash: [5, 4], color: '#444', strokeWidth: 1.5 }, encoding: { x: { field: 'epoch', type: 'quantitative' } } },
          {
            data: { values: [{ epoch: keptEpoch, label: `kept: epoch ${keptEpoch}` }] },
            mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontSize: 12, color: '#444' },
            encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
          },
        ]
      : [];
  const withKept = (p: Record<string, unknown>) => (kept.length ? { width: p.width, height: p.height, layer: [{ mark: p.mark, encoding: p.encoding }, ...kept] } : p);
  const panel = { width: 420, height: 250 };
  const lines = { type: 'line', point: true };
  const charts: Chart[] = [
    {
      id: 'learning-curves',
      caption:
        'Mean cost C and accuracy per epoch: on the training batches as they were trained (a running mean, as Keras reports it, with dropout if it was on), and on the validation and test sets with the weights at the end of the epoch. ' +
        'A validation cost that turns up while the training cost still falls is overfitting; <code>--early-stop</code> keeps the weights of the lowest point' +
        (keptEpoch !== undefined ? `: here those of epoch ${keptEpoch}, the dashed line (what <code>--save</code> wrote and the test accuracy reports).` : '.'),
      spec: {
        ...BASE,
        title: title('Learning curves', 'cost (log scale) and accuracy against epochs, one line per data set'),
        data: { values: points },
        hconcat: [
          withKept({
            ...panel,
            mark: lines,
            encoding: {
              x: epochAxis(lastEpoch),
              y: logAxis(
                'loss',
                'mean cost C (log scale)',
                points.map((p) => p.loss ?? 0),
              ),
              color: setColor(present),
            },
          }),
          withKept({ ...panel, mark: lines, encoding: { x: epochAxis(lastEpoch), y: { ...shareAxis('accuracy', 'accuracy'), scale: { zero: false } }, color: setColor(present) } }),
        ],
      },
    },
  ];
  const rates = history.filter((m) => m.lr !== undefined).map((m) => ({ epoch: m.epoch, lr: m.lr }));
  if (rates.length) {
    charts.push({
      id: 'learning-rate',
      caption: 'The learning rate η of each epoch, as <code>--schedule</code> and <code>--warmup</code> set it at the start of the epoch.',
      spec: {
        ...BASE,
        title: title('Learning rate', 'η per epoch'),
        data: { values: rates },
        width: 420,
        height: 180,
        mark: { type: 'line', point: true, interpolate: 'step-after' },
        encoding: { x: epochAxis(lastEpoch), y: { field: 'lr', type: 'quantitative', title: 'η', axis: { format: '~g' } } }, // plain numbers: 0.2, 0.0005
      },
    });
  }
  if (monitor?.length) {
    const hidden = monitor[0].layers.filter((l) => l.hidden).map((l) => l.layer);
    const speeds = monitor.flatMap((s) => s.layers.filter((l) => l.hidden).map((l) => ({ epoch: s.epoch, layer: layerName(l.layer), speed: Math.max(l.speed, 1e-12) })));
    const fractions = monitor.flatMap((s) =>
      s.layers
        .filter((l) => l.hidden && (l.saturated !== undefined || l.dead !== undefined))
        .map((l) => ({ epoch: s.epoch, layer: layerName(l.layer), fraction: l.saturated ?? l.dead ?? 0, kind: l.saturated !== undefined ? 'saturated' : 'dead' })),
    );
    charts.push({
      id: 'learning-speed',
      caption:
        'The speed of learning of hidden layer <i>l</i>, ‖∂C/∂b<sup><i>l</i></sup>‖ = ‖δ<sup><i>l</i></sup>‖, on a fixed batch of training examples, at initialisation (epoch 0) and after every epoch (Nielsen, ch. 5). Early layers that learn many times more slowly than the layers after them are the vanishing gradient.',
      spec: {
        ...BASE,
        title: title('Speed of learning per hidden layer', '‖∂C/∂bˡ‖ against epochs; darker lines are layers nearer the input'),
        data: { values: speeds },
        ...panel,
        mark: lines,
        encoding: speedEncoding(speeds, lastEpoch, hidden),
      },
    });
    if (fractions.length) {
      const kind = fractions[0].kind;
      charts.push({
        id: 'saturation',
        caption:
          kind === 'saturated'
            ? 'Saturated units: the share of (unit, example) pairs with f′(z) below 1% of its largest value, where δ = … ⊙ f′(z) ≈ 0 and the unit barely learns.'
            : 'Dead units: the share of units with z ≤ 0 on every example of the batch, whose gradient is 0 everywhere.',
        spec: {
          ...BASE,
          title: title(kind === 'saturated' ? 'Saturated units' : 'Dead units', 'share of each hidden layer that has stopped learning, against epochs'),
          data: { values: fractions },
          ...panel,
          mark: lines,
          encoding: { x: epochAxis(lastEpoch), y: shareAxis('fraction', 'share of the layer'), color: layerColor(hidden) },
        },
      });
    }
  }
  return charts;
}

/** The report of one training run: a summary table, then the charts. Self-contained (inline SVG, no scripts, nothing fetched). */
export async function trainingReport(heading: string, description: string, summary: [string, string][], history: EpochMetrics[], monitor?: MonitorSnapshot[], keptEpoch?: number): Promise<string> {
  const table = `<table><tbody>\n${summary.map(([k, v]) => `<tr><th style="text-align:left">${esc(k)}</th><td style="text-align:left">${esc(v)}</td></tr>`).join('\n')}\n</tbody></table>`;
  const figures = [];
  for (const c of trainingCharts(history, monitor, keptEpoch)) figures.push(await figure(c));
  return page(heading, description, [table, ...figures]);
}
