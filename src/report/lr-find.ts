import type { RangeTestResult } from '../train/lr-find.js';
import { BASE, logAxis, title } from './charts.js';
import type { Chart } from './compare-charts.js';
import { esc, figure, page } from './html.js';
import { sparkline } from './terminal.js';

/** Columns of the terminal chart at most. */
const WIDTH = 60;

/** Every k-th point so that at most `width` remain (the first and, when it fits, the last kept), with their indices. */
function thin<T>(xs: readonly T[], width: number): { x: T; i: number }[] {
  const k = Math.max(1, Math.ceil(xs.length / width));
  return xs.map((x, i) => ({ x, i })).filter(({ i }) => i % k === 0);
}

/**
 * lr-find's chart in the terminal: the smoothed loss against η as one line of
 * bars (the steps are evenly spaced in log η, so the columns are a log axis),
 * a caret under the suggested η and the axis's two ends. The bars span the
 * lowest loss to the first one (a diverging tail is drawn full height).
 */
export function rangeTestLines(r: RangeTestResult): string[] {
  if (!r.points.length) return [];
  const cols = thin(r.points, WIDTH);
  const s = cols.map(({ x }) => x.smoothed);
  const lo = Math.min(...s);
  const hi = Math.max(r.points[0].smoothed, lo * 1.01);
  const at = r.steepest ? cols.findIndex(({ i }) => r.points[i].step >= r.steepest!.step) : -1;
  const [first, last] = [r.points[0].lr, r.points.at(-1)!.lr];
  const axis = `η ${+first.toPrecision(2)}`;
  const end = String(+last.toPrecision(2));
  return [
    `  ${sparkline(s, { lo, hi })}  smoothed loss ${hi.toPrecision(3)} (top) to ${lo.toPrecision(3)}`,
    ...(at >= 0 ? [`  ${' '.repeat(at)}^ η ${r.steepest!.lr.toPrecision(2)}`] : []),
    `  ${axis}${' '.repeat(Math.max(1, cols.length - axis.length - end.length))}${end}  (log scale)`,
  ];
}

/** lr-find's chart for --report: the loss of each batch and its smoothed curve against η on a log axis, the suggestion as a rule. */
export function rangeTestChart(r: RangeTestResult): Chart {
  const values = r.points.flatMap((p) => [
    { lr: p.lr, loss: p.loss, series: 'batch loss' },
    { lr: p.lr, loss: p.smoothed, series: 'smoothed' },
  ]);
  const color = { field: 'series', type: 'nominal', scale: { domain: ['batch loss', 'smoothed'], range: ['#9ecae1', '#1f77b4'] }, legend: { title: null, orient: 'bottom' } };
  // the cost's range before it climbs, with room above: a diverging tail runs off the top (clipped) instead of flattening the rest
  const before = r.points.filter((p) => !r.lowest || p.step <= r.lowest.step);
  const top = 1.5 * Math.max(...before.map((p) => p.smoothed), 0);
  const rule = r.steepest
    ? [
        { data: { values: [{ lr: r.steepest.lr }] }, mark: { type: 'rule', strokeDash: [5, 4], color: '#444' }, encoding: { x: { field: 'lr', type: 'quantitative' } } },
        {
          data: { values: [{ lr: r.steepest.lr, label: `steepest descent: η ${r.steepest.lr.toPrecision(2)}` }] },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontSize: 12, color: '#444' },
          encoding: { x: { field: 'lr', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
        },
      ]
    : [];
  return {
    id: 'lr-range-test',
    caption:
      "The LR range test (Smith 2017): one mini-batch per step with η growing exponentially; the pale line is each batch's mean cost, the dark one its bias-corrected moving average. " +
      'The dashed line is the steepest descent of the smoothed cost against log η, the suggested η; a rate past the lowest point makes the cost climb (the cost axis stops at 1.5 times the highest smoothed cost before its lowest point).',
    spec: {
      ...BASE,
      title: title('Cost against learning rate', 'mean cost C per mini-batch as η grows (log scale)'),
      width: 640,
      height: 300,
      layer: [
        {
          data: { values },
          mark: { type: 'line', clip: true },
          encoding: {
            x: logAxis(
              'lr',
              'learning rate η (log scale)',
              r.points.map((p) => p.lr),
            ),
            y: { field: 'loss', type: 'quantitative', title: 'mean cost C', scale: { domain: [0, top], clamp: true } },
            color,
          },
        },
        ...rule,
      ],
    },
  };
}

/** The report of `lr-find --report`: a summary table, then the chart. Self-contained (inline SVG). */
export async function rangeTestReport(heading: string, description: string, summary: [string, string][], r: RangeTestResult): Promise<string> {
  const table = `<table><tbody>\n${summary.map(([k, v]) => `<tr><th style="text-align:left">${esc(k)}</th><td style="text-align:left">${esc(v)}</td></tr>`).join('\n')}\n</tbody></table>`;
  return page(heading, description, [table, await figure(rangeTestChart(r))]);
}
