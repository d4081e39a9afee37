import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { catalogEntry, resolveData, verifyCachePath, verifyDataset, verifyFile, type CatalogEntry, type CatalogFile } from '../../src/data/catalog.js';
import { DataError } from '../../src/data/dataset.js';
import { loadData } from '../../src/data/load.js';
import { idxFile, TINY_MNIST, TINY_MNIST_FILES } from '../helpers.js';
import { gzipSync } from 'node:zlib';

// The verification cache (~/.cache/backprop/verified.json) and what a
// directory given by path is taken for. Each test has its own cache.

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = mkdtempSync(join(tmpdir(), 'backprop-vcache-'));
});
afterEach(() => {
  if (saved === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved;
});

/** A raw copy of the tiny fixture's training labels, with its catalogue record (content SHA-256). */
function labelsCopy(): { path: string; f: CatalogFile } {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-v-'));
  const path = join(dir, 'train-labels-idx1-ubyte');
  copyFileSync(join(TINY_MNIST, 'train-labels-idx1-ubyte'), path);
  utimesSync(path, 1e9, 1e9); // whole seconds, so a test can put the mtime back exactly
  const bytes = readFileSync(path);
  return { path, f: { name: 'train-labels-idx1-ubyte.gz', md5: '0'.repeat(32), contentSha256: sha256(bytes) } };
}

describe('the verification cache', () => {
  it('hashes a file once, then trusts the cache while the file is the same', () => {
    const { path, f } = labelsCopy();
    expect(verifyFile(path, f)).toMatchObject({ ok: true, method: 'content-sha256', cached: false });
    expect(verifyFile(path, f)).toMatchObject({ ok: true, cached: true });
  });

  it('a file rewritten in place with its size and mtime put back is hashed again (ctime changed) and fails', async () => {
    const { path, f } = labelsCopy();
    expect(verifyFile(path, f).ok).toBe(true);
    const st = statSync(path);
    const b = readFileSync(path);
    b[b.length - 1] ^= 1; // same size
    await new Promise((r) => setTimeout(r, 20)); // let the clock move on, so ctime differs
    writeFileSync(path, b);
    utimesSync(path, 1e9, 1e9); // mtime as before: a size+mtime key would still say "verified"
    expect(statSync(path).mtimeMs).toBe(st.mtimeMs);
    expect(verifyFile(path, f)).toMatchObject({ ok: false, cached: false });
  });

  it('a file replaced by another (a new inode) is hashed again', () => {
    const { path, f } = labelsCopy();
    expect(verifyFile(path, f).ok).toBe(true);
    const b = readFileSync(path);
    b[b.length - 1] ^= 1;
    writeFileSync(path + '.tmp', b);
    // renamed over it: a different inode at the same path, same size and mtime
    utimesSync(path + '.tmp', 1e9, 1e9);
    renameSync(path + '.tmp', path);
    expect(verifyFile(path, f)).toMatchObject({ ok: false, cached: false });
  });

  for (const junk of ['null', '[]', '"x"', '{"a": null}', '{', '{"/x": {"size": "1"}}']) {
    it(`a cache file holding ${junk} counts as no cache (no internal error)`, () => {
      const { path, f } = labelsCopy();
      mkdirSync(join(process.env.XDG_CACHE_HOME!, 'backprop'), { recursive: true });
      writeFileSync(verifyCachePath(), junk);
      expect(verifyFile(path, f)).toMatchObject({ ok: true, cached: false });
      expect(verifyFile(path, f)).toMatchObject({ ok: true, cached: true }); // and it was rewritten whole
    });
  }

  it('a cached record is checked against the catalogue every time: a changed expected digest fails', () => {
    const { path, f } = labelsCopy();
    expect(verifyFile(path, f).ok).toBe(true);
    expect(verifyFile(path, { ...f, contentSha256: 'f'.repeat(64) })).toMatchObject({ ok: false, cached: true });
  });
});

/** A catalogue entry named `name` describing the tiny fixture's four files exactly. */
function tinyEntry(name: string): CatalogEntry {
  const roles = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;
  const files = Object.fromEntries(
    TINY_MNIST_FILES.map((n, i) => {
      const b = readFileSync(join(TINY_MNIST, n));
      return [roles[i], { name: n.endsWith('.gz') ? n : `${n}.gz`, md5: md5(b), contentSha256: sha256(n.endsWith('.gz') ? Buffer.alloc(0) : b) }];
    }),
  );
  return { name, title: name, description: '', classes: 'abcdefghij'.split(''), shape: [28, 28], train: 120, test: 60, files, licence: '', urls: [], homepage: '', citation: '' };
}

describe('a directory given by path', () => {
  it("a user's own directory named like a catalogued dataset (fashion-mnist) is their data, not a corrupt download", () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'backprop-own-')), 'fashion-mnist');
    mkdirSync(dir);
    for (const n of TINY_MNIST_FILES) copyFileSync(join(TINY_MNIST, n), join(dir, n));
    expect(catalogEntry('fashion-mnist')).toBeDefined();
    const r = resolveData(dir);
    expect(r.entry).toBeUndefined();
    const ds = loadData({ data: dir, seed: 0 });
    expect(ds.train.count).toBe(120);
    expect(ds.classNames).toBeUndefined(); // not labelled with Fashion-MNIST's class names
  });

  it('a directory whose files are the catalogued ones gets the entry (and its class names)', () => {
    const catDir = mkdtempSync(join(tmpdir(), 'backprop-cat-'));
    const entry = tinyEntry('tiny');
    // the .gz test files are verified by their MD5; the raw training files by their content
    writeFileSync(join(catDir, 'tiny.json'), JSON.stringify(entry));
    const dir = join(mkdtempSync(join(tmpdir(), 'backprop-own-')), 'tiny');
    mkdirSync(dir);
    for (const n of TINY_MNIST_FILES) copyFileSync(join(TINY_MNIST, n), join(dir, n));
    const before = process.env.BACKPROP_CATALOG;
    process.env.BACKPROP_CATALOG = catDir;
    try {
      expect(verifyDataset(dir, entry)).toHaveLength(4);
      expect(resolveData(dir).entry?.name).toBe('tiny');
      expect(loadData({ data: dir, seed: 0 }).classNames?.join('')).toBe('abcdefghij');
    } finally {
      if (before === undefined) delete process.env.BACKPROP_CATALOG;
      else process.env.BACKPROP_CATALOG = before;
    }
  });
});

