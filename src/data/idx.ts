import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DataError, examples, labelClasses, readDataFile, type Dataset, type Examples } from './dataset.js';
import { checkImageSize, gunzipLimited } from './limits.js';

/** An IDX array: big-endian header (0, 0, type, ndims, then ndims uint32 sizes) then the data. */
export interface IdxArray {
  readonly shape: number[];
  /** Values as stored (bytes for ubyte files). */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
  readonly type: IdxType;
}

export type IdxType = 'ubyte' | 'sbyte' | 'int16' | 'int32' | 'float32' | 'float64';

const TYPES: Record<number, { type: IdxType; size: number }> = {
  0x08: { type: 'ubyte', size: 1 },
  0x09: { type: 'sbyte', size: 1 },
  0x0b: { type: 'int16', size: 2 },
  0x0c: { type: 'int32', size: 4 },
  0x0d: { type: 'float32', size: 4 },
  0x0e: { type: 'float64', size: 8 },
};

/** Reads an IDX file, raw or gzip-compressed (detected by its magic bytes, not its name). */
export function readIdxFile(path: string): IdxArray {
  return decodeIdx(readDataFile(path), path);
}

/**
 * Parses IDX bytes, gunzipping them first when they start with the gzip magic
 * bytes — never to more than the size the IDX header inside declares.
 */
export function decodeIdx(buf: Uint8Array, name: string): IdxArray {
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipIdx(buf, name);
  return parseIdx(buf, name);
}

/** Gunzips a compressed IDX file to at most the size its header declares (see gunzipLimited). */
export function gunzipIdx(buf: Uint8Array, name: string): Buffer {
  return gunzipLimited(buf, name, (head) => idxHeader(head, name).bytes);
}

/** The header of IDX bytes (which may be only the start of the file): element type, shape and the file's total size. */
function idxHeader(buf: Uint8Array, name: string): { t: { type: IdxType; size: number }; shape: number[]; headerBytes: number; bytes: number } {
  if (buf.length < 4) throw new DataError(`${name}: ${buf.length} bytes is too short for an IDX header (need at least 4)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = view.getUint32(0);
  const t = TYPES[buf[2]];
  if (buf[0] !== 0 || buf[1] !== 0 || !t) {
    throw new DataError(`${name}: not an IDX file (magic number 0x${magic.toString(16).padStart(8, '0')}, expected 0x0000TTNN with type 08, 09, 0B, 0C, 0D or 0E)`);
  }
  const ndims = buf[3];
  if (ndims < 1) throw new DataError(`${name}: IDX header declares 0 dimensions`);
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new DataError(`${name}: truncated IDX header (${ndims} dimensions need ${headerBytes} bytes, file has ${buf.length})`);
  }
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(view.getUint32(4 + 4 * i));
  const count = shape.reduce((p, d) => p * d, 1);
  return { t, shape, headerBytes, bytes: headerBytes + count * t.size };
}

/** Parses the bytes of an (uncompressed) IDX file; `name` is used in error messages. */
export function parseIdx(buf: Uint8Array, name: string): IdxArray {
  const { t, shape, headerBytes, bytes: expected } = idxHeader(buf, name);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = shape.reduce((p, d) => p * d, 1);
  if (buf.length < expected) {
    throw new DataError(`${name}: truncated: header says ${shape.join('x')} ${t.type} values (${expected} bytes) but the file has ${buf.length} bytes`);
  }
  if (buf.length > expected) {
    throw new DataError(`${name}: ${buf.length - expected} unexpected bytes after the ${shape.join('x')} ${t.type} values`);
  }
  return { shape, type: t.type, data: decode(view, headerBytes, count, t.type) };
}

function decode(view: DataView, offset: number, count: number, type: IdxType): IdxArray['data'] {
  switch (type) {
    case 'ubyte':
      return new Uint8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'sbyte':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16':
      return Int16Array.from({ length: count }, (_, i) => view.getInt16(offset + 2 * i));
    case 'int32':
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(offset + 4 * i));
    case 'float32':
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(offset + 4 * i));
    case 'float64':
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(offset + 8 * i));
  }
}

/** Images (n × rows × cols) and labels (n) from two IDX files, features scaled to [0, 1]. */
export function readIdxPair(imagesPath: string, labelsPath: string): { examples: Examples; shape: [number, number] } {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.shape.length !== 3) {
    throw new DataError(`${imagesPath}: expected 3 dimensions (count x rows x cols), found ${images.shape.length} (${images.shape.join('x')})`);
  }
  if (labels.shape.length !== 1) {
    throw new DataError(`${labelsPath}: expected 1 dimension (count), found ${labels.shape.length} (${labels.shape.join('x')})`);
  }
  if (labels.type !== 'ubyte') throw new DataError(`${labelsPath}: expected ubyte labels, found ${labels.type}`);
  const [n, rows, cols] = images.shape;
  if (labels.shape[0] !== n) {
    throw new DataError(`${basename(imagesPath)} has ${n} images but ${basename(labelsPath)} has ${labels.shape[0]} labels`);
  }
  if (n === 0) throw new DataError(`${imagesPath}: holds 0 images`);
  checkImageSize(cols, rows, imagesPath);
  const dim = rows * cols;
  const src = images.data;
  // Pixels are 0–255 (integers, or floats when the largest is above 1) or 0–1 (floats): anything else is named, not trained on.
  let max = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (!(v >= 0 && v <= 255)) {
      throw new DataError(`${imagesPath}: value ${v} at index ${i} (image ${Math.floor(i / dim)}, pixel ${i % dim}): pixels must be finite numbers from 0 to 255, or from 0 to 1`);
    }
    if (v > max) max = v;
  }
  const float = images.type === 'float32' || images.type === 'float64';
  const scale = !float || max > 1 ? 1 / 255 : 1;
  const features = new Float32Array(n * dim);
  for (let i = 0; i < features.length; i++) features[i] = src[i] * scale;
  return { examples: examples(features, labels.data as Uint8Array, dim), shape: [rows, cols] };
}

/** The four MNIST-style files; each may also be spelled with a dot (train-images.idx3-ubyte) and end in .gz. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Finds one of the four files in dir, raw or .gz. */
export function findIdxFile(dir: string, base: string): string {
  const dotted = base.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte');
  for (const name of [base, `${base}.gz`, dotted, `${dotted}.gz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new DataError(`${dir}: missing ${base} (or ${base}.gz)`);
}

/** Loads an MNIST-style directory (MNIST, Fashion-MNIST, KMNIST). */
export function loadIdxDirectory(dir: string, name = basename(dir)): Dataset {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new DataError(`--data ${dir}: no such directory (expected "embedded" or a directory with MNIST-style IDX files)`);
  }
  if (!isDir) throw new DataError(`--data ${dir}: not a directory (expected a directory with MNIST-style IDX files)`);
  const train = readIdxPair(findIdxFile(dir, IDX_FILES.trainImages), findIdxFile(dir, IDX_FILES.trainLabels));
  const test = readIdxPair(findIdxFile(dir, IDX_FILES.testImages), findIdxFile(dir, IDX_FILES.testLabels));
  if (train.shape.join('x') !== test.shape.join('x')) {
    throw new DataError(`${dir}: training images are ${train.shape.join('x')} but test images are ${test.shape.join('x')}`);
  }
  const { classes, missing } = labelClasses([train.examples, test.examples]);
  return {
    name,
    classes,
    ...(missing.length ? { missingClasses: missing } : {}),
    shape: train.shape,
    train: train.examples,
    test: test.examples,
  };
}
