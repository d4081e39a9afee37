import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCsvDataset } from '../../src/data/csv.js';
import { DataError, splitDataset, type Dataset } from '../../src/data/dataset.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { loadIdxDirectory } from '../../src/data/idx.js';
import { loadData } from '../../src/data/load.js';
import { TINY_MNIST, TINY_MNIST_FILES } from '../helpers.js';

// loadData (src/data/load.ts), in process: what each kind of --data gives, the catalogue's class names and its
// refusal of labels beyond them, the one-row CSV, and the cut passed on to splitDataset. The expected values come
// from the readers themselves (loadEmbedded, loadCsvDataset, loadIdxDirectory) and splitDataset, tested on their own.

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let saved: Record<string, string | undefined> = {};
beforeEach(() => {
  saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, BACKPROP_CATALOG: process.env.BACKPROP_CATALOG, BACKPROP_DATA: process.env.BACKPROP_DATA };
  process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'backprop-lcache-'));
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** The examples' counts, labels and a checksum of the features, to compare two datasets. */
const summary = (ds: Dataset) => {
  const ex = (e: Dataset['train'] | undefined) => e && { count: e.count, dim: e.dim, labels: Array.from(e.labels), sum: e.features.reduce((a, b) => a + b, 0) };
  return { classes: ds.classes, train: ex(ds.train), test: ex(ds.test), validation: ex(ds.validation), classNames: ds.classNames };
};

/** A catalogue (BACKPROP_CATALOG) with one entry, "tiny", for the tiny fixture's four files, with the class names given. */
function tinyCatalogue(classes: string[]): void {
  const roles = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;
  const files = Object.fromEntries(
    TINY_MNIST_FILES.map((n, i) => {
      const b = readFileSync(join(TINY_MNIST, n));
      return [roles[i], { name: n.endsWith('.gz') ? n : `${n}.gz`, md5: md5(b), contentSha256: sha256(n.endsWith('.gz') ? Buffer.alloc(0) : b) }];
    }),
  );
  const entry = { name: 'tiny', title: 'tiny', description: '', classes, shape: [28, 28], train: 120, test: 60, files, licence: '', urls: [], homepage: '', citation: '' };
  const catDir = mkdtempSync(join(tmpdir(), 'backprop-lcat-'));
  writeFileSync(join(catDir, 'tiny.json'), JSON.stringify(entry));
  process.env.BACKPROP_CATALOG = catDir;
}

/** A copy of the tiny fixture in a directory named tiny under a fresh parent; returns the parent. */
function tinyCopy(): string {
  const parent = mkdtempSync(join(tmpdir(), 'backprop-ldata-'));
  mkdirSync(join(parent, 'tiny'));
  for (const n of TINY_MNIST_FILES) copyFileSync(join(TINY_MNIST, n), join(parent, 'tiny', n));
  return parent;
}

/** A CSV file of `rows` rows "label,pixel,pixel" (labels 0, 1, 2, 0, …), in a directory of its own. */
function csv(rows: number, name = 'points.csv'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'backprop-lcsv-')), name);
  writeFileSync(path, Array.from({ length: rows }, (_, i) => `${i % 3},${i},${30 - i}`).join('\n') + '\n');
  return path;
}

describe('loadData: each kind of --data', () => {
  it('"embedded" is the embedded digits, cut by --limit and --test-limit', () => {
    const ds = loadData({ data: 'embedded', seed: 0, limit: 50, testLimit: 20 });
    expect(summary(ds)).toEqual(summary(splitDataset(loadEmbedded(), { limit: 50, testLimit: 20, seed: 0 })));
    expect([ds.train.count, ds.test.count]).toEqual([50, 20]);
  });

  it('a CSV file is read by the CSV reader, and --validation is drawn with the seed given', () => {
    const path = csv(20);
    const ds = loadData({ data: path, seed: 7, validation: 4 });
    expect(summary(ds)).toEqual(summary(splitDataset(loadCsvDataset(path), { validation: 4, seed: 7 })));
    // 20 rows: the last 20% (4) are the test set, 4 of the other 16 the validation set
    expect([ds.train.count, ds.validation?.count, ds.test.count]).toEqual([12, 4, 4]);
    // another seed draws another validation set
    expect(Array.from(loadData({ data: path, seed: 8, validation: 4 }).validation!.features)).not.toEqual(Array.from(ds.validation!.features));
  });

  it('a directory of IDX files given by path: its files, without class names', () => {
    const dir = join(tinyCopy(), 'tiny');
    const ds = loadData({ data: dir, seed: 0 });
    expect(summary(ds)).toEqual(summary(loadIdxDirectory(dir)));
    expect([ds.train.count, ds.test.count, ds.classes]).toEqual([120, 60, 10]);
    expect(ds.classNames).toBeUndefined();
    expect(ds.name).toBe('tiny');
  });

  it('a directory given as DIR/sub/.. is named by the directory it resolves to, not ".."', () => {
    const dir = join(tinyCopy(), 'tiny');
    mkdirSync(join(dir, 'sub'));
    expect(loadData({ data: join(dir, 'sub') + '/..', seed: 0 }).name).toBe('tiny');
  });
});

