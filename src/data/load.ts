import { loadEmbedded } from './embedded.js';
import { loadIdxDirectory } from './idx.js';
import { resolveData, verifyDataset } from './catalog.js';
import { loadCsvDataset } from './csv.js';
import { DataError, splitDataset, type Dataset } from './dataset.js';

/** Which data to load and how to cut it (--data, --limit, --test-limit, --validation, --seed). */
export interface DataSelection {
  data: string;
  limit?: number;
  testLimit?: number;
  validation?: number;
  seed: number;
  /** The examples the caller uses (evaluate's --split): only 'test' needs no training examples. Undefined: both. */
  split?: 'train' | 'test';
}

/**
 * Loads a dataset: "embedded", a dataset name from the catalogue (searched in
 * $BACKPROP_DATA, the user cache and /usr/share/datasets, and verified
 * against its checksums on first use), a directory of IDX files or a CSV
 * file. A catalogued dataset gets its class names, and labels beyond its
 * classes are refused. Then cut and split as asked.
 */
export function loadData(opts: DataSelection): Dataset {
  const r = resolveData(opts.data);
  let ds: Dataset;
  if (r.csv) ds = loadCsvDataset(r.csv);
  else if (!r.dir) ds = loadEmbedded();
  else {
    if (r.entry) verifyDataset(r.dir, r.entry);
    ds = loadIdxDirectory(r.dir, r.entry?.name ?? r.name);
    if (r.entry && ds.classes > r.entry.classes.length) {
      throw new DataError(`${r.dir}: label ${ds.classes - 1} is outside the ${r.entry.classes.length} classes of ${r.entry.name}`);
    }
    if (r.entry && r.entry.classes.length === ds.classes) ds = { ...ds, classNames: r.entry.classes };
  }
  if (r.csv && ds.train.count === 0 && opts.split !== 'test') {
    // A one-row CSV without a test file beside it: its row is the test set (the last 20%), nothing is left to train on or score as train.
    throw new DataError(
      `${opts.data}: 1 row, kept for testing (a CSV without a test file beside it holds out its last 20%, at least one row): no training examples${opts.split === 'train' ? ' to score (use --split test)' : '; give more rows'}`,
    );
  }
  return splitDataset(ds, { limit: opts.limit, testLimit: opts.testLimit, validation: opts.validation, seed: opts.seed });
}
