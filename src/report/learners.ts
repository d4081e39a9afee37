import type { TracePoint } from '../learners/learner.js';
import { renderSvg, type VlSpec } from './charts.js';

/** One learner's result as the learners report shows it. */
export interface LearnerRun {
  name: string;
  description: string;
  testAccuracy: number;
  /** Training seconds, the test evaluations that draw the curves left out. */
  seconds: number;
  /** With --seeds K: the mean and sample standard deviation of the test accuracy over the seeds. */
  testAccuracyMean?: number;
  testAccuracySd?: number;
  /** Wall seconds with those evaluations. */
  wallSeconds?: number;
  work: number;
  flops: number;
  parametersUpdated: number;
  peakBytes: number;
  trace: TracePoint[];
}

/** A picture of what a learner learned (the RBM's filters), embedded in the report as a PNG data URL. */
export interface Figure {
  title: string;
  caption: string;
  png: Uint8Array;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { font: 'sans-serif', view: { stroke: '#ddd' } } };

/** One colour per learner, the same in every report (Tableau 10, in the order of LEARNERS); others grey. */
export const LEARNER_COLOURS: Record<string, string> = { sgd: '#4e79a7', ga: '#f28e2b', ntk: '#59a14f', rbm: '#e15759', ode: '#b07aa1' };

/**
 * Test accuracy against wall time and against cost in GFLOP (one unit for
 * every learner: their example-forwards differ by orders of magnitude in
 * flops, a neural ODE's being many network passes), one line per learner,
 * log-scaled x, each learner in its own colour, the legend in run order.
 */
export function learnersCharts(runs: LearnerRun[]): { title: string; caption: string; spec: VlSpec }[] {
  const values = runs.flatMap((r) =>
    r.trace.filter((p) => p.seconds > 0 && p.flops > 0).map((p) => ({ learner: r.name, seconds: p.seconds, work: p.work, GFLOP: p.flops / 1e9, 'test accuracy': p.testAccuracy })),
  );
  const names = runs.map((r) => r.name);
  const color = { field: 'learner', type: 'nominal', scale: { domain: names, range: names.map((n) => LEARNER_COLOURS[n] ?? '#888') }, sort: names };
  const chart = (field: string, title: string): VlSpec => ({
    ...base,
    data: { values },
    width: 420,
    height: 260,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field, type: 'quantitative', scale: { type: 'log' }, title },
      y: { field: 'test accuracy', type: 'quantitative', scale: { zero: false }, axis: { format: '.0%' } },
      color,
    },
  });
  return [
    {
      title: 'Test accuracy against wall time',
      caption: 'Seconds of fitting (log scale), not counting the test evaluations that draw the curve. The NTK is one point: nothing is known before its solve ends.',
      spec: chart('seconds', 'seconds (log)'),
    },
    {
      title: 'Test accuracy against cost',
      caption:
        "Cost in GFLOP (10⁹ multiply-adds ×2, log scale), each learner's own count of the arithmetic it did: one unit for all, where example-forwards are not (a neural ODE's example-forward is dozens of evaluations of its network, an NTK kernel entry a dot product of two images).",
      spec: chart('GFLOP', 'GFLOP (log)'),
    },
  ];
}

/** One self-contained HTML file: the table and the charts as inline SVG, no scripts, no network requests. */
export async function learnersReport(runs: LearnerRun[], title: string, description: string, notes: string[], figures: Figure[] = []): Promise<string> {
  const sections: string[] = [];
  for (const c of learnersCharts(runs)) {
    sections.push(`<section><h2>${esc(c.title)}</h2><p>${esc(c.caption)}</p><figure class="chart">${await renderSvg(c.spec)}</figure></section>`);
  }
  const rows = runs
    .map(
      (r) =>
        `<tr><th>${esc(r.name)}</th><td>${r.testAccuracySd !== undefined ? `${(100 * r.testAccuracyMean!).toFixed(2)}% ± ${(100 * r.testAccuracySd).toFixed(2)}` : `${(100 * r.testAccuracy).toFixed(2)}%`}</td><td>${(r.wallSeconds ?? r.seconds).toFixed(2)} s</td><td>${r.seconds.toFixed(2)} s</td><td>${r.work.toExponential(2)}</td><td>${(r.flops / 1e9).toFixed(1)}</td><td>${r.parametersUpdated.toLocaleString('en-US')}</td><td>${(r.peakBytes / 2 ** 20).toFixed(1)} MB</td><td class="d">${esc(r.description)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; } td, th { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
td.d { text-align: left; font-size: .85rem; color: #555; }
figure.chart { margin: 0; overflow-x: auto; } p { max-width: 60rem; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p>${esc(description)}</p>
<table><thead><tr><th>learner</th><th>test accuracy</th><th>wall time</th><th>train time (no test evaluations)</th><th>work (example-forwards)</th><th>GFLOP</th><th>parameters updated</th><th>peak memory</th><th>settings</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${notes.map((n) => `<p>${esc(n)}</p>`).join('\n')}
${sections.join('\n')}
${figures.map((f) => `<section><h2>${esc(f.title)}</h2><p>${esc(f.caption)}</p><figure><img alt="${esc(f.title)}" style="image-rendering: pixelated; width: 100%; max-width: 870px" src="data:image/png;base64,${Buffer.from(f.png).toString('base64')}"></figure></section>`).join('\n')}
</body></html>
`;
}
