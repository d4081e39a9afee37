import { decimal } from './csv.js';
import type { Float } from '../linalg/index.js';
import type { Rng } from '../base/rng.js';

/**
 * Data augmentation of image batches, after Simard, Steinkraus & Platt 2003,
 * "Best Practices for Convolutional Neural Networks Applied to Visual
 * Document Analysis" (ICDAR), §2: each training image is distorted afresh
 * each time it is drawn, by a small random affine transform and an elastic
 * distortion, so that the network sees new, plausible digits every epoch.
 * Each part is off when absent.
 */
export interface AugmentConfig {
  /** t ~ U(−shift, shift)² pixels: the content moves by t. */
  shift?: number;
  /** θ ~ U(−rotate, rotate) degrees: the content turns by θ about the centre. */
  rotate?: number;
  /** s ~ U(1 − scale, 1 + scale): the content grows by s about the centre. */
  scale?: number;
  /** Simard's elastic distortion: the displacement α·(G_σ * U), U ~ U(−1, 1) per pixel (α and σ in pixels). */
  elastic?: { alpha: number; sigma: number };
}

/** What `--augment` accepts, with the value each name takes when it is given without one. */
export const AUGMENT_DEFAULTS = { shift: 2, rotate: 10, scale: 0.1, elastic: { alpha: 34, sigma: 4 } } as const;

const NAMES = ['shift', 'rotate', 'scale', 'elastic'] as const;

/** Smallest elastic σ: round(4σ) = 1, the narrowest Gaussian kernel that smooths (three taps). */
export const MIN_SIGMA = 0.125;

/**
 * Parses `--augment`: a comma-separated list of shift[=PX], rotate[=DEG],
 * scale[=S] and elastic[=α[:σ]], e.g. "shift=2,elastic=34:4". Throws an
 * Error saying what was expected.
 */
export function parseAugment(spec: string): AugmentConfig {
  const config: Record<string, unknown> = {};
  const items = spec.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new Error(`expected a comma-separated list of ${NAMES.join(', ')} (each may take =value), e.g. shift=2,elastic=34:4.`);
  for (const item of items) {
    const [name, value, ...rest] = item.split('=');
    if (!(NAMES as readonly string[]).includes(name) || rest.length) throw new Error(`"${item}": expected shift[=px], rotate[=degrees], scale[=s] or elastic[=α[:σ]].`);
    if (name in config) throw new Error(`${name} is given twice.`);
    const num = decimal;
    if (name === 'elastic') {
      const [a, s, ...more] = value === undefined ? [] : value.split(':');
      config.elastic = { alpha: a === undefined ? AUGMENT_DEFAULTS.elastic.alpha : num(a), sigma: s === undefined ? AUGMENT_DEFAULTS.elastic.sigma : num(s) };
      if (more.length) throw new Error(`"${item}": expected elastic=α or elastic=α:σ.`);
    } else config[name] = value === undefined ? AUGMENT_DEFAULTS[name as 'shift' | 'rotate' | 'scale'] : num(value);
  }
  const problem = augmentProblem(config);
  if (problem) throw new Error(`${problem}.`);
  return config as AugmentConfig;
}

/** Why a configuration (parsed, or read back from a checkpoint) cannot be used, or undefined. */
export function augmentProblem(c: unknown): string | undefined {
  if (!c || typeof c !== 'object' || Array.isArray(c)) return 'not an object';
  const r = c as Record<string, unknown>;
  const inRange = (v: unknown, max: number) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max;
  for (const k of Object.keys(r)) if (!(NAMES as readonly string[]).includes(k)) return `unknown part ${JSON.stringify(k)}`;
  if (r.shift !== undefined && !inRange(r.shift, 1e6)) return `shift ${String(r.shift)} must be a number of pixels from 0 to 1e6`;
  if (r.rotate !== undefined && !inRange(r.rotate, 180)) return `rotate ${String(r.rotate)} must be a number of degrees from 0 to 180`;
  if (r.scale !== undefined && !(inRange(r.scale, 1) && r.scale !== 1)) return `scale ${String(r.scale)} must be a number in [0, 1)`;
  if (r.elastic !== undefined) {
    const e = r.elastic as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || !inRange(e.alpha, 1e6)) return `elastic α ${String(e?.alpha)} must be a number from 0 to 1e6`;
    if (!inRange(e.sigma, 1e6) || e.sigma === 0) return `elastic σ ${String(e.sigma)} must be a positive number up to 1e6`;
    // Below 1/8 pixel G_σ truncates to the single tap [1] (r = round(4σ) = 0): no smoothing, and for σ² below
    // the smallest double, exp(−0/0) = NaN images that training would then blame on η.
    if ((e.sigma as number) < MIN_SIGMA) return `elastic σ ${String(e.sigma)} is below ${MIN_SIGMA} pixel: the Gaussian would not smooth the field at all; use σ ≥ ${MIN_SIGMA} (Simard's is 4)`;
  }
  if (!NAMES.some((k) => r[k] !== undefined)) return 'names no transform';
  return undefined;
}

