import { BoundedReadError, DATA_FILE_LIMIT, readFileBounded } from '../base/read.js';
import type { Matrix } from '../linalg/index.js';
import { Rng } from '../base/rng.js';

/** Examples as rows: image i is features[i*dim .. (i+1)*dim), values in [0, 1]. */
export interface Examples {
  readonly features: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly dim: number;
}

/** A dataset split into training and test examples. */
export interface Dataset {
  readonly name: string;
  readonly classes: number;
  readonly classNames?: readonly string[];
  /** Image shape [rows, cols] when the examples are images. */
  readonly shape?: readonly [number, number];
  readonly train: Examples;
  readonly test: Examples;
  /** Held out from train by --validation. */
  readonly validation?: Examples;
  /** Classes below the largest label that no example has (a gap: the labels are not 0..K-1). */
  readonly missingClasses?: readonly number[];
}

/**
 * The classes of a dataset whose labels are class indices: the largest label
 * + 1 (at least 2), and the indices below it that no example has.
 */
export function labelClasses(sets: readonly Examples[]): { classes: number; missing: number[] } {
  const seen = new Uint8Array(256);
  let max = 0;
  for (const ex of sets)
    for (const l of ex.labels) {
      seen[l] = 1;
      if (l > max) max = l;
    }
  const missing: number[] = [];
  for (let c = 0; c < max; c++) if (!seen[c]) missing.push(c);
  return { classes: Math.max(2, max + 1), missing };
}

/**
 * Why a dataset cannot be trained on as it is, or undefined: fewer than two
 * classes among the training examples, or (when the output layer is sized
 * from the data) labels with gaps, which would silently add output units for
 * classes that never occur.
 */
export function trainingLabelProblem(ds: Dataset, outputFromData: boolean): string | undefined {
  const train = new Set(ds.train.labels);
  if (train.size < 2) return `${ds.name}: all ${ds.train.count} training examples have label ${ds.train.labels[0]}: training needs at least two classes`;
  const missing = ds.missingClasses ?? [];
  if (outputFromData && missing.length) {
    const shown = missing.length > 5 ? `${missing.slice(0, 5).join(', ')}, … (${missing.length} in all)` : missing.join(', ');
    return (
      `${ds.name}: the labels run from 0 to ${ds.classes - 1} but no example has label ${shown}; ` +
      `the output layer would have ${ds.classes} units. Number the classes 0..K-1, or give --layers ending in ${ds.classes} to train with them as they are`
    );
  }
  return undefined;
}

/** Thrown for bad data: the CLI prints its message on one line and exits 2. */
export class DataError extends Error {
  override name = 'DataError';
}

/**
 * The bytes of a data file, or a DataError naming it and why it cannot be
 * read. Only regular files: a device (/dev/zero) or a FIFO would be read
 * without end.
 */
export function readDataFile(path: string): Buffer {
  try {
    return readFileBounded(path, DATA_FILE_LIMIT);
  } catch (e) {
    const reason = e instanceof BoundedReadError ? e.reason : String(e);
    throw new DataError(`${path}: ${reason.startsWith('not a regular file') ? reason : `cannot read (${reason})`}`);
  }
}

export function examples(features: Float32Array, labels: Uint8Array, dim: number): Examples {
  if (features.length !== labels.length * dim) {
    throw new DataError(`${labels.length} labels but ${features.length / dim} images of ${dim} values`);
  }
  return { features, labels, count: labels.length, dim };
}

/** The examples at the given indices, copied. */
export function take(ex: Examples, indices: ArrayLike<number>): Examples {
  const { dim } = ex;
  const features = new Float32Array(indices.length * dim);
  const labels = new Uint8Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    features.set(ex.features.subarray(i * dim, (i + 1) * dim), r * dim);
    labels[r] = ex.labels[i];
  }
  return examples(features, labels, dim);
}

/** Examples [start, end) without copying. */
export function slice(ex: Examples, start: number, end: number): Examples {
  return examples(ex.features.subarray(start * ex.dim, end * ex.dim), ex.labels.subarray(start, end), ex.dim);
}

export interface SplitOptions {
  /** Keep only the first N training examples (after the validation split). */
  limit?: number;
  /** Keep only the first N test examples. */
  testLimit?: number;
  /** Hold out this many (≥ 1) or this fraction (< 1) of the training examples, chosen by seed. */
  validation?: number;
  seed?: number;
}

/**
 * Applies --validation, --limit and --test-limit. The validation examples are
 * a seeded random sample of the training set, so they never overlap it.
 */
export function splitDataset(ds: Dataset, opts: SplitOptions): Dataset {
  let train = ds.train;
  let validation: Examples | undefined;
  if (opts.validation) {
    const n = opts.validation < 1 ? Math.round(opts.validation * train.count) : Math.floor(opts.validation);
    if (n <= 0 || n >= train.count) {
      throw new DataError(`--validation ${opts.validation} must leave examples on both sides of ${train.count} training examples`);
    }
    const order = new Rng(opts.seed ?? 0).shuffle(identity(train.count));
    validation = take(train, order.subarray(0, n));
    train = take(train, order.subarray(n).sort());
  }
  if (opts.limit !== undefined && opts.limit < train.count) train = slice(train, 0, opts.limit);
  const test = opts.testLimit !== undefined && opts.testLimit < ds.test.count ? slice(ds.test, 0, opts.testLimit) : ds.test;
  return { ...ds, train, test, validation };
}

export function identity(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/**
 * Fills a batch: row j of X = (A^0)ᵀ is example order[start + j] (a
 * contiguous copy), column j of Y is its one-hot label. X has m rows of dim
 * values, Y has m columns.
 */
export function fillBatch(ex: Examples, order: ArrayLike<number>, start: number, x: Matrix, y: Matrix): void {
  const m = x.rows;
  const { dim, features, labels } = ex;
  const X = x.data,
    Y = y.data;
  if (x.cols !== dim) throw new DataError(`the network expects ${x.cols} inputs but the examples have ${dim}`);
  Y.fill(0);
  for (let j = 0; j < m; j++) {
    const idx = order[start + j];
    X.set(features.subarray(idx * dim, (idx + 1) * dim), j * dim); // a memcpy; the view object is young-generation garbage
    const label = labels[idx];
    if (label >= y.rows) throw new DataError(`label ${label} is outside the ${y.rows} output classes`);
    Y[label * m + j] = 1;
  }
}
