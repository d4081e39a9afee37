import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError, examples, type Dataset } from '../../src/data/dataset.js';
import { withValidationData } from '../../src/data/val-data.js';
import { TINY_MNIST } from '../helpers.js';

// withValidationData in-process (train --val-data; the CLI tests run dist/): every value and message by hand.

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const csv = (text: string): string => {
  const d = mkdtempSync(join(tmpdir(), 'backprop-val-data-'));
  dirs.push(d);
  writeFileSync(join(d, 'v.csv'), text);
  return join(d, 'v.csv');
};

/** Training data of 3 classes, 2 values an example. */
const train = (over: Partial<Dataset> = {}): Dataset => ({
  name: 'train.csv',
  classes: 3,
  train: examples(Float32Array.from([0, 1, 1, 0]), Uint8Array.from([0, 2]), 2),
  test: examples(Float32Array.from([0.5, 0.5]), Uint8Array.from([1]), 2),
  ...over,
});

function refusal(ds: Dataset, spec: string): string {
  try {
    withValidationData(ds, spec);
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('withValidationData (--val-data)', () => {
  it('takes every row of a CSV file as the validation set, the rest of the dataset as it was', () => {
    const ds = train();
    const f = csv('2,0.25,0.5\n0,1,0\n1,0,0.75\n');
    const out = withValidationData(ds, f);
    expect(out.validation!.count).toBe(3);
    expect(out.validation!.dim).toBe(2);
    expect(Array.from(out.validation!.labels)).toEqual([2, 0, 1]); // label 2 is the last of the 3 classes: allowed
    expect(Array.from(out.validation!.features)).toEqual([0.25, 0.5, 1, 0, 0, 0.75]);
    expect(out.train).toBe(ds.train);
    expect(out.test).toBe(ds.test);
    expect(out.name).toBe('train.csv');
    expect(out.classes).toBe(3);
  });

  it('takes the training examples of a directory of IDX files, of the same image shape', () => {
    const ds = train({ name: 'mine', classes: 10, shape: [28, 28], train: examples(new Float32Array(784), Uint8Array.from([9]), 784) });
    const out = withValidationData(ds, TINY_MNIST);
    expect(out.validation!.count).toBe(120); // the fixture's 120 training images, not its 60 test images
    expect(out.validation!.dim).toBe(784);
  });

  it.each<[string, () => [Dataset, string], (spec: string) => string]>([
    ['another number of values', () => [train(), csv('0,0.5,0.5,0.5\n')], (f) => `--val-data ${f}: 3 values per example, but the training data train.csv has 2`],
    ['a label outside the classes', () => [train(), csv('0,0,0\n3,0.5,0.5\n1,1,1\n')], (f) => `--val-data ${f}: label 3 is outside the 3 classes of the training data train.csv`],
    [
      'images of another shape with as many values',
      () => [train({ classes: 10, shape: [14, 56], train: examples(new Float32Array(784), Uint8Array.from([1]), 784) }), TINY_MNIST],
      (d) => `--val-data ${d}: images of 28×28, but the training data train.csv has 14×56`,
    ],
    ['a CSV file that does not exist: the message names --val-data, not --data', () => [train(), join(tmpdir(), 'backprop-no-such-file.csv')], (f) => `--val-data ${f}: no such file`],
    [
      'a directory that does not exist',
      () => [train(), './backprop-no-such-dir/x'],
      (d) => `--val-data ${d}: no such directory (expected "embedded", a dataset name or a directory with MNIST-style IDX files)`,
    ],
  ])('refuses %s', (_what, make, message) => {
    const [ds, spec] = make();
    expect(refusal(ds, spec)).toBe(message(spec));
  });

  it("renames only a leading --data: a reader's message that holds --data further on is kept as it is", () => {
    const d = mkdtempSync(join(tmpdir(), 'backprop-val-data-'));
    dirs.push(d);
    const f = join(d, 'a --data b.csv');
    writeFileSync(f, '0,0.5,x\n');
    expect(refusal(train(), f)).toBe(`${f}:1: column 3 "x" is not a number (decimal numbers only)`);
  });

  it('images whose training data has no shape (a CSV) are compared by their number of values alone', () => {
    const ds = train({ classes: 10, train: examples(new Float32Array(784), Uint8Array.from([1]), 784) });
    expect(withValidationData(ds, TINY_MNIST).validation!.count).toBe(120);
  });
});
