import { resolveData } from './catalog.js';
import { readCsv } from './csv.js';
import { DataError, type Dataset, type Examples } from './dataset.js';
import { loadData } from './load.js';

/**
 * `train --val-data SPEC`: validation examples from a dataset of their own
 * instead of a split of the training set. SPEC is what --data takes; the
 * examples are every row of a CSV file, or the training examples of a
 * directory or a named dataset. They must be examples of the same kind as
 * `ds`'s (as many values each, the same image shape, no label beyond its
 * classes), else a one-line DataError naming --val-data. `ds` comes back
 * with them as its validation set.
 */
export function withValidationData(ds: Dataset, spec: string): Dataset {
  let v: Examples;
  let shape: Dataset['shape'];
  try {
    const r = resolveData(spec);
    if (r.csv) v = readCsv(r.csv).examples;
    else ({ train: v, shape } = loadData({ data: spec, seed: 0 }));
  } catch (e) {
    if (e instanceof DataError) throw new DataError(e.message.replace(/^--data /, '--val-data '));
    throw e;
  }
  const name = `--val-data ${spec}`;
  if (v.dim !== ds.train.dim) throw new DataError(`${name}: ${v.dim} values per example, but the training data ${ds.name} has ${ds.train.dim}`);
  if (shape && ds.shape && shape.join('×') !== ds.shape.join('×')) throw new DataError(`${name}: images of ${shape.join('×')}, but the training data ${ds.name} has ${ds.shape.join('×')}`);
  if (v.count === 0) throw new DataError(`${name}: no examples`);
  let top = 0;
  for (const l of v.labels) if (l > top) top = l;
  if (top >= ds.classes) throw new DataError(`${name}: label ${top} is outside the ${ds.classes} classes of the training data ${ds.name}`);
  return { ...ds, validation: v };
}
