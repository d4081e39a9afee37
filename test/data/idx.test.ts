import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/dataset.js';
import { decodeIdx, findIdxFile, IDX_FILES, loadIdxDirectory, parseIdx, readIdxPair } from '../../src/data/idx.js';
import { loadEmbedded } from '../../src/data/embedded.js';
import { idxFile, TINY_MNIST, tinyMnistWith } from '../helpers.js';

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
});

describe('embedded digits', () => {
  it('are 10,000 real MNIST digits split 8,000 / 2,000 with every class on both sides', () => {
    const ds = loadEmbedded();
    expect(ds.name).toBe('embedded');
    expect(ds.classes).toBe(10);
    expect(ds.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(ds.shape).toEqual([28, 28]);
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

// readIdxPair, parseIdx and loadIdxDirectory at the edges of each check, with their whole messages by hand.
describe('IDX files: each check at its edge', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const write = (files: Record<string, Buffer>): string => {
    const d = mkdtempSync(join(tmpdir(), 'backprop-idx-edge-'));
    dirs.push(d);
    for (const [name, data] of Object.entries(files)) writeFileSync(join(d, name), data);
    return d;
  };
  /** Big-endian bytes of float32 or float64 values, as IDX stores them. */
  const be = (size: 4 | 8, v: number[]): Buffer => {
    const b = Buffer.alloc(size * v.length);
    v.forEach((x, i) => (size === 4 ? b.writeFloatBE(x, 4 * i) : b.writeDoubleBE(x, 8 * i)));
    return b;
  };
  /** Two 2×2 images (type, body) and their labels, read as a pair. */
  const pair = (type: number, body: Buffer | number[], labels: Buffer = idxFile(0x08, [2], [1, 0])) => {
    const d = write({ i: idxFile(type, [2, 2, 2], body), l: labels });
    return readIdxPair(join(d, 'i'), join(d, 'l'));
  };
  const refusal = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('scales bytes by 1/255 whatever their largest value, floats only when one is above 1', () => {
    expect(Array.from(pair(0x08, [0, 1, 1, 0, 1, 0, 0, 1]).examples.features)).toEqual(Array.from(Float32Array.from([0, 1, 1, 0, 1, 0, 0, 1], (v) => v / 255)));
    expect(Array.from(pair(0x0d, be(4, [0, 0.5, 1, 0.25, 0, 0, 0, 0.75])).examples.features)).toEqual([0, 0.5, 1, 0.25, 0, 0, 0, 0.75]);
    expect(Array.from(pair(0x0e, be(8, [0, 0.5, 1, 0.25, 0, 0, 0, 1])).examples.features)).toEqual([0, 0.5, 1, 0.25, 0, 0, 0, 1]); // largest exactly 1: kept
    expect(Array.from(pair(0x0d, be(4, [0, 51, 255, 0, 0, 0, 0, 1.5])).examples.features)).toEqual(Array.from(Float32Array.from([0, 51, 255, 0, 0, 0, 0, 1.5], (v) => v / 255)));
    const r = pair(0x0b, [0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // int16 255 is the largest pixel allowed
    expect(r.examples.features[0]).toBe(1);
    expect(r.shape).toEqual([2, 2]);
    expect(Array.from(r.examples.labels)).toEqual([1, 0]);
  });

  it.each<[string, number, Buffer | number[], string]>([
    ['a negative float', 0x0d, be(4, [0, 0, 0, 0, 0, -0.5, 0, 0]), 'value -0.5 at index 5 (image 1, pixel 1)'],
    ['a NaN', 0x0e, be(8, [0, 0, 0, NaN, 0, 0, 0, 0]), 'value NaN at index 3 (image 0, pixel 3)'],
    ['256 in an int16 file', 0x0b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0], 'value 256 at index 7 (image 1, pixel 3)'],
    ['a negative sbyte', 0x09, [0, 0, 0, 0, 0xff, 0, 0, 0], 'value -1 at index 4 (image 1, pixel 0)'],
  ])('refuses %s, naming the image and the pixel', (_what, type, body, where) => {
    const d = write({ i: idxFile(type, [2, 2, 2], body), l: idxFile(0x08, [2], [1, 0]) });
    expect(refusal(() => readIdxPair(join(d, 'i'), join(d, 'l')))).toBe(`${join(d, 'i')}: ${where}: pixels must be finite numbers from 0 to 255, or from 0 to 1`);
  });

  it('refuses pairs that do not fit, each with its message', () => {
    const d = write({
      i: idxFile(0x08, [2, 2, 2], new Array(8).fill(0)),
      i2: idxFile(0x08, [2, 4], new Array(8).fill(0)),
      i0: idxFile(0x08, [0, 2, 2], []),
      icols0: idxFile(0x08, [1, 2, 0], []),
      l: idxFile(0x08, [2], [0, 1]),
      l2: idxFile(0x08, [2, 1], [0, 1]),
      l3: idxFile(0x08, [3], [0, 1, 1]),
      l0: idxFile(0x08, [0], []),
      l1: idxFile(0x08, [1], [0]),
      lint: idxFile(0x0c, [2], new Array(8).fill(0)),
    });
    const p = (name: string) => join(d, name);
    expect(refusal(() => readIdxPair(p('i2'), p('l')))).toBe(`${p('i2')}: expected 3 dimensions (count x rows x cols), found 2 (2x4)`);
    expect(refusal(() => readIdxPair(p('i'), p('l2')))).toBe(`${p('l2')}: expected 1 dimension (count), found 2 (2x1)`);
    expect(refusal(() => readIdxPair(p('i'), p('lint')))).toBe(`${p('lint')}: expected ubyte labels, found int32`);
    expect(refusal(() => readIdxPair(p('i'), p('l3')))).toBe('i has 2 images but l3 has 3 labels');
    expect(refusal(() => readIdxPair(p('i0'), p('l0')))).toBe(`${p('i0')}: holds 0 images`);
    expect(refusal(() => readIdxPair(p('icols0'), p('l1')))).toBe(`${p('icols0')}: the image is 0x2 pixels: it has no pixels`);
  });

  it.each<[string, number[], string]>([
    ['3 bytes', [0, 0, 8], 'x: 3 bytes is too short for an IDX header (need at least 4)'],
    ['a first byte that is not 0', [1, 0, 8, 1, 0, 0, 0, 0], 'x: not an IDX file (magic number 0x01000801, expected 0x0000TTNN with type 08, 09, 0B, 0C, 0D or 0E)'],
    ['a second byte that is not 0', [0, 1, 8, 1, 0, 0, 0, 0], 'x: not an IDX file (magic number 0x00010801, expected 0x0000TTNN with type 08, 09, 0B, 0C, 0D or 0E)'],
    ['0 dimensions', [0, 0, 8, 0], 'x: IDX header declares 0 dimensions'],
    ['one dimension and no size', [0, 0, 8, 1], 'x: truncated IDX header (1 dimensions need 8 bytes, file has 4)'],
    ['a gzip magic alone: its start inflates to no bytes at all', [0x1f, 0x8b], 'x: 0 bytes is too short for an IDX header (need at least 4)'],
    ['half a gzip magic', [0x1f, 0x00, 8, 1, 0, 0, 0, 0], 'x: not an IDX file (magic number 0x1f000801, expected 0x0000TTNN with type 08, 09, 0B, 0C, 0D or 0E)'],
    ['a gzip first byte, then not its second', [0x1f], 'x: 1 bytes is too short for an IDX header (need at least 4)'],
  ])('refuses %s', (_what, bytes, message) => {
    expect(refusal(() => decodeIdx(Buffer.from(bytes), 'x'))).toBe(message);
  });

  it('a second gzip byte after a first that is not: an IDX magic, refused as one, not gunzipped', () => {
    expect(refusal(() => decodeIdx(Buffer.from([0, 0x8b, 8, 1, 0, 0, 0, 0]), 'x'))).toBe('x: not an IDX file (magic number 0x008b0801, expected 0x0000TTNN with type 08, 09, 0B, 0C, 0D or 0E)');
  });

  it('names the shape of a truncated or overlong array as rows x cols', () => {
    expect(refusal(() => parseIdx(idxFile(0x08, [2, 2], [1, 2, 3]), 'x'))).toBe('x: truncated: header says 2x2 ubyte values (16 bytes) but the file has 15 bytes');
    expect(refusal(() => parseIdx(idxFile(0x0b, [1, 2], [0, 1, 0, 2, 9]), 'x'))).toBe('x: 1 unexpected bytes after the 1x2 int16 values');
  });

  it('decodes int32 values in order, and returns bytes that do not alias the file', () => {
    expect(Array.from(parseIdx(idxFile(0x0c, [2], [0, 0, 1, 0, 0xff, 0xff, 0xff, 0xfe]), 'i32').data)).toEqual([256, -2]);
    const file = idxFile(0x08, [3], [5, 6, 7]);
    const a = parseIdx(file, 'u');
    file.fill(0);
    expect(Array.from(a.data)).toEqual([5, 6, 7]);
  });

  it('scales floats by the largest value anywhere, not the last one', () => {
    expect(Array.from(pair(0x0d, be(4, [0, 2, 0, 0, 0, 0, 0, 0.5])).examples.features)).toEqual(Array.from(Float32Array.from([0, 2, 0, 0, 0, 0, 0, 0.5], (v) => v / 255)));
  });

  it('reads an empty array whose header is the whole file', () => {
    const a = parseIdx(idxFile(0x08, [0], []), 'x');
    expect(a.shape).toEqual([0]);
    expect(a.data.length).toBe(0);
    expect(a.type).toBe('ubyte');
  });

  it('finds the files spelled with a dot, raw or gzipped, and names a missing one', () => {
    const d = write({ 'train-images.idx3-ubyte': Buffer.alloc(1), 'train-labels.idx1-ubyte.gz': Buffer.alloc(1) });
    expect(findIdxFile(d, IDX_FILES.trainImages)).toBe(join(d, 'train-images.idx3-ubyte'));
    expect(findIdxFile(d, IDX_FILES.trainLabels)).toBe(join(d, 'train-labels.idx1-ubyte.gz'));
    expect(refusal(() => findIdxFile(d, IDX_FILES.testLabels))).toBe(`${d}: missing t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)`);
  });

  it('loadIdxDirectory: its name, the classes no label has, and each refusal with its message', () => {
    const imgs = (n: number, rows: number, cols: number) => idxFile(0x08, [n, rows, cols], new Array(n * rows * cols).fill(255));
    const d = write({
      'train-images-idx3-ubyte': imgs(3, 2, 2),
      'train-labels-idx1-ubyte': idxFile(0x08, [3], [0, 3, 3]),
      't10k-images-idx3-ubyte': imgs(1, 2, 2),
      't10k-labels-idx1-ubyte': idxFile(0x08, [1], [0]),
    });
    const ds = loadIdxDirectory(d);
    expect(ds.name).toBe(basename(d));
    expect(ds.classes).toBe(4);
    expect(ds.missingClasses).toEqual([1, 2]);
    expect(ds.shape).toEqual([2, 2]);
    expect([ds.train.count, ds.test.count]).toEqual([3, 1]);
    expect(loadIdxDirectory(d, 'digits').name).toBe('digits');
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), idxFile(0x08, [1], [2]));
    writeFileSync(join(d, 'train-labels-idx1-ubyte'), idxFile(0x08, [3], [0, 1, 3]));
    expect('missingClasses' in loadIdxDirectory(d)).toBe(false);
    writeFileSync(join(d, 't10k-images-idx3-ubyte'), imgs(1, 2, 3));
    expect(refusal(() => loadIdxDirectory(d))).toBe(`${d}: training images are 2x2 but test images are 2x3`);
    writeFileSync(join(d, 't10k-images-idx3-ubyte'), imgs(1, 1, 4)); // as many pixels, another shape: a conv net would read them wrongly
    expect(refusal(() => loadIdxDirectory(d))).toBe(`${d}: training images are 2x2 but test images are 1x4`);
    const file = join(d, 't10k-images-idx3-ubyte');
    expect(refusal(() => loadIdxDirectory(file))).toBe(`--data ${file}: not a directory (expected a directory with MNIST-style IDX files)`);
    expect(refusal(() => loadIdxDirectory(join(d, 'none')))).toBe(`--data ${join(d, 'none')}: no such directory (expected "embedded" or a directory with MNIST-style IDX files)`);
  });
});
