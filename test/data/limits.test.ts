import { totalmem } from 'node:os';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/dataset.js';
import { decodeIdx } from '../../src/data/idx.js';
import { checkImageSize, checkNetworkSize, gb, gunzipLimited, LIMITS, networkBytes } from '../../src/data/limits.js';
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

describe('limits at their edges, with whole messages', () => {
  const raw = idxFile(0x08, [4], Buffer.from([1, 2, 3, 4]));
  it('gunzipLimited: a declared size of exactly the limit, or exactly what deflate can hold, is not refused for it', () => {
    // declared sizes the data then does not reach: refused by the next check, not the first
    const gz = gzipSync(raw);
    expect(() => gunzipLimited(gz, 'f', () => LIMITS.idxBytes)).toThrow(
      `f: truncated: its header declares ${LIMITS.idxBytes} bytes but ${gz.length} bytes of gzip data hold at most ${gz.length * 1032 + 1024}`,
    );
    expect(gunzipLimited(gz, 'f', () => gz.length * 1032 + 1024).equals(raw)).toBe(true); // at most: inflated, shorter than declared
    expect(() => gunzipLimited(gz, 'f', () => gz.length * 1032 + 1025)).toThrow(
      `f: truncated: its header declares ${gz.length * 1032 + 1025} bytes but ${gz.length} bytes of gzip data hold at most ${gz.length * 1032 + 1024}`,
    );
    expect(() => gunzipLimited(gz, 'f', () => 2 ** 31 + 1)).toThrow(new DataError('f: its header declares 2147483649 bytes, more than the 2147483648-byte limit'));
  });

  it('gunzipLimited: the declared size and one byte more pass (that byte for the parser to name), two more are refused, a declared 0 still inflates an empty file', () => {
    const gz = gzipSync(raw);
    expect(gunzipLimited(gz, 'f', () => raw.length).equals(raw)).toBe(true);
    expect(gunzipLimited(gz, 'f', () => raw.length - 1).equals(raw)).toBe(true);
    expect(() => gunzipLimited(gz, 'f', () => raw.length - 2)).toThrow(new DataError(`f: decompresses to more than the ${raw.length - 2} bytes its header declares`));
    expect(gunzipLimited(gzipSync(Buffer.alloc(0)), 'e', () => 0).length).toBe(0);
  });

  it('gunzipLimited names the file for gzip data corrupt at its start, or past the header', () => {
    // (the declared size is read from the inflated start, which a corrupt start never reaches)
    expect(() => gunzipLimited(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff]), 'a.gz', (head) => head.length)).toThrow(/^a\.gz: corrupt or truncated gzip data \(/);
    const big = Buffer.alloc(10_000, 7);
    const gz = gzipSync(big);
    const cut = gz.subarray(0, gz.length - 12); // the end of the deflate stream and the trailer gone
    const e = (() => {
      try {
        gunzipLimited(cut, 'b.gz', () => big.length);
      } catch (x) {
        return x as Error;
      }
    })();
    expect(e).toBeInstanceOf(DataError);
    expect(e!.message).toMatch(/^b\.gz: corrupt or truncated gzip data \(.+\)$/);
  });

  it('checkImageSize: a zero side either way has no pixels; the product is what is bounded', () => {
    expect(() => checkImageSize(5, 0, 'i')).toThrow(new DataError('i: the image is 5x0 pixels: it has no pixels'));
    expect(() => checkImageSize(1, 16777216, 'i')).not.toThrow();
    expect(() => checkImageSize(16777217, 1, 'i')).toThrow(new DataError('i: 16777217x1 = 16777217 pixels is more than the 16777216-pixel limit (4096x4096)'));
  });

  it('gb: one decimal below 10 GB, none from there', () => {
    expect([gb(1.6e9), gb(9.94e9), gb(1e10), gb(2.54e10), gb(0)]).toEqual(['1.6 GB', '9.9 GB', '10 GB', '25 GB', '0.0 GB']);
  });

  it('networkBytes: the evaluation batch of 1000 is the floor of m', () => {
    expect(networkBytes([2, 3, 1], 1000)).toBe(networkBytes([2, 3, 1], 1));
    expect(networkBytes([2, 3, 1], 1001) - networkBytes([2, 3, 1], 1000)).toBe(4 * 3 * 6);
    expect(networkBytes([5], 1)).toBe(4 * 3 * 1000 * 5);
  });

  it('checkNetworkSize names the batch size only above the evaluation batch of 1000', () => {
    const n = Math.ceil(totalmem() / 2 / (4 * 3 * 1000)) + 1; // one layer of n inputs: 4·3·1000·n bytes, past half the memory
    expect(() => checkNetworkSize([n], 1000, '--layers')).toThrow(/^--layers: a \d+ network needs about .*; use smaller layers$/);
  });

  it('checkNetworkSize refuses a weight matrix of more than 2³¹ − 1 entries, naming it (at 1/1000 byte a value: past the memory check)', () => {
    // 2³¹ − 1 is prime: 1 × (2³¹ − 1) is the largest matrix allowed
    expect(() => checkNetworkSize([2147483647, 1], 1, '--layers', 1e-9)).not.toThrow();
    expect(() => checkNetworkSize([3, 46341, 46341], 1, '--layers', 1e-9)).toThrow(
      new DataError('--layers: W2 would have 46341x46341 = 2147488281 entries, more than the 2147483647 an array can hold; use smaller layers'),
    );
    expect(() => checkNetworkSize([46341, 46341, 3], 1, '--layers', 1e-9)).toThrow(/^--layers: W1 would have 46341x46341 = 2147488281 entries/);
  });

  it('checkNetworkSize refuses a network beyond half the memory with the estimate, and passes a small one', () => {
    const half = totalmem() / 2;
    expect(() => checkNetworkSize([784, 100, 10], 10, '--layers')).not.toThrow();
    // one hidden layer of n units from 1000 inputs: 4·(2·(1001n + 10n + 10) + 3·1000·(1010 + n)) bytes, past half the memory
    const n = Math.ceil(half / (4 * (2 * 1011 + 3000))) + 1;
    const bytes = 4 * (2 * (1001 * n + 10 * n + 10) + 3 * 1000 * (1010 + n));
    expect(bytes).toBeGreaterThan(half);
    const gbText = (b: number) => `${(b / 1e9).toFixed(b < 1e10 ? 1 : 0)} GB`;
    expect(() => checkNetworkSize([1000, n, 10], 10, '--layers')).toThrow(
      new DataError(`--layers: a 1000-${n}-10 network needs about ${gbText(bytes)} to train (estimated), more than half of this machine's ${gbText(totalmem())}; use smaller layers`),
    );
    const m = 2000;
    const bytesM = 4 * (2 * (1001 * n + 10 * n + 10) + 3 * m * (1010 + n));
    expect(() => checkNetworkSize([1000, n, 10], m, '--layers')).toThrow(
      new DataError(
        `--layers: a 1000-${n}-10 network with batches of ${m} needs about ${gbText(bytesM)} to train (estimated), more than half of this machine's ${gbText(totalmem())}; use smaller layers or batches`,
      ),
    );
  });
});
