import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { readImage, toMnist, type Grey } from '../../src/data/image.js';
import { DataError } from '../../src/data/dataset.js';

// readImage (PNG, PGM P2/P5) and toMnist in-process, every value by hand (the CLI tests of predict run dist/).

const dir = mkdtempSync(join(tmpdir(), 'backprop-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const file = (bytes: Buffer | string): string => {
  const f = join(dir, `i${files++}`);
  writeFileSync(f, bytes);
  return f;
};
const f32 = (v: number[]) => Array.from(Float32Array.from(v));

function refusal(f: string): string {
  try {
    readImage(f);
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
/** A PNG by hand: IHDR (8-bit, the colour type given, not interlaced), the IDAT given, IEND. */
function png(w: number, h: number, colorType: number, idat: Buffer, interlace = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = colorType;
  ihdr[12] = interlace;
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('readImage: PNG', () => {
  it('RGBA is composed over white with the luminance weights 0.299, 0.587, 0.114', () => {
    const p = new PNG({ width: 3, height: 1 });
    p.data.set([255, 0, 0, 255, 0, 255, 0, 255, 10, 20, 200, 51]);
    const g = readImage(file(PNG.sync.write(p)));
    expect([g.width, g.height]).toEqual([3, 1]);
    const a = 51 / 255;
    expect(Array.from(g.data)).toEqual(f32([0.299, 0.587, a * ((0.299 * 10 + 0.587 * 20 + 0.114 * 200) / 255) + (1 - a)]));
  });

  it('greyscale and RGB, several rows', () => {
    // two rows of 3 grey pixels, each after its filter byte 0
    const g = readImage(file(png(3, 2, 0, deflateSync(Buffer.from([0, 0, 51, 255, 0, 102, 204, 0])))));
    expect([g.width, g.height]).toEqual([3, 2]);
    expect(Array.from(g.data)).toEqual(f32([0, 0.2, 1, 0.4, 0.8, 0]));
    const rgb = readImage(file(png(1, 1, 2, deflateSync(Buffer.from([0, 255, 255, 0])))));
    expect(Array.from(rgb.data)).toEqual(f32([0.299 + 0.587]));
  });

  it('refuses what is not a whole PNG image, with the reason', () => {
    let f = file(Buffer.concat([SIGNATURE, Buffer.from('0123456789abcdef')]));
    expect(refusal(f)).toBe(`${f}: corrupt PNG (no IHDR chunk)`);
    f = file(SIGNATURE);
    expect(refusal(f)).toBe(`${f}: corrupt PNG (no IHDR chunk)`);
    f = file(png(0, 5, 0, deflateSync(Buffer.alloc(0))));
    expect(refusal(f)).toBe(`${f}: the image is 0x5 pixels: it has no pixels`);
    f = file(png(1, 1, 0, deflateSync(Buffer.alloc(70_000))));
    expect(refusal(f)).toBe(`${f}: corrupt PNG (its image data inflates to more than a 1x1 image can hold)`);
    f = file(png(2, 2, 0, Buffer.from('not deflate')));
    expect(refusal(f)).toMatch(new RegExp(`^${f}: corrupt PNG \\((?!its image data).+\\)$`));
    f = file(png(4, 3, 2, deflateSync(Buffer.alloc(20))));
    expect(refusal(f)).toBe(`${f}: corrupt PNG (its image data holds 20 of the 39 bytes a 4x3 image needs)`);
    f = file(png(4, 3, 0, deflateSync(Buffer.alloc(14))));
    expect(refusal(f)).toBe(`${f}: corrupt PNG (its image data holds 14 of the 15 bytes a 4x3 image needs)`);
    // complete data but a broken chunk CRC: pngjs's own reason
    const good = png(1, 1, 0, deflateSync(Buffer.from([0, 7])));
    good[good.length - 5] ^= 1; // IEND's CRC
    f = file(good);
    expect(refusal(f)).toMatch(new RegExp(`^${f}: corrupt PNG \\(.+\\)$`));
  });

  it('an interlaced image is not held to the non-interlaced size (pngjs reads its passes)', () => {
    const p = new PNG({ width: 2, height: 2 });
    p.data.set([0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255]);
    const g = readImage(file(PNG.sync.write(p, { colorType: 0 })));
    expect(Array.from(g.data)).toEqual([0, 1, 1, 0]);
  });

  it('neither PNG nor PGM', () => {
    for (const bytes of ['hello', 'P3\n1 1\n255\n0', 'P', '', 'Q5 1 1 255\n\x00', 'Q2 1 1 255 0']) {
      const f = file(bytes);
      expect(refusal(f)).toBe(`${f}: not a PNG or PGM image`);
    }
  });
});

describe('readImage: PNG headers at their edges', () => {
  const head = (n: number) => {
    const b = Buffer.alloc(n);
    SIGNATURE.copy(b);
    b.write('IHDR', 12, 'latin1');
    if (n >= 24) {
      b.writeUInt32BE(2, 16);
      b.writeUInt32BE(2, 20);
    }
    return b;
  };
  it('24 bytes hold the IHDR size: read on (then refused for its missing image data); 20 bytes do not', () => {
    const f24 = file(head(24));
    expect(refusal(f24)).toMatch(new RegExp(`^${f24}: corrupt PNG \\((?!no IHDR)`));
    const f20 = file(head(20));
    expect(refusal(f20)).toBe(`${f20}: corrupt PNG (no IHDR chunk)`);
  });

  it('a 200×200 RGBA image (160,200 bytes of image data) is read whole', () => {
    const p = new PNG({ width: 200, height: 200 });
    for (let i = 0; i < 200 * 200; i++) p.data.set([0, 0, 0, 255], 4 * i);
    p.data.set([255, 255, 255, 255], 4 * (200 * 200 - 1));
    const g = readImage(file(PNG.sync.write(p)));
    expect([g.width, g.height, g.data[0], g.data[200 * 200 - 1]]).toEqual([200, 200, 0, 1]);
  });
});

describe('readImage: PGM', () => {
  it('maxval 65535 is allowed (16-bit samples)', () => {
    expect(Array.from(readImage(file(Buffer.concat([Buffer.from('P5 2 1 65535\n'), Buffer.from([0xff, 0xff, 0, 0])]))).data)).toEqual([1, 0]);
  });

  it('a comment that runs to the end of the file ends the header there', () => {
    const f = file('P2 1 1 # no newline after this');
    expect(refusal(f)).toBe(`${f}: bad PGM header (width, height and maxval 1–65535 expected)`);
  });

  it('P5 with 8-bit and 16-bit samples, and a comment in the header', () => {
    let g = readImage(file(Buffer.concat([Buffer.from('P5\n# made by hand\n3 2\n255\n'), Buffer.from([0, 51, 255, 102, 204, 0])])));
    expect([g.width, g.height]).toEqual([3, 2]);
    expect(Array.from(g.data)).toEqual(f32([0, 0.2, 1, 0.4, 0.8, 0]));
    g = readImage(file(Buffer.concat([Buffer.from('P5 2 1 1000 '), Buffer.from([0x03, 0xe8, 0x01, 0xf4])])));
    expect(Array.from(g.data)).toEqual(f32([1, 0.5]));
    g = readImage(file(Buffer.concat([Buffer.from('P5\n1 1\n256\n'), Buffer.from([0x01, 0x00])])));
    expect(Array.from(g.data)).toEqual([1]);
  });

  it('P2 with comments anywhere', () => {
    const g = readImage(file('P2\n# c\n2 2\n# another\n10\n0 5 # x\n10\n 3\n'));
    expect([g.width, g.height]).toEqual([2, 2]);
    expect(Array.from(g.data)).toEqual(f32([0, 0.5, 1, 0.3]));
  });

  const bad: [string, string | Buffer, (f: string) => string][] = [
    ['another magic', 'P5x 1 1 255 a', (f) => `${f}: bad PGM header (magic P5x, expected P2 or P5)`],
    ['maxval 0', 'P2 1 1 0 0', (f) => `${f}: bad PGM header (width, height and maxval 1–65535 expected)`],
    ['maxval 65536', 'P2 1 1 65536 0', (f) => `${f}: bad PGM header (width, height and maxval 1–65535 expected)`],
    ['a width that is not a number', 'P2 a 1 255 0', (f) => `${f}: bad PGM header (width, height and maxval 1–65535 expected)`],
    ['a negative height', 'P2 1 -1 255 0', (f) => `${f}: bad PGM header (width, height and maxval 1–65535 expected)`],
    ['a fractional maxval', 'P2 1 1 2.5 0', (f) => `${f}: bad PGM header (width, height and maxval 1–65535 expected)`],
    ['a header cut short', 'P2 1 1', (f) => `${f}: bad PGM header (width, height and maxval 1–65535 expected)`],
    ['no pixels', 'P2 0 3 255', (f) => `${f}: the image is 0x3 pixels: it has no pixels`],
    ['P5 cut short', Buffer.concat([Buffer.from('P5 3 2 255\n'), Buffer.alloc(5)]), (f) => `${f}: truncated PGM (3x2 needs 6 bytes of pixels)`],
    ['P5 16-bit cut short', Buffer.concat([Buffer.from('P5 2 1 1000\n'), Buffer.alloc(3)]), (f) => `${f}: truncated PGM (2x1 needs 4 bytes of pixels)`],
    ['P5 above maxval', Buffer.concat([Buffer.from('P5 3 2 100\n'), Buffer.from([0, 0, 0, 0, 200, 0])]), (f) => `${f}: sample 200 at index 4 (row 1, column 1) is above the header's maxval 100`],
    ['P5 16-bit above maxval', Buffer.concat([Buffer.from('P5 1 1 1000\n'), Buffer.from([0x03, 0xe9])]), (f) => `${f}: sample 1001 at index 0 (row 0, column 0) is above the header's maxval 1000`],
    ['P2 with too few values', 'P2 2 2 10 1 2 3', (f) => `${f}: PGM has fewer than 4 pixel values`],
    ['P2 with a word', 'P2 2 1 10 1 x', (f) => `${f}: PGM has fewer than 2 pixel values`],
    ['P2 negative', 'P2 2 1 10 1 -1', (f) => `${f}: sample -1 at index 1 is not an integer from 0 to 10`],
    ['P2 fractional', 'P2 2 1 10 0.5 1', (f) => `${f}: sample 0.5 at index 0 is not an integer from 0 to 10`],
    ['P2 above maxval', 'P2 3 1 10 1 2 11', (f) => `${f}: sample 11 at index 2 (row 0, column 2) is above the header's maxval 10`],
  ];
  for (const [what, bytes, msg] of bad) {
    it(`refuses ${what}`, () => {
      const f = file(bytes);
      expect(refusal(f)).toBe(msg(f));
    });
  }

  it('accepts samples equal to maxval and values after the n it needs', () => {
    expect(Array.from(readImage(file('P2 2 1 10 10 0 99 x')).data)).toEqual([1, 0]);
    expect(Array.from(readImage(file(Buffer.concat([Buffer.from('P5 1 1 7\n'), Buffer.from([7, 9])]))).data)).toEqual([1]);
  });
});

describe('toMnist', () => {
  const grey = (width: number, height: number, f: (x: number, y: number) => number): Grey => ({
    width,
    height,
    data: Float32Array.from({ length: width * height }, (_, k) => f(k % width, Math.floor(k / width))),
  });

  it('a 28×28 image is used as it is, inverted when its background is light', () => {
    const dark = grey(28, 28, (x, y) => (x === y ? 0.75 : 0.1));
    expect(Array.from(toMnist(dark, 'd'))).toEqual(Array.from(dark.data));
    const light = grey(28, 28, (x, y) => (x === y ? 0.25 : 0.9));
    expect(Array.from(toMnist(light, 'l'))).toEqual(Array.from(light.data, (v) => Math.fround(1 - v)));
  });

  it('crops to the ink, keeps a box of at most 20 pixels, and centres its mass in 28×28', () => {
    // a 10×20 block of ink on a 40×40 black image, with faint specks (below 20% of the brightest) outside it
    const img = grey(40, 40, (x, y) => (x >= 5 && x < 15 && y >= 12 && y < 32 ? 1 : (x + y) % 7 === 0 ? 0.1 : 0));
    const out = toMnist(img, 'i');
    // scale 1: the block as it is; its centre of mass (4.5, 9.5) moves to (13.5, 13.5): columns 9–18, rows 4–23
    const want = Array.from({ length: 784 }, (_, k) => (k % 28 >= 9 && k % 28 <= 18 && Math.floor(k / 28) >= 4 && Math.floor(k / 28) <= 23 ? 1 : 0));
    expect(Array.from(out)).toEqual(want);
  });

  it('scales a 30-pixel box by 2/3: each target pixel averages 1½ source pixels a side, weighted by the area it covers', () => {
    // ink f(x)·f(y) in a 30×30 box at (5, 5) of a black 40×40 image, f = 1 on even offsets and ½ on odd ones.
    // Target pixel t covers source offsets [1.5t, 1.5t + 1.5), one pixel whole and half of another; by hand along one axis:
    //   t = 0: [0, 1.5) → (1·1 + ½·½) / 1½ = 5/6      t = 1: [1.5, 3) → (½·½ + 1·1) / 1½ = 5/6
    //   t = 2: [3, 4.5) → (1·½ + ½·1) / 1½ = 2/3      t = 3: [4.5, 6) → (½·1 + 1·½) / 1½ = 2/3
    // so pixel (tx, ty) is a(tx)·a(ty) of the brightest (1), with a(t) = 5/6 for t mod 4 in {0, 1}, else 2/3.
    const f = (o: number) => (o % 2 === 0 ? 1 : 0.5);
    const a = (t: number) => (t % 4 < 2 ? 5 / 6 : 2 / 3);
    const img = grey(40, 40, (x, y) => (x >= 5 && x < 35 && y >= 5 && y < 35 ? f(x - 5) * f(y - 5) : 0));
    const out = Array.from(toMnist(img, 'i'));
    // centre of mass along each axis Σ a(t)·t / Σ a(t) = 140.83 / 15 = 9.39: offset round(14 − 9.39 − 0.5) = 4, rows and columns 4–23
    for (let k = 0; k < 784; k++) {
      const [x, y] = [(k % 28) - 4, Math.floor(k / 28) - 4];
      const want = x >= 0 && x < 20 && y >= 0 && y < 20 ? a(x) * a(y) : 0;
      expect(out[k], `pixel ${k}`).toBeCloseTo(want, 6);
    }
  });

  it('a background of mean exactly ½ is not inverted; a 28-wide image of another height is cropped and scaled, not used as it is', () => {
    const half = grey(28, 28, (x) => (x < 14 ? 1 : 0));
    expect(Array.from(toMnist(half, 'h'))).toEqual(Array.from(half.data));
    expect(
      toMnist(
        grey(28, 40, (x, y) => (x === 3 && y === 3 ? 1 : 0)),
        'w',
      ).length,
    ).toBe(784);
    expect(
      toMnist(
        grey(40, 28, (x, y) => (x === 3 && y === 3 ? 1 : 0)),
        't',
      ).length,
    ).toBe(784);
  });

  it('one pixel of ink at the first row and column becomes a 20×20 block at rows and columns 4–23', () => {
    const want = Array.from({ length: 784 }, (_, k) => (k % 28 >= 4 && k % 28 <= 23 && Math.floor(k / 28) >= 4 && Math.floor(k / 28) <= 23 ? 1 : 0));
    expect(
      Array.from(
        toMnist(
          grey(40, 40, (x, y) => (x === 0 && y === 0 ? 1 : 0)),
          'p',
        ),
      ),
    ).toEqual(want);
    expect(
      Array.from(
        toMnist(
          grey(40, 40, (x, y) => (x === 0 && y === 5 ? 1 : 0)),
          'q',
        ),
      ),
    ).toEqual(want); // the row above must not see it at its x = 40
  });

  it('a speck of exactly 20% of the brightest is not ink: the box is the brightest pixel alone', () => {
    // 0.625 and 0.125 are exact in float32, and 0.2 · 0.625 rounds to 0.125 exactly
    const img = grey(40, 40, (x, y) => (x === 10 && y === 10 ? 0.625 : x === 30 && y === 30 ? 0.125 : 0));
    const want = Array.from({ length: 784 }, (_, k) => (k % 28 >= 4 && k % 28 <= 23 && Math.floor(k / 28) >= 4 && Math.floor(k / 28) <= 23 ? 1 : 0));
    expect(Array.from(toMnist(img, 's'))).toEqual(want);
  });

  it('halves a 40-pixel box by averaging 2×2 areas, scaled by the brightest pixel, and inverts a light image', () => {
    // blocks of 2×2 pixels with values 0.3, 0.6, 0.9 by block, on a light background (inverted: ink = 1 − v)
    const v = (bx: number, by: number) => ((bx + 2 * by) % 3) * 0.25 + 0.3;
    const img = grey(44, 44, (x, y) => (x >= 2 && x < 42 && y >= 2 && y < 42 ? 1 - v((x - 2) >> 1, (y - 2) >> 1) : 1));
    const out = toMnist(img, 'i');
    const ink = (bx: number, by: number) => Math.fround(1 - Math.fround(1 - v(bx, by)));
    const brightest = Math.max(...img.data.map((p) => Math.fround(1 - p)));
    let mass = 0,
      cx = 0,
      cy = 0;
    for (let by = 0; by < 20; by++)
      for (let bx = 0; bx < 20; bx++) {
        mass += ink(bx, by);
        cx += ink(bx, by) * bx;
        cy += ink(bx, by) * by;
      }
    const ox = Math.round(14 - cx / mass - 0.5),
      oy = Math.round(14 - cy / mass - 0.5);
    let diff = 0;
    for (let by = 0; by < 20; by++) for (let bx = 0; bx < 20; bx++) diff = Math.max(diff, Math.abs(out[(by + oy) * 28 + bx + ox] - ink(bx, by) / brightest));
    expect(diff).toBeLessThan(1e-6);
    // nothing outside the 20×20 box
    let outside = 0;
    out.forEach((p, k) => {
      const x = k % 28,
        y = Math.floor(k / 28);
      if (x < ox || x >= ox + 20 || y < oy || y >= oy + 20) outside += p;
    });
    expect(outside).toBe(0);
  });

  it('a one-pixel line keeps one column; ink near the edge is clamped into the frame', () => {
    const line = grey(3, 100, (x) => (x === 1 ? 1 : 0));
    const out = toMnist(line, 'l');
    // 1×100 → 1×20 (width at least 1), centred: column round(14 − 0 − 0.5) = 14 (13.5 rounds up), rows 4–23
    const want = Array.from({ length: 784 }, (_, k) => (k % 28 === 14 && Math.floor(k / 28) >= 4 && Math.floor(k / 28) <= 23 ? 1 : 0));
    expect(Array.from(out)).toEqual(want);
  });

  it('refuses a blank image', () => {
    expect(() =>
      toMnist(
        grey(30, 30, () => 0.04),
        'blank.png',
      ),
    ).toThrow(new DataError('blank.png: no ink found (the image is blank)'));
    expect(() =>
      toMnist(
        grey(30, 30, () => 0.96),
        'white.png',
      ),
    ).toThrow(new DataError('white.png: no ink found (the image is blank)'));
    expect(
      toMnist(
        grey(30, 30, (x, y) => (x === 3 && y === 4 ? 0.06 : 0)),
        'speck',
      ).some((p) => p === 1),
    ).toBe(true);
  });
});