describe('verification reads only regular files', () => {
  it('a FIFO under a dataset file name is refused in one line, not read forever', async () => {
    const { execFileSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'backprop-fifo-'));
    const path = join(dir, 'train-labels-idx1-ubyte');
    execFileSync('mkfifo', [path]);
    const f: CatalogFile = { name: 'train-labels-idx1-ubyte.gz', md5: '0'.repeat(32), contentSha256: '0'.repeat(64) };
    expect(() => verifyFile(path, f)).toThrow(/train-labels-idx1-ubyte: not a regular file/);
  });
});

it('class names from a catalogue file are neutralised before anything prints them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-esccat-'));
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify({ name: 'tiny', classes: ['\u001b]0;PWN\u0007\u001b[2J\u009b31m\u202eevil0', 'one'], files: {}, shape: [28, 28], train: 1, test: 1 }));
  const before = process.env.BACKPROP_CATALOG;
  process.env.BACKPROP_CATALOG = dir;
  try {
    const names = catalogEntry('tiny')!.classes;
    expect(names[1]).toBe('one');
    expect(names[0]).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  } finally {
    if (before === undefined) delete process.env.BACKPROP_CATALOG;
    else process.env.BACKPROP_CATALOG = before;
  }
});

describe('a malformed catalogue file is a DataError naming it, never an internal error', () => {
  const cases: [string, RegExp][] = [
    ['{"name": "tiny",', /tiny\.json: not valid JSON/],
    ['null', /tiny\.json: expected a JSON object describing a dataset/],
    ['[]', /tiny\.json: expected a JSON object describing a dataset/],
    ['{"name": "tiny", "files": {}, "classes": 3}', /tiny\.json: "classes" must be a list of class names/],
    ['{"name": "tiny", "classes": []}', /tiny\.json: "files" must be an object/],
    ['{"classes": [], "files": {}}', /tiny\.json: the dataset has no "name"/],
    ['{"name": "tiny", "classes": [], "files": {"trainImages": null}}', /tiny\.json: a file has no "name"/],
    ['{"name": "tiny", "classes": [], "files": {"trainImages": {"name": "a.gz"}}}', /tiny\.json: a\.gz: "md5" must be a string/],
    ['{"name": "../up", "classes": [], "files": {}}', /tiny\.json: "\.\.\/up" is not a file name/],
    // found by a hostile-input hunt: `datasets fetch` said "base.endsWith is not a function"
    ['{"name": "tiny", "classes": [], "files": {}, "urls": [5, null]}', /tiny\.json: "urls" must be a list of URLs \(strings\)/],
    ['{"name": "tiny", "classes": [], "files": {}, "shape": "x", "train": 1, "test": 1}', /tiny\.json: "shape" must be \[rows, cols\]/],
    ['{"name": "tiny", "classes": [], "files": {}, "shape": [28, 28], "train": -5, "test": 1}', /tiny\.json: "train" and "test" must be positive whole numbers/],
    [
      '{"name": "tiny", "classes": [], "files": {"trainImages": {"name": "a.gz", "md5": "0", "size": "big"}}, "shape": [28, 28], "train": 1, "test": 1}',
      /tiny\.json: a\.gz: "size" must be a positive whole number/,
    ],
  ];
  for (const [json, msg] of cases)
    it(json, () => {
      const dir = mkdtempSync(join(tmpdir(), 'backprop-badcat-'));
      writeFileSync(join(dir, 'tiny.json'), json);
      const before = process.env.BACKPROP_CATALOG;
      process.env.BACKPROP_CATALOG = dir;
      try {
        expect(() => catalogEntry('tiny')).toThrow(DataError);
        expect(() => catalogEntry('tiny')).toThrow(msg);
      } finally {
        if (before === undefined) delete process.env.BACKPROP_CATALOG;
        else process.env.BACKPROP_CATALOG = before;
      }
    });
});

