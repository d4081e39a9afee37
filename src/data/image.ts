import { createRequire } from 'node:module';
import type { PNG } from 'pngjs';
import { inflateSync } from 'node:zlib';
import { DataError, readDataFile } from './dataset.js';
import { checkImageSize } from './limits.js';

/** A greyscale image, values in [0, 1], row-major. */
export interface Grey {
  width: number;
  height: number;
  data: Float32Array;
}

/** Reads a PNG (any colour type; transparency is composed over white) or a PGM (P2/P5). */
export function readImage(path: string): Grey {
  const buf = readDataFile(path);
  if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return decodePng(buf, path);
  if (buf[0] === 0x50 && (buf[1] === 0x32 || buf[1] === 0x35)) return decodePgm(buf, path);
  throw new DataError(`${path}: not a PNG or PGM image`);
}

function decodePng(buf: Buffer, path: string): Grey {
  // The size is in the IHDR chunk, which must come first: checked before anything is inflated.
  if (buf.length < 24 || buf.toString('latin1', 12, 16) !== 'IHDR') throw new DataError(`${path}: corrupt PNG (no IHDR chunk)`);
  const [width0, height0] = [buf.readUInt32BE(16), buf.readUInt32BE(20)];
  checkImageSize(width0, height0, path);
  // The image data, inflated here with a bound (pngjs bounds only non-interlaced images) and, for a
  // non-interlaced image, checked to be complete: height rows of 1 filter byte + ⌈width·bits/8⌉ bytes
  // (pngjs pads a short one with zeros, which would classify an image that is not there).
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= buf.length;) {
    const len = buf.readUInt32BE(at);
    if (buf.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(buf.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const most = 2 * height0 * (8 * width0 + 1) + 65536; // 8 bytes a pixel at most (RGBA, 16 bits), twice for the passes' filter bytes
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: most });
  } catch (e) {
    throw new DataError(
      `${path}: corrupt PNG (${(e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? `its image data inflates to more than a ${width0}x${height0} image can hold` : (e as Error).message})`,
    );
  }
  const channels: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  const bits = buf[24] * (channels[buf[25]] ?? 0);
  const expected = height0 * (1 + Math.ceil((width0 * bits) / 8));
  if (buf[28] === 0 && bits > 0 && raw.length < expected) {
    throw new DataError(`${path}: corrupt PNG (its image data holds ${raw.length} of the ${expected} bytes a ${width0}x${height0} image needs)`);
  }
  let png: PNG;
  try {
    // pngjs loads on first use: only predict reads images.
    png = (createRequire(import.meta.url)('pngjs') as typeof import('pngjs')).PNG.sync.read(buf);
  } catch (e) {
    throw new DataError(`${path}: corrupt PNG (${(e as Error).message})`);
  }
  const { width, height, data } = png;
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    const a = data[4 * i + 3] / 255;
    const lum = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
    out[i] = a * lum + (1 - a); // over a white background
  }
  return { width, height, data: out };
}