/** The configuration as `--augment` takes it: "shift=2,elastic=34:4" (what the header, the model's metadata and the README show). */
export function augmentLabel(c: AugmentConfig): string {
  const parts: string[] = [];
  if (c.shift !== undefined) parts.push(`shift=${c.shift}`);
  if (c.rotate !== undefined) parts.push(`rotate=${c.rotate}`);
  if (c.scale !== undefined) parts.push(`scale=${c.scale}`);
  if (c.elastic) parts.push(`elastic=${c.elastic.alpha}:${c.elastic.sigma}`);
  return parts.join(',');
}

/**
 * One draw of the distortion: the output pixel p = (x, y) = (column, row)
 * takes the source value at
 *
 *   p′ = c + A (p − c − t) − Δ(p),    A = R(−θ) / s,
 *
 * c the image centre, t the shift, R(θ) the rotation by θ, s the scale and Δ
 * the elastic displacement field (absent: 0). The content so moves by t,
 * turns by θ and grows by s, and locally moves by Δ.
 */
export interface Warp {
  tx: number;
  ty: number;
  /** A = [[a11, a12], [a21, a22]] acting on (x, y). */
  a11: number;
  a12: number;
  a21: number;
  a22: number;
  /** Δ per pixel (row-major, rows·cols values), or absent. */
  dx?: Float64Array;
  dy?: Float64Array;
}

/** No distortion: p′ = p. */
export const IDENTITY_WARP: Warp = { tx: 0, ty: 0, a11: 1, a12: 0, a21: 0, a22: 1 };

/**
 * out[o + p] ← I(p′), I the rows×cols image src[s ..] read by bilinear
 * interpolation (Simard et al. §2: "bilinear interpolation" of the
 * displaced grid), 0 outside the image:
 *
 *   I(x′, y′) = (1 − β)((1 − α) I₀₀ + α I₀₁) + β((1 − α) I₁₀ + α I₁₁),
 *   x′ = x₀ + α, y′ = y₀ + β, I_ij the pixel at (x₀ + j, y₀ + i).
 *
 * A convex combination of its four neighbours, so the result lies between
 * their least and largest value; it is clamped there against rounding, so
 * an image in [0, 1] stays in [0, 1]. p′ on the pixel grid (the identity,
 * whole-pixel shifts) gives the source value exactly.
 */
export function warp(src: Float, s: number, out: Float, o: number, rows: number, cols: number, w: Warp): void {
  const cx = (cols - 1) / 2,
    cy = (rows - 1) / 2;
  const { a11, a12, a21, a22, dx, dy } = w;
  const px = (x0: number, y0: number) => (x0 >= 0 && x0 < cols && y0 >= 0 && y0 < rows ? src[s + y0 * cols + x0] : 0);
  for (let y = 0, k = 0; y < rows; y++) {
    const v = y - cy - w.ty;
    for (let x = 0; x < cols; x++, k++) {
      const u = x - cx - w.tx;
      // p′ = c + A (p − c − t) − Δ(p)
      let xs = cx + a11 * u + a12 * v,
        ys = cy + a21 * u + a22 * v;
      if (dx && dy) {
        xs -= dx[k];
        ys -= dy[k];
      }
      const x0 = Math.floor(xs),
        y0 = Math.floor(ys);
      if (x0 < -1 || x0 >= cols || y0 < -1 || y0 >= rows) {
        out[o + k] = 0; // all four neighbours outside
        continue;
      }
      const al = xs - x0,
        be = ys - y0;
      const i00 = px(x0, y0),
        i01 = px(x0 + 1, y0),
        i10 = px(x0, y0 + 1),
        i11 = px(x0 + 1, y0 + 1);
      const top = i00 + al * (i01 - i00),
        bottom = i10 + al * (i11 - i10);
      const value = top + be * (bottom - top);
      const lo = Math.min(i00, i01, i10, i11),
        hi = Math.max(i00, i01, i10, i11);
      out[o + k] = value < lo ? lo : value > hi ? hi : value;
    }
  }
}

/**
 * The normalised Gaussian G_σ(k) = exp(−k²/2σ²) / Σ_j exp(−j²/2σ²) for
 * |k| ≤ r, r = round(4σ) as scipy.ndimage.gaussian_filter truncates it, but
 * no wider than the image (beyond it the padding is 0).
 */
export function gaussianKernel(sigma: number, maxRadius: number): Float64Array {
  const r = Math.max(0, Math.min(Math.round(4 * sigma), maxRadius));
  const g = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let k = -r; k <= r; k++) sum += g[k + r] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < g.length; k++) g[k] /= sum;
  return g;
}

