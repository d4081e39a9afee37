import type { CompareRun } from '../analysis/compare.js';
import { compareCharts, renderSvg } from './charts.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One self-contained HTML file: inline SVG charts and tables, no scripts, no network requests. */
export async function compareReport(runs: CompareRun[], title: string, description: string): Promise<string> {
  const charts = compareCharts(runs);
  const sections: string[] = [];
  for (const c of charts) {
    const svg = await renderSvg(c.spec);
    sections.push(`<section><h2>${esc(c.title)}</h2><p>${esc(c.caption)}</p><figure class="chart">${svg}</figure></section>`);
  }
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
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
table { border-collapse: collapse; } td, th { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
figure.chart { margin: 0; overflow-x: auto; } p { max-width: 60rem; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p>${esc(description)}</p>
<h2>Speed of learning at initialisation and at the end</h2>
<table><thead><tr><th>activation</th><th>when</th>${hidden.map((l) => `<th>layer ${l}</th>`).join('')}<th>first / last</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${sections.join('\n')}
</body></html>
`;
}