function decodePgm(buf: Buffer, path: string): Grey {
  // Header tokens: magic, width, height, maxval (comments start with #).
  const tokens: string[] = [];
  let i = 0;
  while (tokens.length < 4 && i < buf.length) {
    while (i < buf.length && /\s/.test(String.fromCharCode(buf[i]))) i++;
    if (buf[i] === 0x23) {
      while (i < buf.length && buf[i] !== 0x0a) i++;
      continue;
    }
    let t = '';
    while (i < buf.length && !/\s/.test(String.fromCharCode(buf[i]))) t += String.fromCharCode(buf[i++]);
    tokens.push(t);
  }
  const [magic, w, h, max] = [tokens[0], Number(tokens[1]), Number(tokens[2]), Number(tokens[3])];
  if (magic !== 'P2' && magic !== 'P5') throw new DataError(`${path}: bad PGM header (magic ${magic}, expected P2 or P5)`);
  if (![w, h, max].every((x) => Number.isInteger(x) && x >= 0) || max > 65535 || max === 0) throw new DataError(`${path}: bad PGM header (width, height and maxval 1–65535 expected)`);
  checkImageSize(w, h, path);
  const n = w * h;
  const aboveMax = (k: number, v: number): never => {
    throw new DataError(`${path}: sample ${v} at index ${k} (row ${Math.floor(k / w)}, column ${k % w}) is above the header's maxval ${max}`);
  };
  const out = new Float32Array(n);
  if (magic === 'P5') {
    const start = i + 1;
    const bytes = max > 255 ? 2 : 1;
    if (buf.length < start + n * bytes) throw new DataError(`${path}: truncated PGM (${w}x${h} needs ${n * bytes} bytes of pixels)`);
    for (let k = 0; k < n; k++) {
      const v = bytes === 2 ? buf.readUInt16BE(start + 2 * k) : buf[start + k];
      if (v > max) aboveMax(k, v);
      out[k] = v / max;
    }
  } else {
    const values = buf
      .subarray(i)
      .toString('ascii')
      .replace(/#[^\n]*/g, '')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (values.length < n || values.slice(0, n).some((v) => !Number.isFinite(v))) throw new DataError(`${path}: PGM has fewer than ${n} pixel values`);
    for (let k = 0; k < n; k++) {
      const v = values[k];
      if (!Number.isInteger(v) || v < 0) throw new DataError(`${path}: sample ${v} at index ${k} is not an integer from 0 to ${max}`);
      if (v > max) aboveMax(k, v);
      out[k] = v / max;
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * MNIST-style preprocessing to 28×28, white ink on black, values in [0, 1]:
 * 1. invert when the background is light (mean > 0.5): MNIST digits are light on dark;
 * 2. a 28×28 image is otherwise used as it is;
 * 3. larger images: crop to the bounding box of the ink (pixels above 20% of the
 *    brightest), scale its longer side to 20 pixels (box filter), and place it
 *    in a 28×28 frame with its centre of mass at the centre — how MNIST was made.
 */
export function toMnist(img: Grey, name: string): Float32Array {
  const { width: w, height: h } = img;
  let mean = 0;
  for (const v of img.data) mean += v;
  mean /= img.data.length;
  const ink = Float32Array.from(img.data, (v) => (mean > 0.5 ? 1 - v : v));
  if (w === 28 && h === 28) return ink;
  let max = 0;
  for (const v of ink) max = Math.max(max, v);
  if (max <= 0.05) throw new DataError(`${name}: no ink found (the image is blank)`);
  let x0 = w,
    x1 = -1,
    y0 = h,
    y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (ink[y * w + x] > 0.2 * max) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
  const bw = x1 - x0 + 1,
    bh = y1 - y0 + 1;
  const scale = 20 / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale)),
    th = Math.max(1, Math.round(bh * scale));
  // Box filter: each target pixel averages the source area it covers.
  const small = new Float32Array(tw * th);
  for (let ty = 0; ty < th; ty++)
    for (let tx = 0; tx < tw; tx++) {
      const sx0 = x0 + (tx * bw) / tw,
        sx1 = x0 + ((tx + 1) * bw) / tw;
      const sy0 = y0 + (ty * bh) / th,
        sy1 = y0 + ((ty + 1) * bh) / th;
      let sum = 0,
        area = 0;
      for (let y = Math.floor(sy0); y < Math.ceil(sy1); y++)
        for (let x = Math.floor(sx0); x < Math.ceil(sx1); x++) {
          const a = (Math.min(sx1, x + 1) - Math.max(sx0, x)) * (Math.min(sy1, y + 1) - Math.max(sy0, y));
          sum += a * ink[y * w + x];
          area += a;
        }
      small[ty * tw + tx] = area ? sum / area : 0;
    }
  let mass = 0,
    cx = 0,
    cy = 0;
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v;
      cx += v * x;
      cy += v * y;
    }
  const ox = Math.round(14 - (mass ? cx / mass : tw / 2) - 0.5),
    oy = Math.round(14 - (mass ? cy / mass : th / 2) - 0.5);
  const out = new Float32Array(784);
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      const X = Math.min(27, Math.max(0, x + ox)),
        Y = Math.min(27, Math.max(0, y + oy));
      out[Y * 28 + X] = Math.max(out[Y * 28 + X], Math.min(1, small[y * tw + x] / max));
    }
  return out;
}
