import { describe, expect, it } from 'vitest';
import { Augmenter, augmentLabel, augmentProblem, gaussianKernel, IDENTITY_WARP, MIN_SIGMA, parseAugment, warp } from '../../src/data/augment.js';
import { Rng } from '../../src/base/rng.js';

/** A rows×cols image of zeros with 1 at (x, y) = (column, row). */
function dot(rows: number, cols: number, x: number, y: number): Float32Array {
  const img = new Float32Array(rows * cols);
  img[y * cols + x] = 1;
  return img;
}

function randomImages(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * dim }, () => rng.uniform());
}

const at = (img: ArrayLike<number>, cols: number) => {
  const on: [number, number][] = [];
  for (let i = 0; i < img.length; i++) if (img[i] !== 0) on.push([i % cols, Math.floor(i / cols)]);
  return on;
};

describe('augment: the warp', () => {
  it('a whole-pixel shift t moves a known pixel by t, exactly, and drops what leaves the image', () => {
    const out = new Float32Array(6 * 7);
    warp(dot(6, 7, 2, 1), 0, out, 0, 6, 7, { ...IDENTITY_WARP, tx: 3, ty: 2 });
    expect(at(out, 7)).toEqual([[5, 3]]);
    expect(out[3 * 7 + 5]).toBe(1);
    warp(dot(6, 7, 2, 1), 0, out, 0, 6, 7, { ...IDENTITY_WARP, tx: -3, ty: 0 });
    expect(at(out, 7)).toEqual([]); // moved off the left edge
  });

  it('a half-pixel shift splits a pixel between its two neighbours (bilinear interpolation)', () => {
    const out = new Float64Array(25);
    warp(Float64Array.from(dot(5, 5, 2, 2)), 0, out, 0, 5, 5, { ...IDENTITY_WARP, tx: 0.5 });
    expect(at(out, 5)).toEqual([
      [2, 2],
      [3, 2],
    ]);
    expect([out[12], out[13]]).toEqual([0.5, 0.5]);
  });

  it('A = R(−θ) with θ = 90° turns the content a quarter about the centre: (4, 2) goes to (2, 4)', () => {
    const out = new Float64Array(25);
    warp(dot(5, 5, 4, 2), 0, out, 0, 5, 5, { ...IDENTITY_WARP, a11: 0, a12: 1, a21: -1, a22: 0 });
    expect(at(out, 5)).toEqual([[2, 4]]);
    expect(out[4 * 5 + 2]).toBe(1);
  });

  it('reads from and writes to the offsets given (one row of a batch)', () => {
    const src = new Float32Array(2 * 9);
    src.set(dot(3, 3, 0, 0), 9);
    const out = new Float32Array(3 * 9).fill(7);
    warp(src, 9, out, 18, 3, 3, { ...IDENTITY_WARP, tx: 1, ty: 1 });
    expect(Array.from(out.subarray(0, 18))).toEqual(new Array(18).fill(7));
    expect(at(out.subarray(18), 3)).toEqual([[1, 1]]);
  });

  it('the Gaussian kernel is symmetric, sums to 1, is 4σ wide, and no wider than the image', () => {
    const g = gaussianKernel(4, 27);
    expect(g.length).toBe(33);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    for (let k = 0; k < 16; k++) expect(g[k]).toBe(g[32 - k]);
    expect(g[16] / g[20]).toBeCloseTo(Math.exp(16 / 32), 12);
    expect(gaussianKernel(100, 27).length).toBe(55);
  });
});

