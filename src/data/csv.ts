import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DataError, examples, labelClasses, readDataFile, slice, type Dataset, type Examples } from './dataset.js';

/** A decimal number as a CSV cell holds it: 3, -0.5, .25, 1e-3 (no hex, binary, octal or Infinity). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * The number a decimal string writes (3, -0.5, .25, 1e-3, surrounding spaces
 * allowed), or NaN for anything else: Number() alone also reads hex (0x10),
 * binary, octal, Infinity and the empty string (as 0). For every number a
 * user types: CSV cells, flags, specs.
 */
export function decimal(s: string): number {
  const t = s.trim();
  return DECIMAL.test(t) ? Number(t) : NaN;
}

/**
 * Reads a CSV of labelled examples, one per line: label,v1,...,vD (the layout
 * of Kaggle's mnist_train.csv). A first line whose label is not a number is a
 * header; a first row of column numbers (0,1,2,…) is refused. Cells are
 * decimal numbers. Values above 1 (pixels 0–255) are scaled to [0, 1].
 */
export function readCsv(path: string): { examples: Examples; maxLabel: number } {
  const text = readDataFile(path).toString('utf8');
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  if (first < lines.length && Number.isNaN(Number(lines[first].split(',')[0])))
    first++; // header (a hex label such as 0x1 is not one: it is refused below)
  else if (first < lines.length) {
    // A header of column numbers (0,1,2,… as pandas' to_csv writes them, or 1,2,3,…) reads as an example: refused, not trained on.
    const cells = lines[first].split(',').map((c) => c.trim());
    if (cells.length >= 3 && (cells[0] === '0' || cells[0] === '1') && cells.every((c, j) => DECIMAL.test(c) && Number(c) === Number(cells[0]) + j)) {
      throw new DataError(
        `${path}:${first + 1}: the first row ${cells.slice(0, 3).join(',')},…,${cells[cells.length - 1]} numbers the columns: a header, not an example; delete it (or start it with a word, such as label)`,
      );
    }
  }
  const rows: number[][] = [];
  let width = -1;
  let max = 0;
  for (let i = first; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const cells = line.split(',');
    if (width < 0) width = cells.length;
    if (cells.length !== width) {
      throw new DataError(`${path}:${i + 1}: expected ${width} values (a label and ${width - 1} features) like the first row, found ${cells.length}`);
    }
    const row = new Array<number>(width);
    for (let j = 0; j < width; j++) {
      const s = cells[j].trim();
      const v = decimal(s); // NaN for 0x1F, 0b101, 0o17, Infinity and the empty cell, which no CSV of examples means
      if (Number.isNaN(v)) throw new DataError(`${path}:${i + 1}: column ${j + 1} "${cells[j]}" is not a number (decimal numbers only)`);
      if (!Number.isFinite(v)) throw new DataError(`${path}:${i + 1}: column ${j + 1} "${cells[j]}" is out of range (beyond ±1.8e308)`);
      if (j > 0 && v < 0) throw new DataError(`${path}:${i + 1}: column ${j + 1} is ${s}; expected values from 0 to 1, or pixels 0–255`);
      row[j] = v;
      if (j > 0 && v > max) max = v;
    }
    if (!Number.isInteger(row[0]) || row[0] < 0 || row[0] > 255) {
      throw new DataError(`${path}:${i + 1}: label ${cells[0]} is not a class index from 0 to 255`);
    }
    rows.push(row);
  }
  if (width < 2 || rows.length === 0) throw new DataError(`${path}: no rows of the form label,v1,...,vD`);
  const dim = width - 1;
  const scale = max > 1 ? 1 / 255 : 1;
  if (max > 255) throw new DataError(`${path}: feature values go up to ${max}; expected [0, 1] or pixels 0–255`);
  const features = new Float32Array(rows.length * dim);
  const labels = new Uint8Array(rows.length);
  let maxLabel = 0;
  rows.forEach((r, n) => {
    labels[n] = r[0];
    maxLabel = Math.max(maxLabel, r[0]);
    for (let j = 0; j < dim; j++) features[n * dim + j] = r[j + 1] * scale;
  });
  return { examples: examples(features, labels, dim), maxLabel };
}

/**
 * A CSV dataset: FILE for training, and for testing the file named like it
 * with "train" replaced by "test" (mnist_train.csv → mnist_test.csv) when it
 * exists, otherwise the last 20% of FILE: rows ⌊0.8 n⌋ + 1 to n, so the test
 * set is never empty (a file of one row is all test, and has no training
 * examples: loadData refuses it to a command that trains, not to one that
 * scores the test set, such as evaluate).
 */
export function loadCsvDataset(path: string): Dataset {
  const train = readCsv(path);
  const sibling = basename(path).includes('train') ? join(dirname(path), basename(path).replace('train', 'test')) : undefined;
  let trainEx = train.examples;
  let testEx: Examples;
  let maxLabel = train.maxLabel;
  if (sibling && existsSync(sibling)) {
    const test = readCsv(sibling);
    if (test.examples.dim !== trainEx.dim) {
      throw new DataError(`${sibling} has ${test.examples.dim} features per row but ${path} has ${trainEx.dim}`);
    }
    testEx = test.examples;
    maxLabel = Math.max(maxLabel, test.maxLabel);
  } else {
    const cut = Math.floor(trainEx.count * 0.8);
    testEx = slice(trainEx, cut, trainEx.count);
    trainEx = slice(trainEx, 0, cut);
  }
  const side = Math.round(Math.sqrt(trainEx.dim));
  const { missing } = labelClasses([trainEx, testEx]);
  return {
    name: basename(path),
    classes: Math.max(2, maxLabel + 1),
    ...(missing.length ? { missingClasses: missing } : {}),
    ...(side * side === trainEx.dim ? { shape: [side, side] as const } : {}),
    train: trainEx,
    test: testEx,
  };
}
