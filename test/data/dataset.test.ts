import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, examples, fillBatch, identity, labelClasses, readDataFile, slice, splitDataset, take, trainingLabelProblem, type Dataset } from '../../src/data/dataset.js';
import { Matrix } from '../../src/linalg/index.js';
import { Rng } from '../../src/base/rng.js';

// src/data/dataset.ts in-process, every value and message by hand.

const dir = mkdtempSync(join(tmpdir(), 'backprop-dataset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n examples of dim values: example i is [10i, 10i + 1, …], label labels[i]. */
const ex = (labels: number[], dim = 2) =>
  examples(
    Float32Array.from({ length: labels.length * dim }, (_, k) => 10 * Math.floor(k / dim) + (k % dim)),
    Uint8Array.from(labels),
    dim,
  );
const ds = (train: number[], test: number[] = [0, 1], over: Partial<Dataset> = {}): Dataset => ({ name: 'd', classes: 2, train: ex(train), test: ex(test), ...over });

describe('labelClasses', () => {
  it('the largest label + 1 (at least 2), and the labels below it no example has, over every set', () => {
    expect(labelClasses([ex([0, 3]), ex([5])])).toEqual({ classes: 6, missing: [1, 2, 4] });
    expect(labelClasses([ex([0, 0])])).toEqual({ classes: 2, missing: [] });
    expect(labelClasses([ex([1])])).toEqual({ classes: 2, missing: [0] });
    expect(labelClasses([ex([255, 254])])).toEqual({ classes: 256, missing: Array.from({ length: 254 }, (_, i) => i) });
    expect(labelClasses([])).toEqual({ classes: 2, missing: [] });
  });
});

describe('trainingLabelProblem', () => {
  it('fewer than two classes among the training examples', () => {
    expect(trainingLabelProblem(ds([3, 3, 3]), false)).toBe('d: all 3 training examples have label 3: training needs at least two classes');
    expect(trainingLabelProblem(ds([0, 1]), false)).toBeUndefined();
  });

  it('gaps in the labels, when the output layer is sized from the data: the first five, then how many', () => {
    const gaps = ds([0, 7], [0, 1], { classes: 8, missingClasses: [1, 2, 3, 4, 5, 6] });
    expect(trainingLabelProblem(gaps, true)).toBe(
      'd: the labels run from 0 to 7 but no example has label 1, 2, 3, 4, 5, … (6 in all); the output layer would have 8 units. Number the classes 0..K-1, or give --layers ending in 8 to train with them as they are',
    );
    expect(trainingLabelProblem({ ...gaps, missingClasses: [1, 2, 3, 4, 5] }, true)).toBe(
      'd: the labels run from 0 to 7 but no example has label 1, 2, 3, 4, 5; the output layer would have 8 units. Number the classes 0..K-1, or give --layers ending in 8 to train with them as they are',
    );
    expect(trainingLabelProblem(gaps, false)).toBeUndefined();
    expect(trainingLabelProblem({ ...gaps, missingClasses: [] }, true)).toBeUndefined();
    expect(trainingLabelProblem({ ...gaps, missingClasses: undefined }, true)).toBeUndefined();
  });
});

describe('readDataFile', () => {
  it('the bytes of a regular file; a missing file or a directory named with the reason', () => {
    const f = join(dir, 'a.bin');
    writeFileSync(f, 'abc');
    expect(readDataFile(f).toString()).toBe('abc');
    const missing = join(dir, 'missing');
    expect(() => readDataFile(missing)).toThrow(new DataError(`${missing}: cannot read (ENOENT)`));
    const d = join(dir, 'sub');
    mkdirSync(d);
    expect(() => readDataFile(d)).toThrow(/^.*sub: not a regular file/);
    expect(() => readDataFile('/dev/zero')).toThrow(/^\/dev\/zero: not a regular file/);
  });
});

describe('examples, take, slice, identity', () => {
  it('examples refuses features that are not labels × dim values', () => {
    expect(() => examples(new Float32Array(5), new Uint8Array(2), 2)).toThrow(new DataError('2 labels but 2.5 images of 2 values'));
    expect(examples(new Float32Array(4), new Uint8Array(2), 2)).toMatchObject({ count: 2, dim: 2 });
    expect(new DataError('x').name).toBe('DataError');
  });

  it('take copies the examples at the given indices, in their order', () => {
    const e = ex([5, 6, 7]);
    const t = take(e, [2, 0, 2]);
    expect(Array.from(t.features)).toEqual([20, 21, 0, 1, 20, 21]);
    expect(Array.from(t.labels)).toEqual([7, 5, 7]);
    expect(t.count).toBe(3);
    t.features[0] = -1;
    expect(e.features[4]).toBe(20);
  });

  it('slice is a view of [start, end)', () => {
    const e = ex([5, 6, 7]);
    const s = slice(e, 1, 3);
    expect(Array.from(s.features)).toEqual([10, 11, 20, 21]);
    expect(Array.from(s.labels)).toEqual([6, 7]);
    s.features[0] = -1;
    expect(e.features[2]).toBe(-1);
  });

  it('identity is 0 … n − 1', () => {
    expect(Array.from(identity(4))).toEqual([0, 1, 2, 3]);
    expect(identity(0)).toHaveLength(0);
  });
});

describe('splitDataset', () => {
  const labels = Array.from({ length: 10 }, (_, i) => i % 3);

  it('holds out a seeded sample (a count or a fraction) for validation, the rest in order; the same seed the same split', () => {
    const a = splitDataset(ds(labels), { validation: 3, seed: 4 });
    const order = new Rng(4).shuffle(identity(10));
    expect(Array.from(a.validation!.features.filter((_, k) => k % 2 === 0))).toEqual(Array.from(order.subarray(0, 3), (i) => 10 * i));
    expect(Array.from(a.train.features.filter((_, k) => k % 2 === 0))).toEqual(
      Array.from(order.subarray(3))
        .sort((x, y) => x - y)
        .map((i) => 10 * i),
    );
    expect(splitDataset(ds(labels), { validation: 0.3, seed: 4 }).validation!.features).toEqual(a.validation!.features);
    expect(splitDataset(ds(labels), { validation: 3.9, seed: 4 }).validation!.count).toBe(3);
    expect(splitDataset(ds(labels), { validation: 0.25, seed: 4 }).validation!.count).toBe(3); // 2.5 rounds to 3
    // no seed: seed 0
    expect(splitDataset(ds(labels), { validation: 3 }).validation!.features).toEqual(splitDataset(ds(labels), { validation: 3, seed: 0 }).validation!.features);
  });

  it('refuses a validation set that leaves no examples on either side', () => {
    for (const v of [10, 12, 0.01, 0.99])
      expect(() => splitDataset(ds(labels), { validation: v })).toThrow(new DataError(`--validation ${v} must leave examples on both sides of 10 training examples`));
    expect(splitDataset(ds(labels), { validation: 9 }).train.count).toBe(1);
    expect(splitDataset(ds(labels), { validation: 1 }).validation!.count).toBe(1); // 1 is a count, not the whole set
    expect(splitDataset(ds(labels), { validation: 0.05 }).validation!.count).toBe(1); // 0.5 rounds to 1
    expect(splitDataset(ds(labels), { validation: 0 }).validation).toBeUndefined();
  });

  it('--limit keeps the first N training examples after the split, --test-limit the first N test examples', () => {
    const d = ds(labels, [0, 1, 2, 0]);
    const s = splitDataset(d, { limit: 4, testLimit: 3 });
    expect(Array.from(s.train.labels)).toEqual([0, 1, 2, 0]);
    expect(Array.from(s.test.labels)).toEqual([0, 1, 2]);
    expect(s.validation).toBeUndefined();
    const same = splitDataset(d, { limit: 10, testLimit: 4 });
    expect(same.train).toBe(d.train);
    expect(same.test).toBe(d.test);
    expect(splitDataset(d, { limit: 0, testLimit: 0 }).train.count).toBe(0);
    expect(splitDataset(d, { limit: 0, testLimit: 0 }).test.count).toBe(0);
    expect(splitDataset(d, { validation: 2, limit: 5, seed: 1 }).train.count).toBe(5);
    expect(splitDataset(d, {})).toMatchObject({ name: 'd', classes: 2 });
  });
});

describe('fillBatch', () => {
  it('rows of X are the examples at order[start …], columns of Y their one-hot labels', () => {
    const e = ex([2, 0, 1]);
    const x = Matrix.zeros(2, 2, 'float32');
    const y = Matrix.zeros(3, 2, 'float32');
    y.data.fill(7);
    fillBatch(e, [9, 2, 0], 1, x, y);
    fillBatch(e, [0, 1, 2], 0, x, Matrix.zeros(3, 2, 'float32')); // an order longer than the batch: only its first m
    expect(Array.from(x.data)).toEqual([0, 1, 10, 11]);
    fillBatch(e, [9, 2, 0], 1, x, y);
    expect(Array.from(x.data)).toEqual([20, 21, 0, 1]);
    // Y is classes × m: column 0 is label 1, column 1 label 2
    expect(Array.from(y.data)).toEqual([0, 0, 1, 0, 0, 1]);
  });

  it('refuses examples of another width and labels beyond the output classes', () => {
    expect(() => fillBatch(ex([0]), [0], 0, Matrix.zeros(1, 3, 'float32'), Matrix.zeros(2, 1, 'float32'))).toThrow(new DataError('the network expects 3 inputs but the examples have 2'));
    expect(() => fillBatch(ex([2]), [0], 0, Matrix.zeros(1, 2, 'float32'), Matrix.zeros(2, 1, 'float32'))).toThrow(new DataError('label 2 is outside the 2 output classes'));
    const y = Matrix.zeros(2, 1, 'float32');
    fillBatch(ex([1]), [0], 0, Matrix.zeros(1, 2, 'float32'), y);
    expect(Array.from(y.data)).toEqual([0, 1]);
  });
});
