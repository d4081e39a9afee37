import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/dataset.js';
import { loadIdxDirectory, parseIdx, readIdxFile } from '../../src/data/idx.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { FASHION, idxFile, needs, SYSTEM, TINY_MNIST, tinyMnistWith } from '../helpers.js';

const TINY = TINY_MNIST;

describe('IDX reader', () => {
  it('parses every element type, big-endian', () => {
    expect(Array.from(parseIdx(idxFile(0x08, [3], [0, 128, 255]), 'u').data)).toEqual([0, 128, 255]);
    expect(Array.from(parseIdx(idxFile(0x09, [2], [0xff, 0x01]), 's').data)).toEqual([-1, 1]);
    expect(Array.from(parseIdx(idxFile(0x0b, [2], [0x01, 0x00, 0xff, 0xfe]), 'i16').data)).toEqual([256, -2]);
    expect(Array.from(parseIdx(idxFile(0x0c, [1], [0, 0, 1, 0]), 'i32').data)).toEqual([256]);
    expect(Array.from(parseIdx(idxFile(0x0d, [1], [0x3f, 0x80, 0, 0]), 'f32').data)).toEqual([1]);
    expect(Array.from(parseIdx(idxFile(0x0e, [1], [0x40, 0, 0, 0, 0, 0, 0, 0]), 'f64').data)).toEqual([2]);
    expect(parseIdx(idxFile(0x08, [2, 3, 4], new Array(24).fill(7)), 'x').shape).toEqual([2, 3, 4]);
  });

  it('reads the fixtures, raw and gzip, scaled to [0, 1]', () => {
    const ds = loadIdxDirectory(TINY);
    expect(ds.train.count).toBe(120);
    expect(ds.test.count).toBe(60);
    expect(ds.train.dim).toBe(784);
    expect(ds.classes).toBe(10);
    expect(Math.max(...ds.train.features)).toBe(1);
    expect(Math.min(...ds.train.features)).toBe(0);
    // The fixtures are the first embedded examples, quantised to bytes.
    const emb = loadEmbedded();
    expect(Array.from(ds.train.labels)).toEqual(Array.from(emb.train.labels.subarray(0, 120)));
    for (let i = 0; i < 784 * 5; i++) expect(Math.abs(ds.train.features[i] - emb.train.features[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
  });

  const bad: [string, string, Buffer, RegExp][] = [
    ['wrong magic', 'train-labels-idx1-ubyte', Buffer.from([1, 2, 3, 4, 0, 0, 0, 0]), /not an IDX file \(magic number 0x01020304/],
    ['unknown type', 'train-labels-idx1-ubyte', idxFile(0x07, [1], [0]), /not an IDX file/],
    ['too short', 'train-labels-idx1-ubyte', Buffer.from([0, 0]), /too short for an IDX header/],
    ['truncated header', 'train-images-idx3-ubyte', Buffer.from([0, 0, 8, 3, 0, 0, 0, 120]), /truncated IDX header/],
    ['truncated data', 'train-labels-idx1-ubyte', idxFile(0x08, [120], new Array(100).fill(1)), /truncated: header says 120 ubyte values \(128 bytes\) but the file has 108 bytes/],
    ['trailing bytes', 'train-labels-idx1-ubyte', idxFile(0x08, [120], new Array(121).fill(1)), /1 unexpected bytes after/],
    ['count mismatch', 'train-labels-idx1-ubyte', idxFile(0x08, [119], new Array(119).fill(1)), /has 120 images but train-labels-idx1-ubyte has 119 labels/],
    ['labels not 1-D', 'train-labels-idx1-ubyte', idxFile(0x08, [120, 1], new Array(120).fill(1)), /expected 1 dimension/],
    ['images not 3-D', 'train-images-idx3-ubyte', idxFile(0x08, [120, 784], new Array(120 * 784).fill(1)), /expected 3 dimensions/],
    ['corrupt gzip', 't10k-labels-idx1-ubyte.gz', gzipSync(idxFile(0x08, [60], new Array(60).fill(1))).subarray(0, 20), /corrupt or truncated gzip/],
  ];
  for (const [what, file, data, msg] of bad)
    it(`rejects ${what} with a clear DataError`, () => {
      const dir = tinyMnistWith(file, data);
      expect(() => loadIdxDirectory(dir)).toThrow(DataError);
      expect(() => loadIdxDirectory(dir)).toThrow(msg);
    });

  it('names a missing file and a missing directory', () => {
    expect(() => loadIdxDirectory(tinyMnistWith('t10k-labels-idx1-ubyte.gz', null))).toThrow(/missing t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte\.gz\)/);
    expect(() => loadIdxDirectory('/no/such/dir')).toThrow(/--data \/no\/such\/dir: no such directory/);
  });

  it('detects gzip by content, not by name', () => {
    const dir = tinyMnistWith('train-labels-idx1-ubyte', gzipSync(readFileSync(join(TINY, 'train-labels-idx1-ubyte'))));
    expect(loadIdxDirectory(dir).train.count).toBe(120);
  });

  it('reads the real Fashion-MNIST files (Debian dataset-fashion-mnist)', (ctx) => {
    needs(ctx, SYSTEM.fashionMnist);
    const ds = loadIdxDirectory(FASHION);
    expect(ds.name).toBe('fashion-mnist');
    expect([ds.train.count, ds.test.count, ds.train.dim, ds.classes]).toEqual([60000, 10000, 784, 10]);
    // The first training image is an ankle boot (9), the first test image too; classes are balanced.
    expect(ds.train.labels[0]).toBe(9);
    expect(ds.test.labels[0]).toBe(9);
    const counts = new Array(10).fill(0);
    for (const l of ds.train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    expect(readIdxFile(join(FASHION, 't10k-labels-idx1-ubyte.gz')).shape).toEqual([10000]);
  });
});

describe('embedded digits', () => {
  it('are 10,000 real MNIST digits split 8,000 / 2,000 with every class on both sides', () => {
    const ds = loadEmbedded();
    expect([ds.train.count, ds.test.count, ds.train.dim]).toEqual([8000, 2000, 784]);
    for (const ex of [ds.train, ds.test]) {
      const counts = new Array(10).fill(0);
      for (const l of ex.labels) counts[l]++;
      expect(Math.min(...counts)).toBeGreaterThan(ex.count / 20);
    }
    // the split is fixed: loading twice gives the same order
    expect(Array.from(loadEmbedded().test.labels.subarray(0, 50))).toEqual(Array.from(ds.test.labels.subarray(0, 50)));
  });
});
