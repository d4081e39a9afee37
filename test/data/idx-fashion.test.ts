import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadIdxDirectory, readIdxFile } from '../../src/data/idx.js';
import { FASHION, needs, SYSTEM } from '../helpers.js';

// Apart from test/data/idx.test.ts: reading 70,000 real images takes a minute once Stryker instruments idx.ts,
// past its test timeout, so the Stryker part data-readers (vitest.stryker-parts.config.mjs) leaves this file out.
describe('IDX reader on real data', () => {
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