/**
 * Distorts image batches in place, each image with its own draw (Simard et
 * al. 2003, §2), from the run's seeded RNG, so a run and its --resume see the
 * same images. Per image, in this order, only for the parts configured:
 *
 *   t = shift · (2u − 1, 2u − 1)           u ~ U(0, 1) each
 *   θ = rotate · π/180 · (2u − 1)
 *   s = 1 + scale · (2u − 1)
 *   Δ = α · (G_σ * U), U(p) ~ U(−1, 1)      per pixel (2⁻³¹ × a 32-bit draw − 1), for x, then y
 *
 * G_σ * U is the separable convolution with the kernel above, zero outside
 * the image ("mode constant"); σ sets how smooth the field is, α how far it
 * moves pixels (Simard's σ = 4, α = 34 for MNIST digits). Then warp().
 * Buffers are allocated once; a batch allocates nothing.
 */
export class Augmenter {
  private readonly source: Float64Array;
  private readonly dx?: Float64Array;
  private readonly dy?: Float64Array;
  private readonly tmp?: Float64Array;
  private readonly kernel?: Float64Array;
  private readonly w: Warp = { ...IDENTITY_WARP };

  constructor(
    readonly config: AugmentConfig,
    readonly rows: number,
    readonly cols: number,
  ) {
    const n = rows * cols;
    this.source = new Float64Array(n);
    if (config.elastic) {
      this.dx = new Float64Array(n);
      this.dy = new Float64Array(n);
      this.tmp = new Float64Array(n);
      this.kernel = gaussianKernel(config.elastic.sigma, Math.max(rows, cols) - 1);
      this.w.dx = this.dx;
      this.w.dy = this.dy;
    }
  }

  /** Distorts the m images of x (one per row of rows·cols values: Workspace.x) in place. */
  batch(x: Float, m: number, rng: Rng): void {
    const n = this.rows * this.cols;
    if (x.length < m * n) throw new Error(`augment: a batch of ${m} needs ${m * n} values, the buffer has ${x.length}`);
    for (let j = 0; j < m; j++) this.image(x, j * n, rng);
  }

  /** Distorts the image x[o .. o + rows·cols) in place with a fresh draw. */
  image(x: Float, o: number, rng: Rng): void {
    const { config: c, w, source } = this;
    const sym = () => 2 * rng.uniform() - 1; // U(−1, 1)
    w.tx = c.shift ? c.shift * sym() : 0;
    w.ty = c.shift ? c.shift * sym() : 0;
    const theta = c.rotate ? ((c.rotate * Math.PI) / 180) * sym() : 0;
    const s = c.scale ? 1 + c.scale * sym() : 1;
    // A = R(−θ)/s = [[cos θ, sin θ], [−sin θ, cos θ]] / s
    const cos = theta ? Math.cos(theta) / s : 1 / s,
      sin = theta ? Math.sin(theta) / s : 0;
    w.a11 = cos;
    w.a12 = sin;
    w.a21 = -sin;
    w.a22 = cos;
    if (c.elastic && this.dx && this.dy) {
      this.field(this.dx, c.elastic.alpha, rng);
      this.field(this.dy, c.elastic.alpha, rng);
    }
    for (let k = 0; k < source.length; k++) source[k] = x[o + k];
    warp(source, 0, x, o, this.rows, this.cols, w);
  }

  /** d ← α · (G_σ * U), U(p) ~ U(−1, 1): rows first, then columns, zero outside (each pass a sum of shifted rows: contiguous inner loops). */
  private field(d: Float64Array, alpha: number, rng: Rng): void {
    const { rows, cols } = this;
    const g = this.kernel as Float64Array,
      t = this.tmp as Float64Array;
    const r = (g.length - 1) / 2;
    for (let k = 0; k < d.length; k++) d[k] = rng.nextUint32() * 4.656612873077393e-10 - 1; // U(−1, 1): u32 · 2⁻³¹ − 1
    // t(x, y) = Σ_k G(k) U(x + k, y)
    t.fill(0);
    for (let y = 0; y < rows; y++) {
      const row = y * cols;
      for (let k = -r; k <= r; k++) {
        const gk = g[k + r];
        const lo = Math.max(0, -k),
          hi = Math.min(cols, cols - k);
        for (let x = lo; x < hi; x++) t[row + x] += gk * d[row + x + k];
      }
    }
    // d(x, y) = α Σ_k G(k) t(x, y + k)
    d.fill(0);
    for (let y = 0; y < rows; y++) {
      const row = y * cols;
      const lo = Math.max(-r, -y),
        hi = Math.min(r, rows - 1 - y);
      for (let k = lo; k <= hi; k++) {
        const gk = alpha * g[k + r],
          from = (y + k) * cols;
        for (let x = 0; x < cols; x++) d[row + x] += gk * t[from + x];
      }
    }
  }
}
