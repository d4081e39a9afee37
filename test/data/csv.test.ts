import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCsvDataset, readCsv } from '../../src/data/csv.js';
import { DataError } from '../../src/data/dataset.js';

// readCsv and loadCsvDataset in-process, every value and every message by hand (the CLI tests run dist/).

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function write(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'backprop-csv-'));
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}
const csv = (text: string, name = 'd.csv') => join(write({ [name]: text }), name);

function refusal(f: string): string {
  try {
    readCsv(f);
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('readCsv', () => {
  it('reads label,v1,…,vD rows: values in [0, 1] as they are, labels as classes, the largest label', () => {
    const r = readCsv(csv('\n\n2,0,0.5,1\r\n  \n0, .25 ,1e-1,+0.75\n7,1.,0,0'));
    expect(r.maxLabel).toBe(7);
    expect(r.examples.count).toBe(3);
    expect(r.examples.dim).toBe(3);
    expect(Array.from(r.examples.labels)).toEqual([2, 0, 7]);
    expect(Array.from(r.examples.features)).toEqual(Array.from(Float32Array.from([0, 0.5, 1, 0.25, 0.1, 0.75, 1, 0, 0])));
  });

  it('scales pixels 0–255 to [0, 1] when any value is above 1', () => {
    const r = readCsv(csv('1,0,255,51\n0,1,2,1.5\n'));
    expect(Array.from(r.examples.features)).toEqual(Array.from(Float32Array.from([0, 1, 51 / 255, 1 / 255, 2 / 255, 1.5 / 255])));
    expect(r.maxLabel).toBe(1);
  });

  it('skips a header whose first cell is not a number, and reads the rows after it', () => {
    const r = readCsv(csv('label,p1,p2\n3,0.5,0\n'));
    expect(Array.from(r.examples.labels)).toEqual([3]);
    expect(Array.from(r.examples.features)).toEqual([0.5, 0]);
    // a blank line before the header
    expect(readCsv(csv('  \t\nlabel,a\n1,0\n')).examples.count).toBe(1); // blank: spaces only
    expect(readCsv(csv('\n label , a \n1,0\n')).examples.count).toBe(1);
  });

  it('refuses a first row that numbers the columns (0,1,2,… or 1,2,3,…)', () => {
    let f = csv('0,1,2,3\n1,0,0,0\n');
    expect(refusal(f)).toBe(`${f}:1: the first row 0,1,2,…,3 numbers the columns: a header, not an example; delete it (or start it with a word, such as label)`);
    f = csv('\n1,2,3\n1,0,0\n');
    expect(refusal(f)).toBe(`${f}:2: the first row 1,2,3,…,3 numbers the columns: a header, not an example; delete it (or start it with a word, such as label)`);
    f = csv(' 0 , 1 , 2 , 3 , 4 \n1,0,0,0,0\n');
    expect(refusal(f)).toBe(`${f}:1: the first row 0,1,2,…,4 numbers the columns: a header, not an example; delete it (or start it with a word, such as label)`);
    // rows that only look like it are examples: two columns, a start other than 0 or 1, a gap, a hex cell that Number() reads as the next
    expect(readCsv(csv('0,1\n1,0\n')).examples.count).toBe(2);
    expect(readCsv(csv('2,3,4\n1,0,0\n')).examples.count).toBe(2);
    expect(readCsv(csv('0,1,3\n1,0,0\n')).examples.count).toBe(2);
    expect(readCsv(csv('1,0,0\n0,1,2\n')).examples.count).toBe(2);
    f = csv('0,1,0x2\n1,0,0\n');
    expect(refusal(f)).toBe(`${f}:1: column 3 "0x2" is not a number (decimal numbers only)`);
  });

  const P = (f: string) => f;
  const bad: [string, string, (f: string) => string][] = [
    ['a row of another width', '1,0,0\n2,0\n', (f) => `${P(f)}:2: expected 3 values (a label and 2 features) like the first row, found 2`],
    ['a hex cell', '1,0x1,0\n', (f) => `${f}:1: column 2 "0x1" is not a number (decimal numbers only)`],
    ['a binary cell', '1,0,0b1\n', (f) => `${f}:1: column 3 "0b1" is not a number (decimal numbers only)`],
    ['Infinity', '1,Infinity,0\n', (f) => `${f}:1: column 2 "Infinity" is not a number (decimal numbers only)`],
    ['an empty cell', '1,,0\n', (f) => `${f}:1: column 2 "" is not a number (decimal numbers only)`],
    ['a word in a later row', '1,0\nx,0\n', (f) => `${f}:2: column 1 "x" is not a number (decimal numbers only)`],
    ['two dots', '1,0.5.5\n', (f) => `${f}:1: column 2 "0.5.5" is not a number (decimal numbers only)`],
    ['a bare exponent', '1,e5\n', (f) => `${f}:1: column 2 "e5" is not a number (decimal numbers only)`],
    ['text after a number', '1,5x\n', (f) => `${f}:1: column 2 "5x" is not a number (decimal numbers only)`],
    ['text before a number', '1,x5\n', (f) => `${f}:1: column 2 "x5" is not a number (decimal numbers only)`],
    ['beyond float64', '1,1e309\n', (f) => `${f}:1: column 2 "1e309" is out of range (beyond ±1.8e308)`],
    ['a negative feature', '1,0,-0.5\n', (f) => `${f}:1: column 3 is -0.5; expected values from 0 to 1, or pixels 0–255`],
    ['a negative feature between spaces, shown trimmed', '1,0, -0.5 \n', (f) => `${f}:1: column 3 is -0.5; expected values from 0 to 1, or pixels 0–255`],
    ['a fractional label', '1.5,0\n', (f) => `${f}:1: label 1.5 is not a class index from 0 to 255`],
    ['a negative label', '0,0\n-1,0\n', (f) => `${f}:2: label -1 is not a class index from 0 to 255`],
    ['label 256', '256,0\n', (f) => `${f}:1: label 256 is not a class index from 0 to 255`],
    ['only a header', 'label,a\n', (f) => `${f}: no rows of the form label,v1,...,vD`],
    ['empty', '', (f) => `${f}: no rows of the form label,v1,...,vD`],
    ['labels alone', '1\n2\n', (f) => `${f}: no rows of the form label,v1,...,vD`],
    ['values above 255', '1,0,256\n', (f) => `${f}: feature values go up to 256; expected [0, 1] or pixels 0–255`],
  ];
  for (const [what, text, msg] of bad) {
    it(`refuses ${what}`, () => {
      const f = csv(text);
      expect(refusal(f)).toBe(msg(f));
    });
  }

  it('accepts the limits: label 0 and 255, feature 0, 255 and exactly 1, exponents with a sign', () => {
    const r = readCsv(csv('255,255,0\n0,1E+0,2.5e-1\n'));
    expect(Array.from(r.examples.labels)).toEqual([255, 0]);
    expect(r.maxLabel).toBe(255);
    expect(Array.from(r.examples.features)).toEqual(Array.from(Float32Array.from([1, 0, 1 / 255, 0.25 / 255])));
    expect(Array.from(readCsv(csv('0,1,1\n')).examples.features)).toEqual([1, 1]); // max = 1: not scaled
  });
});

describe('loadCsvDataset', () => {
  const rows = (n: number, dim: number, label = (i: number) => i % 3) => Array.from({ length: n }, (_, i) => [label(i), ...Array.from({ length: dim }, (_, j) => (i + j) % 2)].join(',')).join('\n');

  it('holds out the last 20% when there is no test file; a square number of features is an image', () => {
    const f = csv(rows(10, 4), 'digits.csv');
    const ds = loadCsvDataset(f);
    expect(ds.name).toBe('digits.csv');
    expect(ds.train.count).toBe(8);
    expect(ds.test.count).toBe(2);
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 0, 1, 2, 0, 1]);
    expect(Array.from(ds.test.labels)).toEqual([2, 0]);
    expect(Array.from(ds.test.features)).toEqual([0, 1, 0, 1, 1, 0, 1, 0]);
    expect(ds.classes).toBe(3);
    expect(ds.shape).toEqual([2, 2]);
    expect(ds.missingClasses).toBeUndefined();
    expect('missingClasses' in ds).toBe(false);
  });

  it('reads the test set from the file named with "test" for "train", checking its width', () => {
    const d = write({ 'mnist_train.csv': rows(4, 3), 'mnist_test.csv': '5,0,1,0\n' });
    const ds = loadCsvDataset(join(d, 'mnist_train.csv'));
    expect(ds.train.count).toBe(4);
    expect(ds.test.count).toBe(1);
    expect(ds.classes).toBe(6); // label 5 of the test file counts
    expect(ds.missingClasses).toEqual([3, 4]);
    expect(ds.shape).toBeUndefined();
    expect('shape' in ds).toBe(false);
    const w = write({ 'a-train.csv': rows(4, 3), 'a-test.csv': '1,0,1\n' });
    expect(() => loadCsvDataset(join(w, 'a-train.csv'))).toThrow(new DataError(`${join(w, 'a-test.csv')} has 2 features per row but ${join(w, 'a-train.csv')} has 3`));
    // "train" without a test file: the last 20%
    const alone = write({ 'x_train.csv': rows(5, 1) });
    expect(loadCsvDataset(join(alone, 'x_train.csv')).test.count).toBe(1);
  });

  it('at least two classes; a one-row file is all test set (loadData refuses it to training)', () => {
    const one = csv(rows(5, 1, () => 0));
    const ds = loadCsvDataset(one);
    expect(ds.classes).toBe(2);
    expect(ds.missingClasses).toBeUndefined(); // none below the largest label
    expect(ds.shape).toEqual([1, 1]);
    for (const n of [1]) {
      const f = csv(rows(n, 1));
      expect([loadCsvDataset(f).train.count, loadCsvDataset(f).test.count]).toEqual([0, n]);
    }
    {
      const two = loadCsvDataset(csv(rows(2, 1)));
      expect([two.train.count, two.test.count]).toEqual([1, 1]);
    }
  });
});
