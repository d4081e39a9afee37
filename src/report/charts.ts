/**
 * Chart helpers shared by the HTML reports: Vega-Lite specs rendered to SVG
 * in Node, with one look everywhere — readable text, a title inside every
 * SVG, one fixed colour per activation in every chart, an ordered palette
 * for layers (first hidden layer darkest), integer epoch ticks and decade
 * ticks on log scales.
 */

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

const FONT = 'DejaVu Sans, Verdana, Helvetica, Arial, sans-serif';

/** The look of every chart: text sizes that read at 100% zoom, light grids, thicker lines. */
export const THEME = {
  font: FONT,
  padding: 8,
  view: { stroke: '#ccc' },
  title: { fontSize: 17, subtitleFontSize: 13, subtitleColor: '#555', anchor: 'start', offset: 14, subtitlePadding: 4 },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', titleColor: '#333', labelColor: '#333', gridColor: '#eee', tickColor: '#999', domainColor: '#999' },
  legend: { labelFontSize: 13, titleFontSize: 13, titleFontWeight: 'bold', symbolStrokeWidth: 3, symbolSize: 160, rowPadding: 6, labelLimit: 400 },
  header: { labelFontSize: 14, labelFontWeight: 'bold', labelColor: '#222', titleFontSize: 14 },
  line: { strokeWidth: 2.2 },
  point: { size: 28, filled: true },
  facet: { spacing: 28 },
  concat: { spacing: 40 },
};

export const BASE: VlSpec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: THEME, background: 'white' };

/** A title (and subtitle) drawn inside the SVG, so that a chart saved on its own still says what it shows. */
export function title(text: string, subtitle?: string): { text: string; subtitle?: string } {
  return subtitle ? { text, subtitle } : { text };
}

/**
 * One colour per activation, the same in every chart of every report
 * (ColorBrewer Dark2, which has no blue: blues are the layers').
 */
export const ACTIVATION_COLORS: Record<string, string> = {
  sigmoid: '#d95f02',
  relu: '#1b9e77',
  tanh: '#7570b3',
  'leaky-relu': '#e7298a',
  linear: '#66a61e',
  softmax: '#a6761d',
};

/** Colour encoding of the field `activation` with the fixed colours. */
export function activationColor(activations: string[], legend: Record<string, unknown> | null = { title: 'activation' }): Record<string, unknown> {
  return { field: 'activation', type: 'nominal', scale: { domain: activations, range: activations.map((a) => ACTIVATION_COLORS[a] ?? '#444') }, legend };
}

const DARK = [8, 48, 107]; // #08306b
const LIGHT = [120, 180, 225];

/** n blues from dark (the first layer) to light (the last): an ordered palette. */
export function layerPalette(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const t = n === 1 ? 0.4 : i / (n - 1);
    return (
      '#' +
      DARK.map((d, k) =>
        Math.round(d + t * (LIGHT[k] - d))
          .toString(16)
          .padStart(2, '0'),
      ).join('')
    );
  });
}

/** Facet header labels (of `field`) each in its own colour, e.g. an activation's. */
export function coloredHeader(field: string, colors: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  // A header label is drawn once per facet, whose value is parent[field].
  const expr = Object.entries(colors).reduceRight((rest, [v, c]) => `parent[${JSON.stringify(field)}] == ${JSON.stringify(v)} ? '${c}' : ${rest}`, "'#222'");
  return { labelColor: { expr }, labelFontSize: 15, title: null, ...extra };
}

export const layerName = (l: number) => `layer ${l}`;

/** Colour encoding of the field `layer` ("layer 1", …) in layer order, with the ordered palette. */
export function layerColor(layers: number[]): Record<string, unknown> {
  const names = layers.map(layerName);
  return { field: 'layer', type: 'ordinal', sort: names, scale: { domain: names, range: layerPalette(layers.length) }, legend: { title: 'hidden layer' } };
}

/** Up to about `most` whole numbers from 0 to max, in steps of 1, 2, 5, 10, 20, … */
export function integerTicks(max: number, most = 10): number[] {
  const top = Math.max(1, Math.ceil(max));
  let step = 1;
  for (let k = 0; top / step > most; k++) step = [1, 2, 5][(k + 1) % 3] * 10 ** Math.floor((k + 1) / 3);
  return Array.from({ length: Math.floor(top / step) + 1 }, (_, i) => i * step);
}

/** The x encoding of epochs (fractions between, from --every): whole-epoch ticks only, from 0 to the last. */
export function epochAxis(lastEpoch: number, field = 'epoch'): Record<string, unknown> {
  const ticks = integerTicks(lastEpoch);
  return { field, type: 'quantitative', title: 'epoch', scale: { domain: [0, Math.max(lastEpoch, ticks[ticks.length - 1])], nice: false }, axis: { values: ticks, format: 'd' } };
}

