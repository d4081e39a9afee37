const BARS = '▁▂▃▄▅▆▇█';

/** A one-line chart of a series; `log` plots log10 (for speeds spanning decades). */
export function sparkline(values: number[], opts: { log?: boolean; lo?: number; hi?: number } = {}): string {
  const v = values.map((x) => (opts.log ? Math.log10(Math.max(x, 1e-30)) : x));
  const lo = opts.lo ?? Math.min(...v),
    hi = opts.hi ?? Math.max(...v);
  return v.map((x) => BARS[hi > lo ? Math.min(7, Math.max(0, Math.round(((x - lo) / (hi - lo)) * 7))) : 3]).join('');
}

/** A plain text table; the first column left-aligned, the rest right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? pad(c, widths[i], 'end') : pad(c, widths[i], 'start'))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

// Width without ANSI colour codes.
const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;
function pad(s: string, w: number, side: 'start' | 'end'): string {
  const fill = ' '.repeat(Math.max(0, w - visible(s)));
  return side === 'start' ? fill + s : s + fill;
}