describe('augment: the Augmenter', () => {
  it('elastic with α = 0 is the identity (no shift, rotation or scale either)', () => {
    const x = randomImages(4, 28 * 28, 3);
    const before = Float32Array.from(x);
    new Augmenter({ elastic: { alpha: 0, sigma: 4 } }, 28, 28).batch(x, 4, new Rng(1));
    expect(x).toEqual(before);
    new Augmenter(parseAugment('shift=0,rotate=0,scale=0,elastic=0:2'), 28, 28).batch(x, 4, new Rng(1));
    expect(x).toEqual(before);
  });

  it('every transform keeps images in [0, 1], and an image of ones stays ≤ 1', () => {
    const a = new Augmenter(parseAugment('shift=3,rotate=30,scale=0.3,elastic=60:3'), 12, 12);
    const rng = new Rng(9);
    const before = randomImages(50, 144, 4);
    const x = Float32Array.from(before);
    a.batch(x, 50, rng);
    const ones = new Float64Array(20 * 144).fill(1);
    a.batch(ones, 20, rng);
    for (const v of [...x, ...ones]) expect(v >= 0 && v <= 1).toBe(true);
    expect(ones.some((v) => v === 0)).toBe(true); // content moved off the edge leaves zeros
    expect(x.some((v, i) => v !== before[i])).toBe(true); // and it did change the images
  });

  it('the same seed gives the same batch; another seed another; the RNG ends in the same state', () => {
    const cfg = parseAugment('shift,rotate,scale,elastic');
    const distort = (seed: number) => {
      const x = randomImages(8, 784, 5);
      const rng = new Rng(seed);
      new Augmenter(cfg, 28, 28).batch(x, 8, rng);
      return { x, state: rng.state() };
    };
    const a = distort(1),
      b = distort(1),
      c = distort(2);
    expect(a.x).toEqual(b.x);
    expect(a.state).toEqual(b.state);
    expect(a.x).not.toEqual(c.x);
  });

  it('each image of a batch gets its own draw; only the first m rows are touched', () => {
    const one = dot(10, 10, 5, 5);
    const x = new Float32Array(4 * 100);
    for (let j = 0; j < 4; j++) x.set(one, j * 100);
    new Augmenter({ shift: 2 }, 10, 10).batch(x, 3, new Rng(3));
    const rows = [0, 1, 2].map((j) => Array.from(x.subarray(j * 100, (j + 1) * 100)).join());
    expect(new Set(rows).size).toBe(3);
    expect(x.subarray(300)).toEqual(one);
  });
});

