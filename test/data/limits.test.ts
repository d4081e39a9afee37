import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/dataset.js';
import { decodeIdx } from '../../src/data/idx.js';
import { checkImageSize, gunzipLimited, LIMITS, networkBytes } from '../../src/data/limits.js';
import { idxFile } from '../helpers.js';

describe('limits on what a file or a flag can make us allocate', () => {
  it('gunzipLimited inflates exactly what the header declares', () => {
    const raw = idxFile(0x08, [3, 2, 2], Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    expect(gunzipLimited(gzipSync(raw), 'f', () => raw.length).equals(raw)).toBe(true);
    expect(Array.from(decodeIdx(gzipSync(raw), 'f').data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('refuses to inflate one byte past the declared size', () => {
    const raw = idxFile(0x08, [3, 2, 2], Buffer.alloc(14)); // two bytes too many (one is let through, to be named by the IDX parser)
    expect(() => decodeIdx(gzipSync(raw), 'f.gz')).toThrow(new DataError('f.gz: decompresses to more than the 28 bytes its header declares'));
  });

  it('refuses a declared size above the limit, or above what deflate can hold, before inflating', () => {
    expect(() => decodeIdx(gzipSync(idxFile(0x08, [1 << 30, 4], Buffer.alloc(0))), 'a.gz')).toThrow(/a\.gz: its header declares 4294967308 bytes, more than the 2147483648-byte limit/);
    const gz = gzipSync(idxFile(0x08, [1000, 1000], Buffer.alloc(10)));
    const most = gz.length * LIMITS.deflateRatio + 1024;
    expect(() => decodeIdx(gz, 'b.gz')).toThrow(`b.gz: truncated: its header declares 1000012 bytes but ${gz.length} bytes of gzip data hold at most ${most}`);
  });

  it('checkImageSize: 4096x4096 passes, one more row or a zero side does not', () => {
    expect(() => checkImageSize(4096, 4096, 'i')).not.toThrow();
    expect(() => checkImageSize(4096, 4097, 'i')).toThrow('i: 4096x4097 = 16781312 pixels is more than the 16777216-pixel limit (4096x4096)');
    expect(() => checkImageSize(0, 5, 'i')).toThrow('i: the image is 0x5 pixels: it has no pixels');
  });

  it('networkBytes of 2-3-1, m = 10, by hand: 4·(2·(2·3+3 + 3·1+1) + 3·1000·(2+3+1)) = 72104', () => {
    expect(networkBytes([2, 3, 1], 10)).toBe(72104);
    expect(networkBytes([2, 3, 1], 2000, 8)).toBe(8 * (2 * 13 + 3 * 2000 * 6));
  });
});