const SUPERSCRIPT: Record<string, string> = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

/** 10^k written 10⁻³, 1, 10, 10². */
export function powerOfTen(k: number): string {
  return k === 0 ? '1' : k === 1 ? '10' : '10' + [...String(k)].map((c) => SUPERSCRIPT[c]).join('');
}

/** The powers of ten that cover [lo, hi] (both > 0). */
export function decades(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo)),
    b = Math.ceil(Math.log10(hi));
  return Array.from({ length: Math.max(1, b - a) + 1 }, (_, i) => a + i);
}

/** A y (or x) encoding on a log scale with a tick and a label 10ᵏ at each power of ten of the data. */
export function logAxis(field: string, axisTitle: string, values: number[]): Record<string, unknown> {
  const positive = values.filter((v) => v > 0 && Number.isFinite(v));
  const ks = positive.length ? decades(Math.min(...positive), Math.max(...positive)) : [0];
  const label = ks.reduceRight((rest, k) => `round(log(datum.value) / LN10) == ${k} ? '${powerOfTen(k)}' : ${rest}`, "''");
  return {
    field,
    type: 'quantitative',
    title: axisTitle,
    scale: { type: 'log', domain: [10 ** ks[0], 10 ** ks[ks.length - 1]], nice: false },
    axis: { values: ks.map((k) => 10 ** k), labelExpr: label, grid: true },
  };
}

/** A y encoding of a share in [0, 1], shown as a percentage. */
export function shareAxis(field: string, axisTitle: string, max = 1): Record<string, unknown> {
  return { field, type: 'quantitative', title: axisTitle, scale: { domain: [0, max] }, axis: { format: '.0%' } };
}

/**
 * A panel of two histograms overlaid, from rows {a, y, when, kind} where
 * each histogram is steps (kind 'step', a = left edge of a bin, plus the right
 * edge of the last one): the first (e.g. before training) as a grey area, the
 * second as a black outline over it, so that both stay visible where they
 * overlap. Rows of kind 'zero' (with `zeros`) are the share of values exactly
 * 0, drawn as a bar at a = 0 from the axis: grey and wide for the first, black
 * and narrow over it for the second.
 */
export function overlaidHistogram(o: {
  when: readonly [string, string];
  x?: Record<string, unknown>;
  y?: Record<string, unknown>;
  xTitle: string;
  yTitle: string;
  zeros?: boolean;
  width?: number;
  height?: number;
}): VlSpec {
  const only = (when: string, kind: string) => ({ filter: `datum.when == ${JSON.stringify(when)} && datum.kind == '${kind}'` });
  const spikes = o.zeros
    ? [
        { transform: [only(o.when[0], 'zero')], mark: { type: 'rule', strokeWidth: 7, opacity: 0.8 }, encoding: { y2: { datum: 0 } } },
        { transform: [only(o.when[1], 'zero')], mark: { type: 'rule', strokeWidth: 2.5 }, encoding: { y2: { datum: 0 } } },
      ]
    : [];
  return {
    width: o.width ?? 190,
    height: o.height ?? 130,
    encoding: {
      x: { field: 'a', type: 'quantitative', title: o.xTitle, scale: { zero: false, nice: false, ...o.x }, axis: { tickCount: 5 } },
      y: { field: 'y', type: 'quantitative', stack: null, title: o.yTitle, scale: { ...o.y }, axis: { tickCount: 4 } },
      color: { field: 'when', type: 'nominal', scale: { domain: [...o.when], range: ['#b0b0b0', '#111111'] }, legend: { title: null, orient: 'top', symbolType: 'square' } },
    },
    layer: [
      { transform: [only(o.when[0], 'step')], mark: { type: 'area', interpolate: 'step-after', opacity: 0.8 } },
      { transform: [only(o.when[1], 'step')], mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.6 } },
      ...spikes,
    ],
  };
}

/** The speed-of-learning lines: ‖∂C/∂bˡ‖ of each hidden layer against epochs, log scale, darker nearer the input (compare's and train's reports). */
export function speedEncoding(speeds: { speed: number }[], lastEpoch: number, hidden: number[]): Record<string, unknown> {
  return {
    x: epochAxis(lastEpoch),
    y: logAxis(
      'speed',
      '‖∂C/∂bˡ‖ (log scale)',
      speeds.map((s) => s.speed),
    ),
    color: layerColor(hidden),
  };
}
