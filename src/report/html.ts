import type { CompareRun } from '../analysis/compare.js';
import { renderSvg } from './charts.js';
import { compareCharts, type Chart } from './compare-charts.js';

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A chart as a figure: the SVG (which holds the chart's title) and its caption (HTML). */
export async function figure(chart: Chart): Promise<string> {
  return `<figure class="chart" id="${chart.id}">${await renderSvg(chart.spec)}<figcaption>${chart.caption}</figcaption></figure>`;
}

/** One self-contained HTML page: inline SVG and tables, no scripts, no network requests. `body` is HTML. */
export function page(heading: string, description: string, body: string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(heading)}</title>
<style>
body { font-family: 'DejaVu Sans', Verdana, system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.description { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; } td, th { padding: .25rem .7rem; border-bottom: 1px solid #ddd; text-align: right; }
figure.chart { margin: 2.2rem 0 0; overflow-x: auto; } figure.chart svg { display: block; max-width: none; }
figcaption { max-width: 62rem; margin-top: .4rem; color: #333; font-size: .95rem; }
</style></head>
<body>
<h1>${esc(heading)}</h1>
<p class="description">${esc(description)}</p>
${body.join('\n')}
</body></html>
`;
}

/** The compare report: the speed table, then the charts of compareCharts. */
export async function compareReport(runs: CompareRun[], heading: string, description: string): Promise<string> {
  const hidden = runs[0]?.initial.filter((l) => l.hidden).map((l) => l.layer) ?? [];
  const rows = runs
    .flatMap((r) =>
      (['initial', 'final'] as const).map((when) => {
        const ls = r[when].filter((l) => l.hidden);
        const ratio = ls.length > 1 ? ls[0].speed / ls[ls.length - 1].speed : NaN;
        return `<tr><th>${esc(r.activation)}</th><td>${when === 'initial' ? 'initialisation' : 'end'}</td>${ls.map((l) => `<td>${l.speed.toExponential(2)}</td>`).join('')}<td>${ratio.toPrecision(3)}</td></tr>`;
      }),
    )
    .join('\n');
  const table = `<h2>Speed of learning ‖∂C/∂b<sup><i>l</i></sup>‖ at initialisation and at the end</h2>
<table><thead><tr><th>activation</th><th>when</th>${hidden.map((l) => `<th>layer ${l}</th>`).join('')}<th>first / last</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
  const figures = [];
  for (const c of compareCharts(runs)) figures.push(await figure(c));
  return page(heading, description, [table, ...figures]);
}