describe('loadData: a catalogued dataset', () => {
  it('found by name in $BACKPROP_DATA, verified, with the catalogue’s class names', () => {
    tinyCatalogue('abcdefghij'.split(''));
    process.env.BACKPROP_DATA = tinyCopy();
    const ds = loadData({ data: 'tiny', seed: 0, testLimit: 10 });
    expect(ds.classNames).toEqual('abcdefghij'.split(''));
    expect(ds.name).toBe('tiny');
    expect([ds.train.count, ds.test.count]).toEqual([120, 10]);
  });

  it('a damaged file is refused by its checksum before it is read', () => {
    tinyCatalogue('abcdefghij'.split(''));
    const parent = tinyCopy();
    const labels = join(parent, 'tiny', 'train-labels-idx1-ubyte');
    const b = readFileSync(labels);
    b[b.length - 1] = (b[b.length - 1] + 1) % 10;
    writeFileSync(labels, b);
    process.env.BACKPROP_DATA = parent;
    expect(() => loadData({ data: 'tiny', seed: 0 })).toThrow(`${labels}: checksum mismatch`);
  });

  it('labels beyond the catalogue’s classes are refused, naming the largest label and the classes', () => {
    tinyCatalogue(['zero', 'one', 'two', 'three', 'four']);
    process.env.BACKPROP_DATA = tinyCopy();
    const dir = join(process.env.BACKPROP_DATA, 'tiny');
    expect(() => loadData({ data: 'tiny', seed: 0 })).toThrow(new DataError(`${dir}: label 9 is outside the 5 classes of tiny`));
  });

  it('more class names than the labels use: no class names (they would not line up), no refusal', () => {
    tinyCatalogue('abcdefghijk'.split(''));
    process.env.BACKPROP_DATA = tinyCopy();
    const ds = loadData({ data: 'tiny', seed: 0 });
    expect(ds.classes).toBe(10);
    expect(ds.classNames).toBeUndefined();
  });
});

describe('loadData: a CSV of one row', () => {
  it('without a test file its row is the test set: refused for training, naming the file, saying what to do', () => {
    const path = csv(1);
    expect(() => loadData({ data: path, seed: 0 })).toThrow(
      new DataError(`${path}: 1 row, kept for testing (a CSV without a test file beside it holds out its last 20%, at least one row): no training examples; give more rows`),
    );
    expect(() => loadData({ data: path, seed: 0, split: 'train' })).toThrow(
      new DataError(`${path}: 1 row, kept for testing (a CSV without a test file beside it holds out its last 20%, at least one row): no training examples to score (use --split test)`),
    );
  });

  it('is loaded when only the test split is wanted (evaluate --split test)', () => {
    const path = csv(1);
    const ds = loadData({ data: path, seed: 0, split: 'test' });
    expect([ds.train.count, ds.test.count]).toEqual([0, 1]);
    expect(Array.from(ds.test.labels)).toEqual([0]);
  });

  it('with a test file beside it, one training row is enough', () => {
    const path = csv(1, 'points-train.csv');
    writeFileSync(path.replace('train', 'test'), '1,5,5\n2,6,6\n');
    const ds = loadData({ data: path, seed: 0 });
    expect([ds.train.count, ds.test.count]).toEqual([1, 2]);
  });
});
