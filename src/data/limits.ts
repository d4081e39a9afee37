import { totalmem } from 'node:os';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { DataError } from './dataset.js';

/**
 * The documented limits on what backprop will allocate for a number it reads
 * from a file or a flag, so that a small file or a typo cannot exhaust memory.
 */
export const LIMITS = {
  /** Largest uncompressed IDX file: 2 GiB (MNIST's largest is 47 MB). */
  idxBytes: 2 ** 31,
  /** Largest image, in pixels (width × height): 4096 × 4096. */
  imagePixels: 4096 * 4096,
  /** Deflate cannot compress better than about 1032:1 (RFC 1951's longest match per few bits); a header declaring more is a lie. */
  deflateRatio: 1032,
} as const;

/**
 * Gunzips buf with a limit: first the start of the data (enough for a
 * header), from which `declared(head)` computes the size the content says it
 * has; then the whole, refusing to produce more than that. A header that
 * declares more than LIMITS.idxBytes, or more than the compressed size can
 * hold at deflate's best ratio, is refused before anything is inflated.
 */
export function gunzipLimited(buf: Uint8Array, name: string, declared: (head: Buffer) => number): Buffer {
  let head: Buffer;
  try {
    head = gunzipSync(buf.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch (e) {
    throw new DataError(`${name}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
  const size = declared(head);
  if (size > LIMITS.idxBytes) throw new DataError(`${name}: its header declares ${size} bytes, more than the ${LIMITS.idxBytes}-byte limit`);
  const most = buf.length * LIMITS.deflateRatio + 1024;
  if (size > most) throw new DataError(`${name}: truncated: its header declares ${size} bytes but ${buf.length} bytes of gzip data hold at most ${most}`);
  try {
    return gunzipSync(buf, { maxOutputLength: Math.max(size + 1, 1) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(`${name}: decompresses to more than the ${size} bytes its header declares`);
    }
    throw new DataError(`${name}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
}

/** Refuses an image of w × h pixels above LIMITS.imagePixels, or with a zero side, before it is decoded. */
export function checkImageSize(w: number, h: number, name: string): void {
  if (!(w > 0 && h > 0)) throw new DataError(`${name}: the image is ${w}x${h} pixels: it has no pixels`);
  if (w * h > LIMITS.imagePixels) {
    throw new DataError(`${name}: ${w}x${h} = ${w * h} pixels is more than the ${LIMITS.imagePixels}-pixel limit (4096x4096)`);
  }
}

/**
 * Estimated bytes to train a network of these layer sizes with batches of m:
 * the weights and biases, as many again for the update's temporaries, and
 * Z, A and δ for every layer over the larger of the batch and an evaluation
 * batch of 1,000 examples, at `bytesPer` bytes a value.
 */
export function networkBytes(sizes: readonly number[], m: number, bytesPer = 4): number {
  let params = 0;
  for (let l = 1; l < sizes.length; l++) params += sizes[l] * sizes[l - 1] + sizes[l];
  const units = sizes.reduce((s, n) => s + n, 0);
  return bytesPer * (2 * params + 3 * Math.max(m, 1000) * units);
}

/** Largest weight matrix a typed array can hold here (V8's limit on a typed array's length). */
export const MAX_ARRAY = 2 ** 31 - 1;

/** Bytes as decimal gigabytes (10⁹), as every memory refusal prints them: "25 GB", "1.6 GB". */
export const gb = (b: number): string => `${(b / 1e9).toFixed(b < 1e10 ? 1 : 0)} GB`;

/** Refuses, with the number, a network that would not fit in half of this machine's memory. */
export function checkNetworkSize(sizes: readonly number[], m: number, flag: string, bytesPer = 4): void {
  const bytes = networkBytes(sizes, m, bytesPer);
  const budget = totalmem() / 2;
  if (bytes > budget) {
    const batches = m > 1000 ? ` with batches of ${m}` : '';
    throw new DataError(
      `${flag}: a ${sizes.join('-')} network${batches} needs about ${gb(bytes)} to train (estimated), more than half of this machine's ${gb(totalmem())}; use smaller layers${batches ? ' or batches' : ''}`,
    );
  }
  for (let l = 1; l < sizes.length; l++) {
    if (sizes[l] * sizes[l - 1] > MAX_ARRAY) {
      throw new DataError(`${flag}: W${l} would have ${sizes[l]}x${sizes[l - 1]} = ${sizes[l] * sizes[l - 1]} entries, more than the ${MAX_ARRAY} an array can hold; use smaller layers`);
    }
  }
}