describe('augment: --augment specs', () => {
  it('parses names with their defaults and values, and prints them back as given', () => {
    expect(parseAugment('shift')).toEqual({ shift: 2 });
    expect(parseAugment('elastic')).toEqual({ elastic: { alpha: 34, sigma: 4 } });
    expect(parseAugment('elastic=20')).toEqual({ elastic: { alpha: 20, sigma: 4 } });
    const c = parseAugment(' shift=1.5, rotate=12,scale=0.05,elastic=34:4.5');
    expect(c).toEqual({ shift: 1.5, rotate: 12, scale: 0.05, elastic: { alpha: 34, sigma: 4.5 } });
    expect(augmentLabel(c)).toBe('shift=1.5,rotate=12,scale=0.05,elastic=34:4.5');
    expect(parseAugment(augmentLabel(c))).toEqual(c);
  });

  it('refuses what it cannot do, saying what it expected', () => {
    for (const [spec, msg] of [
      ['', /comma-separated list/],
      ['shift,', /comma-separated list/],
      ['blur', /"blur": expected shift\[=px\]/],
      ['shift=1=2', /"shift=1=2"/],
      ['shift=1,shift=2', /shift is given twice/],
      ['shift=-1', /shift -1 must be a number of pixels from 0 to 1e6/],
      ['shift=1e9', /shift 1000000000 must be a number of pixels from 0 to 1e6/], // said "≥ 0" of a positive value
      ['shift=', /shift NaN/],
      ['rotate=200', /rotate 200 must be a number of degrees from 0 to 180/],
      ['scale=1', /scale 1 must be a number in \[0, 1\)/],
      ['elastic=34:0', /elastic σ 0 must be a positive number up to 1e6/],
      ['elastic=-1:4', /elastic α -1 must be a number from 0 to 1e6/],
      ['elastic=1e9:4', /elastic α 1000000000 must be a number from 0 to 1e6/],
      ['elastic=1:2:3', /expected elastic=α or elastic=α:σ/],
    ] as const)
      expect(() => parseAugment(spec), spec).toThrow(msg);
  });

  it('checks a configuration read back from a checkpoint', () => {
    expect(augmentProblem({ shift: 2, elastic: { alpha: 34, sigma: 4 } })).toBeUndefined();
    expect(augmentProblem({})).toMatch(/names no transform/);
    expect(augmentProblem({ blur: 1 })).toMatch(/^unknown part "blur"$/);
    expect(augmentProblem({ elastic: null })).toMatch(/elastic α/);
    expect(augmentProblem({ shift: 'x' })).toMatch(/shift x/);
    expect(augmentProblem([1])).toMatch(/^not an object$/);
  });

  it('the ends of each range are accepted, and the first value past them refused with its message', () => {
    expect(parseAugment('shift=1e6,rotate=180,scale=0,elastic=1e6:1e6')).toEqual({ shift: 1e6, rotate: 180, scale: 0, elastic: { alpha: 1e6, sigma: 1e6 } });
    expect(parseAugment('scale=0.999')).toEqual({ scale: 0.999 });
    expect(parseAugment(`elastic=0:${MIN_SIGMA}`)).toEqual({ elastic: { alpha: 0, sigma: 0.125 } });
    for (const [c, msg] of [
      [{ shift: 1000001 }, 'shift 1000001 must be a number of pixels from 0 to 1e6'],
      [{ shift: Infinity }, 'shift Infinity must be a number of pixels from 0 to 1e6'],
      [{ rotate: 180.5 }, 'rotate 180.5 must be a number of degrees from 0 to 180'],
      [{ rotate: -1 }, 'rotate -1 must be a number of degrees from 0 to 180'],
      [{ scale: -0.1 }, 'scale -0.1 must be a number in [0, 1)'],
      [{ scale: 1.5 }, 'scale 1.5 must be a number in [0, 1)'],
      [{ elastic: 5 }, 'elastic α undefined must be a number from 0 to 1e6'],
      [{ elastic: { alpha: 1000001, sigma: 4 } }, 'elastic α 1000001 must be a number from 0 to 1e6'],
      [{ elastic: { alpha: 1, sigma: 1000001 } }, 'elastic σ 1000001 must be a positive number up to 1e6'],
      [{ elastic: { alpha: 1, sigma: -1 } }, 'elastic σ -1 must be a positive number up to 1e6'],
      [{ elastic: { alpha: 1, sigma: '4' } }, 'elastic σ 4 must be a positive number up to 1e6'],
      [{ elastic: { alpha: 1, sigma: 0.1249 } }, "elastic σ 0.1249 is below 0.125 pixel: the Gaussian would not smooth the field at all; use σ ≥ 0.125 (Simard's is 4)"],
      [{ shift: undefined }, 'names no transform'],
      [null, 'not an object'],
      ['shift', 'not an object'],
    ] as const)
      expect(augmentProblem(c), JSON.stringify(c)).toBe(msg);
    expect(() => parseAugment('elastic=1:0.1')).toThrow("elastic σ 0.1 is below 0.125 pixel: the Gaussian would not smooth the field at all; use σ ≥ 0.125 (Simard's is 4).");
  });

  it('an empty item: the message lists the four names', () => {
    expect(() => parseAugment('shift,,rotate')).toThrow('expected a comma-separated list of shift, rotate, scale, elastic (each may take =value), e.g. shift=2,elastic=34:4.');
  });

  it('labels each part given, in the order shift, rotate, scale, elastic, whatever order it was given in', () => {
    expect(augmentLabel({ elastic: { alpha: 1, sigma: 2 }, scale: 0.5, rotate: 3, shift: 0 })).toBe('shift=0,rotate=3,scale=0.5,elastic=1:2');
    expect(augmentLabel({ rotate: 0 })).toBe('rotate=0');
    expect(augmentLabel({ scale: 0 })).toBe('scale=0');
    expect(augmentLabel({ elastic: { alpha: 0, sigma: 4 } })).toBe('elastic=0:4');
  });

  it('a batch needs m images of rows·cols values in the buffer: exactly that is enough', () => {
    const a = new Augmenter({ shift: 1 }, 3, 4);
    expect(() => a.batch(new Float32Array(23), 2, new Rng(1))).toThrow('augment: a batch of 2 needs 24 values, the buffer has 23');
    const x = new Float32Array(24).fill(1);
    a.batch(x, 2, new Rng(1));
    expect(x.some((v) => v !== 1)).toBe(true);
  });
});

type Config = { shift?: number; rotate?: number; scale?: number; elastic?: { alpha: number; sigma: number } };

/**
 * Simard et al.'s distortion written out the slow way, independently of src/data/augment.ts: the draws taken from rng
 * in the documented order (shift x, shift y, θ, s, then U for Δx and for Δy), the field smoothed by the 2-D sum
 * Δ(p) = α Σ_i Σ_j G(i) G(j) U(p + (i, j)) (zero outside), G the normalised Gaussian of radius round(4σ) (at most the
 * image's larger side − 1) written out here, and every output pixel read at p′ = c + R(−θ)(p − c − t)/s − Δ(p) by
 * bilinear interpolation, 0 outside.
 */
