import type { TracePoint } from '../learners/learner.js';
import { renderSvg, type VlSpec } from './charts.js';

/** One learner's result as the learners report shows it. */
export interface LearnerRun {
  name: string;
  description: string;
  testAccuracy: number;
  seconds: number;
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

/** Test accuracy against wall time and against work, one line per learner, log-scaled x. */
export function learnersCharts(runs: LearnerRun[]): { title: string; caption: string; spec: VlSpec }[] {
  const values = runs.flatMap((r) =>
    r.trace.filter((p) => p.seconds > 0 && p.work > 0).map((p) => ({ learner: r.name, seconds: p.seconds, work: p.work, flops: p.flops, 'test accuracy': p.testAccuracy })),
  );
  const chart = (field: string, title: string): VlSpec => ({
    ...base,
    data: { values },
    width: 420,
    height: 260,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field, type: 'quantitative', scale: { type: 'log' }, title },
      y: { field: 'test accuracy', type: 'quantitative', scale: { zero: false }, axis: { format: '.0%' } },
      color: { field: 'learner', type: 'nominal' },
    },
  });
  return [
    {
      title: 'Test accuracy against wall time',
      caption: 'Seconds of fitting (log scale), not counting the test evaluations that draw the curve. The NTK is one point: nothing is known before its solve ends.',
      spec: chart('seconds', 'seconds (log)'),
    },
    {
      title: 'Test accuracy against work',
      caption: 'Work in example-forwards (log scale): one example through the model once. An SGD step on m examples counts 2m (forward and backward), a GA generation P·B, an NTK kernel entry 1.',
      spec: chart('work', 'example-forwards (log)'),
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
        `<tr><th>${esc(r.name)}</th><td>${(100 * r.testAccuracy).toFixed(2)}%</td><td>${r.seconds.toFixed(2)} s</td><td>${r.work.toExponential(2)}</td><td>${(r.flops / 1e9).toFixed(1)}</td><td>${r.parametersUpdated.toLocaleString('en-US')}</td><td>${(r.peakBytes / 2 ** 20).toFixed(1)} MB</td><td class="d">${esc(r.description)}</td></tr>`,
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
<table><thead><tr><th>learner</th><th>test accuracy</th><th>wall time</th><th>work (example-forwards)</th><th>GFLOP</th><th>parameters updated</th><th>peak memory</th><th>settings</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${notes.map((n) => `<p>${esc(n)}</p>`).join('\n')}
${sections.join('\n')}
${figures.map((f) => `<section><h2>${esc(f.title)}</h2><p>${esc(f.caption)}</p><figure><img alt="${esc(f.title)}" style="image-rendering: pixelated; width: 100%; max-width: 870px" src="data:image/png;base64,${Buffer.from(f.png).toString('base64')}"></figure></section>`).join('\n')}
</body></html>
`;
}