it('a gzip whose content is longer than its IDX header declares is named as such, not given the empty input’s digest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-bomb-'));
  const path = join(dir, 'train-labels-idx1-ubyte.gz');
  // a label file declaring 2 labels, followed by 100 kB more
  writeFileSync(path, gzipSync(Buffer.concat([idxFile(0x08, [2], [1, 2]), Buffer.alloc(100_000)])));
  const c = verifyFile(path, { name: 'train-labels-idx1-ubyte.gz', md5: '0'.repeat(32), contentSha256: '0'.repeat(64) });
  expect(c.ok).toBe(false);
  expect(c.actual).not.toBe(createHash('sha256').digest('hex')); // e3b0c442…: the digest of nothing
  expect(c.actual).toMatch(/^no digest: /);
});

it('a BACKPROP_CATALOG that names no directory is one line naming the variable (it said "scandir failed: the directory no longer exists")', () => {
  for (const value of ['', '/nonexistent-catalogue']) {
    const before = process.env.BACKPROP_CATALOG;
    process.env.BACKPROP_CATALOG = value;
    try {
      expect(() => catalogEntry('mnist')).toThrow(DataError);
      expect(() => catalogEntry('mnist')).toThrow(`BACKPROP_CATALOG=${JSON.stringify(value)}: cannot list its files (ENOENT)`);
    } finally {
      if (before === undefined) delete process.env.BACKPROP_CATALOG;
      else process.env.BACKPROP_CATALOG = before;
    }
  }
});
