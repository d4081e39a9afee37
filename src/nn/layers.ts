/**
 * Layer specs beyond dense: convolution with an optional pooling after it,
 * after Nielsen's network3.py ConvPoolLayer (NNDL ch. 6) and LeCun, Bottou,
 * Bengio & Haffner 1998, "Gradient-Based Learning Applied to Document
 * Recognition" (LeNet-5: convolution, subsampling, then full connections).
 *
 * Each parametric layer l is still one W^l and one b^l: a dense layer's W^l is
 * n_l × n_(l−1); a conv layer's is c_out × (c_in·kh·kw), row-major the same
 * bytes as PyTorch's [out, in, kh, kw], and its b^l has c_out entries. A pooling
 * has no parameters and belongs to the conv layer before it. sizes[l] stays
 * the number of values layer l hands on (c_out·h·w after pooling).
 */

export type PoolKind = 'max' | 'avg';

export interface DenseSpec {
  kind: 'dense';
  units: number;
}

export interface ConvSpec {
  kind: 'conv';
  /** Kernel height and width. */
  kh: number;
  kw: number;
  /** Output channels (feature maps) c_out. */
  channels: number;
  /** Zeros added on each side of the input (0: valid convolution). Stride is 1. */
  padding: number;
  /** Pooling of size × size windows with stride size (non-overlapping), as network3.py's poolsize; rows and columns that do not fill a window are dropped. */
  pool?: { kind: PoolKind; size: number };
}

export type LayerSpec = DenseSpec | ConvSpec;

/** An image's shape as channels, rows, columns. */
export type ImageShape = readonly [c: number, h: number, w: number];

/** The shapes of a conv layer and its pooling, derived from the spec and its input. */
export interface ConvGeometry {
  spec: ConvSpec;
  /** Input c_in × h × w. */
  cIn: number;
  h: number;
  w: number;
  /** Convolution output c_out × oh × ow: oh = h + 2·pad − kh + 1. */
  cOut: number;
  oh: number;
  ow: number;
  /** After pooling (s = pool size, 1 without): ph = ⌊oh/s⌋, pw = ⌊ow/s⌋. */
  s: number;
  ph: number;
  pw: number;
  /** Rows of cols(A): K = c_in·kh·kw. */
  K: number;
  /** Output positions per example before pooling, P = oh·ow, and after, Q = ph·pw. */
  P: number;
  Q: number;
}

/** Thrown for a layer list that cannot be built; the message is one line naming the token. */
export class LayerSpecError extends Error {}

/**
 * One token of --layers/--hidden: `100` (dense, 100 units), `conv5x5x20`
 * (5×5 kernels, 20 channels, valid), `conv5x5x20p2` (padding 2), `pool2` or
 * `maxpool2` (2×2 max-pooling), `avgpool2` (2×2 average pooling), `bn`
 * (batch normalisation of the layer before it, between Z and f:
 * src/nn/batchnorm.ts).
 */
export type LayerToken = number | ConvSpec | { kind: 'pool'; pool: { kind: PoolKind; size: number } } | { kind: 'bn' };

const positive = (s: string) => Number(s) > 0 && Number.isSafeInteger(Number(s));

/** Parses one token, or throws LayerSpecError naming it. */
export function parseLayerToken(token: string): LayerToken {
  const t = token.trim();
  if (/^\d+$/.test(t) && positive(t)) return Number(t);
  const conv = /^conv(\d+)x(\d+)x(\d+)(?:p(\d+))?$/.exec(t);
  if (conv && positive(conv[1]) && positive(conv[2]) && positive(conv[3])) {
    return { kind: 'conv', kh: Number(conv[1]), kw: Number(conv[2]), channels: Number(conv[3]), padding: Number(conv[4] ?? 0) };
  }
  const pool = /^(max|avg)?pool(\d+)$/.exec(t);
  if (pool && positive(pool[2])) return { kind: 'pool', pool: { kind: pool[1] === 'avg' ? 'avg' : 'max', size: Number(pool[2]) } };
  if (t === 'bn') return { kind: 'bn' };
  throw new LayerSpecError(`layer "${token}" is not a size (100), a convolution (conv5x5x20, conv5x5x20p2 with padding 2), a pooling (pool2, maxpool2, avgpool2) or a batch normalisation (bn)`);
}