function slowDistort(img: ArrayLike<number>, rows: number, cols: number, c: Config, rng: Rng): number[] {
  const sym = () => 2 * rng.uniform() - 1;
  const tx = c.shift ? c.shift * sym() : 0;
  const ty = c.shift ? c.shift * sym() : 0;
  const theta = c.rotate ? ((c.rotate * Math.PI) / 180) * sym() : 0;
  const s = c.scale ? 1 + c.scale * sym() : 1;
  const n = rows * cols;
  const fields: number[][] = [];
  if (c.elastic) {
    const { alpha, sigma } = c.elastic;
    const r = Math.min(Math.round(4 * sigma), Math.max(rows, cols) - 1);
    const weights: number[] = [];
    for (let k = -r; k <= r; k++) weights.push(Math.exp(-(k * k) / (2 * sigma * sigma)));
    const total = weights.reduce((a, b) => a + b, 0);
    const G = (k: number) => (Math.abs(k) <= r ? weights[k + r] / total : 0);
    for (let f = 0; f < 2; f++) {
      const U = Array.from({ length: n }, () => rng.nextUint32() / 2 ** 31 - 1);
      const d: number[] = [];
      for (let y = 0; y < rows; y++)
        for (let x = 0; x < cols; x++) {
          let sum = 0;
          for (let yy = 0; yy < rows; yy++) for (let xx = 0; xx < cols; xx++) sum += G(xx - x) * G(yy - y) * U[yy * cols + xx];
          d.push(alpha * sum);
        }
      fields.push(d);
    }
  }
  const cx = (cols - 1) / 2,
    cy = (rows - 1) / 2;
  const pixel = (x: number, y: number) => (x >= 0 && x < cols && y >= 0 && y < rows ? img[y * cols + x] : 0);
  const out: number[] = [];
  for (let y = 0; y < rows; y++)
    for (let x = 0; x < cols; x++) {
      const u = x - cx - tx,
        v = y - cy - ty;
      let xs = cx + (Math.cos(theta) * u + Math.sin(theta) * v) / s,
        ys = cy + (-Math.sin(theta) * u + Math.cos(theta) * v) / s;
      if (fields.length) {
        xs -= fields[0][y * cols + x];
        ys -= fields[1][y * cols + x];
      }
      const x0 = Math.floor(xs),
        y0 = Math.floor(ys),
        a = xs - x0,
        b = ys - y0;
      out.push((1 - b) * ((1 - a) * pixel(x0, y0) + a * pixel(x0 + 1, y0)) + b * ((1 - a) * pixel(x0, y0 + 1) + a * pixel(x0 + 1, y0 + 1)));
    }
  return out;
}

describe('augment: the Augmenter against the distortion written out the slow way', () => {
  // 9 rows × 11 columns (not square, so that rows and columns cannot be swapped unseen), three random images.
  const rows = 9,
    cols = 11,
    n = rows * cols;
  /** The batch distorted by the Augmenter and by slowDistort, image after image from one stream; returns both. */
  const both = (config: Config, seed: number) => {
    const x = randomImages(3, n, seed + 100);
    const expected: number[] = [];
    const replay = new Rng(seed);
    for (let j = 0; j < 3; j++) expected.push(...slowDistort(x.subarray(j * n, (j + 1) * n), rows, cols, config, replay));
    const y = Float64Array.from(x);
    const rng = new Rng(seed);
    new Augmenter(config, rows, cols).batch(y, 3, rng);
    expect(rng.state()).toEqual(replay.state()); // the same number of draws
    return { y, expected, x };
  };
  const same = (y: ArrayLike<number>, expected: number[]) => {
    expect(y.length).toBe(expected.length);
    for (let i = 0; i < y.length; i++) expect(y[i], `value ${i}`).toBeCloseTo(expected[i], 12);
  };

  it('shift alone: t = shift · (2u − 1, 2u − 1), a different draw for x and y', () => {
    const { y, expected } = both({ shift: 3 }, 1);
    same(y, expected);
  });

  it('rotate alone: a rotation by θ about the centre, not a stretch or a shear', () => {
    const { y, expected } = both({ rotate: 40 }, 2);
    same(y, expected);
  });

  it('scale alone: the content grows by s about the centre', () => {
    const { y, expected } = both({ scale: 0.4 }, 3);
    same(y, expected);
  });

  it('elastic alone: the field U smoothed by G_σ along rows and along columns, times α (σ = 1, α = 3)', () => {
    const { y, expected } = both({ elastic: { alpha: 3, sigma: 1 } }, 4);
    same(y, expected);
  });

  it('elastic with a kernel cut to the image (σ = 4: round(4σ) = 16 > 10) and a large α', () => {
    const { y, expected } = both({ elastic: { alpha: 34, sigma: 4 } }, 5);
    same(y, expected);
  });

  it('all four parts together, in the documented order of draws', () => {
    const { y, expected } = both({ shift: 2, rotate: 15, scale: 0.2, elastic: { alpha: 5, sigma: 1.5 } }, 6);
    same(y, expected);
  });
});