/** A comma-separated layer list as tokens (throws LayerSpecError naming the first bad token). */
export function parseLayerList(text: string): LayerToken[] {
  return text.split(',').map(parseLayerToken);
}

/** True when a token list has a conv layer (then the input is the data's image). */
export function hasConv(tokens: readonly LayerToken[]): boolean {
  return tokens.some((t) => typeof t !== 'number' && t.kind !== 'bn');
}

/**
 * The `bn` tokens taken out of a layer list: the tokens without them, and
 * the layers l they normalise, ascending. A `bn` belongs to the parametric
 * layer (a size or a convolution) before it, after that layer's pooling or
 * before it alike (`conv5x5x20,bn,pool2` = `conv5x5x20,pool2,bn`: the
 * normalisation acts on Z, before f and the pooling). `first` is the layer
 * number of the list's first size: 0 when the list starts with the input
 * (--layers 784,100,bn,10), 1 when it lists hidden layers. Throws
 * LayerSpecError for a `bn` with no layer before it or twice on one layer.
 */
export function batchNormLayers(tokens: readonly LayerToken[], first: 0 | 1): { tokens: LayerToken[]; layers: number[] } {
  const rest: LayerToken[] = [];
  const layers: number[] = [];
  let l = first - 1;
  for (const t of tokens) {
    if (typeof t === 'number' || t.kind === 'conv') l++;
    if (typeof t === 'number' || t.kind !== 'bn') {
      rest.push(t);
      continue;
    }
    if (l < 1) throw new LayerSpecError(`layer "bn" must follow a layer it normalises (a size or a convolution${first === 0 ? ', after the input size' : ''})`);
    if (layers.includes(l)) throw new LayerSpecError(`layer "bn" twice on layer ${l}: one batch normalisation per layer`);
    layers.push(l);
  }
  return { tokens: rest, layers };
}

/**
 * The specs of the hidden layers a token list describes: each pooling joins
 * the conv layer just before it; conv layers come before dense ones (a conv
 * layer reads an image, which a dense layer no longer is).
 */
export function layerSpecs(tokens: readonly LayerToken[]): LayerSpec[] {
  const specs: LayerSpec[] = [];
  for (const t of tokens) {
    const prev = specs[specs.length - 1];
    if (typeof t === 'number') specs.push({ kind: 'dense', units: t });
    else if (t.kind === 'bn') throw new LayerSpecError('layer "bn" here: take the bn tokens out first (batchNormLayers)');
    else if (t.kind === 'conv') {
      if (prev?.kind === 'dense') throw new LayerSpecError(`layer "${formatToken(t)}" follows a dense layer: conv layers read images, so they come first`);
      specs.push({ ...t });
    } else {
      const name = `${t.pool.kind}pool${t.pool.size}`;
      if (prev?.kind !== 'conv') throw new LayerSpecError(`layer "${name}" must follow a conv layer (a pooling belongs to the convolution before it)`);
      if (prev.pool) throw new LayerSpecError(`layer "${name}" follows another pooling: one pooling per conv layer`);
      prev.pool = { ...t.pool };
    }
  }
  return specs;
}

function formatToken(s: ConvSpec): string {
  return `conv${s.kh}x${s.kw}x${s.channels}${s.padding ? `p${s.padding}` : ''}`;
}

/** A spec list written back in the --layers syntax: conv5x5x20,pool2,100,10; with `bn` after each spec k whose layer k + 1 is in batchNorm. */
export function formatLayers(specs: readonly LayerSpec[], batchNorm: ReadonlySet<number> = new Set()): string {
  return specs
    .flatMap((s, k) => {
      const bn = batchNorm.has(k + 1) ? ['bn'] : [];
      return s.kind === 'dense' ? [String(s.units), ...bn] : [formatToken(s), ...bn, ...(s.pool ? [`${s.pool.kind === 'avg' ? 'avg' : ''}pool${s.pool.size}`] : [])];
    })
    .join(',');
}

/**
 * The geometry of every layer 1..L (undefined for dense layers; index 0 is
 * the input), and sizes[l], the values each layer hands on. Throws
 * LayerSpecError when a kernel or pooling does not fit its input.
 */
export function layerGeometry(input: ImageShape, specs: readonly LayerSpec[]): { geometry: (ConvGeometry | undefined)[]; sizes: number[] } {
  let [c, h, w] = input;
  const sizes = [c * h * w];
  const geometry: (ConvGeometry | undefined)[] = [undefined];
  let image = true;
  for (const spec of specs) {
    if (spec.kind === 'dense') {
      image = false;
      sizes.push(spec.units);
      geometry.push(undefined);
      continue;
    }
    const name = formatToken(spec);
    if (!image) throw new LayerSpecError(`layer "${name}" follows a dense layer: conv layers read images, so they come first`);
    const oh = h + 2 * spec.padding - spec.kh + 1,
      ow = w + 2 * spec.padding - spec.kw + 1;
    if (oh < 1 || ow < 1) throw new LayerSpecError(`layer "${name}": a ${spec.kh}×${spec.kw} kernel does not fit its ${h}×${w} input${spec.padding ? ` padded by ${spec.padding}` : ''}`);
    if (spec.padding >= Math.max(spec.kh, spec.kw)) throw new LayerSpecError(`layer "${name}": padding ${spec.padding} must be smaller than the kernel`);
    const s = spec.pool?.size ?? 1;
    if (s > oh || s > ow) throw new LayerSpecError(`layer "${spec.pool?.kind}pool${s}": the ${oh}×${ow} maps of "${name}" are smaller than one pooling window`);
    const ph = Math.floor(oh / s),
      pw = Math.floor(ow / s);
    geometry.push({ spec, cIn: c, h, w, cOut: spec.channels, oh, ow, s, ph, pw, K: c * spec.kh * spec.kw, P: oh * ow, Q: ph * pw });
    [c, h, w] = [spec.channels, ph, pw];
    sizes.push(c * h * w);
  }
  return { geometry, sizes };
}

/** Layer l's output shape as Keras prints it: [c, h, w] for a conv layer (after its pooling), [n] for a dense one. */
export function outputShape(g: ConvGeometry | undefined, units: number): number[] {
  return g ? [g.cOut, g.ph, g.pw] : [units];
}

/**
 * Bytes a Workspace for batches of m and the network's parameters with their
 * gradients take: per dense layer Z, A, δ (n_l × m, and the dropout mask and
 * masked copy); per conv layer Z, A, δ (c_out × m·P), the pooled output and
 * its gradient (m × n_l), the arg-max table and cols(A) and its gradient
 * (K × m·P each); the input batch (m × n_0).
 */
export function workspaceBytes(sizes: readonly number[], geometry: readonly (ConvGeometry | undefined)[], m: number, bytesPer: number): number {
  let values = m * sizes[0],
    ints = 0;
  for (let l = 1; l < sizes.length; l++) {
    const g = geometry[l];
    if (!g) {
      values += 5 * sizes[l] * m + 3 * sizes[l] * sizes[l - 1] + 3 * sizes[l];
      continue;
    }
    values += 3 * g.cOut * m * g.P + 2 * sizes[l] * m + 2 * g.K * m * g.P + 3 * g.cOut * (g.K + 1);
    ints += sizes[l] * m;
  }
  return values * bytesPer + ints * 4;
}
