import { accessSync, closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Writes a file atomically and durably: the data goes to a temporary file in
 * the same directory, which is fsynced, renamed over path, and then the
 * directory is fsynced so that the rename itself survives a power cut. A
 * reader sees the old file or the new one, never a mix. A symbolic link is
 * followed (its target is replaced, not the link); a target that exists and
 * is not a regular file (a device, a FIFO, a directory) is refused, so
 * `/dev/null` is never replaced by a regular file.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const target = resolveTarget(path);
  const existing = statOrUndefined(target);
  if (existing && !existing.isFile()) throw Object.assign(new Error(`${path}: exists and is ${kind(existing)}, not a regular file`), { code: 'EEXIST' });
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o644);
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/** fsync of a directory makes the names in it (a rename) durable; file systems that cannot do it say EINVAL/EISDIR. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The file a write to path lands in: a symbolic link's target, else path itself. */
function resolveTarget(path: string): string {
  const abs = resolve(path);
  try {
    if (lstatSync(abs).isSymbolicLink()) return realpathSync(abs);
  } catch {
    // missing (or a dangling link, which the rename then replaces)
  }
  return abs;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** An output path that cannot be written: the CLI prints it on one line and exits 2, before any work starts. */
export class OutputPathError extends Error {
  override name = 'OutputPathError';
}

/**
 * Writing failed after the work was done (a full disk, a file system that
 * became read-only, ...): the CLI prints one line and exits 1. Whoever throws
 * it has first saved the work somewhere else and says where in the message.
 */
export class WriteFailedError extends Error {
  override name = 'WriteFailedError';
}

/** "ENOSPC: no space left on the device" from a failed write, for one-line messages. */
export function ioReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EROFS: 'read-only file system',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EIO: 'input/output error',
    ENOENT: 'the directory no longer exists',
    ENOTDIR: 'a part of the path is not a directory',
    EISDIR: 'is a directory',
    EEXIST: 'exists and is not a regular file',
    EFBIG: 'file too large',
    ENAMETOOLONG: 'file name too long',
  };
  return err?.code ? `${err.code}: ${why[err.code] ?? err.message.replace(new RegExp(`^${err.code}: `), '')}` : String(err?.message ?? e);
}

function writableDir(dir: string, flag: string, target: string, probeName = `.backprop-probe-${process.pid}`): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new OutputPathError(`${flag} ${target}: the directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new OutputPathError(`${flag} ${target}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new OutputPathError(`${flag} ${target}: ${dir} is not writable (${ioReason(e)})`);
  }
  // access() trusts the permission bits (root passes them all); creating a file is the real test
  // (with the name the write will use, which also catches a name too long for the file system).
  const probe = join(dir, probeName);
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) {
    try {
      rmSync(probe, { force: true });
    } catch {
      // it was never created
    }
    throw new OutputPathError(`${flag} ${target}: cannot create files in ${dir} (${ioReason(e)})`);
  }
}

/**
 * Checks, before a long run, that a file can be written at path: a file name
 * (not ending in /), not an existing directory, device, FIFO or socket, in a
 * directory that exists and where a file can be created.
 */
export function checkOutputFile(path: string, flag: string): void {
  if (path === '' || /[\\/]$/.test(path)) throw new OutputPathError(`${flag} ${path}: expected a file name, not a directory path`);
  const st = statOrUndefined(path);
  if (st?.isDirectory()) throw new OutputPathError(`${flag} ${path}: is a directory, expected a file name`);
  if (st && !st.isFile()) throw new OutputPathError(`${flag} ${path}: exists and is ${kind(st)}, not a regular file (choose a file name)`);
  const target = resolveTarget(path);
  writableDir(dirname(target), flag, path, `.${basename(target)}.${process.pid}.tmp`);
}

/**
 * Checks that dir can be an output directory: an existing, writable
 * directory, or a missing one whose parent is (then it can be created).
 * Returns whether it exists.
 */
export function checkOutputDir(dir: string, flag: string): boolean {
  const st = statOrUndefined(dir);
  if (st) {
    if (!st.isDirectory()) throw new OutputPathError(`${flag} ${dir}: exists and is ${st.isFile() ? 'a file' : kind(st)}, expected a directory`);
    writableDir(resolve(dir), flag, dir);
    return true;
  }
  writableDir(dirname(resolve(dir)), flag, dir);
  return false;
}

/**
 * Makes sure dir exists and is writable, creating it (one level: its parent
 * must exist) when missing. Called before a long run starts. Returns true
 * when it created the directory (so that a failed write can remove it again).
 */
export function ensureOutputDir(dir: string, flag: string): boolean {
  if (checkOutputDir(dir, flag)) return false;
  try {
    mkdirSync(dir);
  } catch (e) {
    throw new OutputPathError(`${flag} ${dir}: cannot create it (${ioReason(e)})`);
  }
  return true;
}

/**
 * Saves data that could not be written where it was asked to go: tries each
 * directory in turn (the checkpoint directory, then the temporary directory,
 * then the working directory) under a name that says what it is, and returns
 * the path written, or undefined when every one failed too.
 */
export function writeRescue(name: string, data: Uint8Array | string, dirs: (string | undefined)[] = []): string | undefined {
  for (const dir of [...dirs, tmpdir(), process.cwd()]) {
    if (!dir) continue;
    const path = join(dir, `backprop-rescued-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${name.slice(-100)}`);
    try {
      writeFileAtomic(path, data);
      return path;
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/**
 * Writes files into dir as one step: they are written (and fsynced) into a
 * new staging directory — beside dir, then renamed to dir, when dir does not
 * exist; inside dir, its files then renamed into place, when it does. A
 * failure removes the staging directory: no half-made output is left.
 */
export function writeDirectoryAtomic(dir: string, files: { name: string; data: Uint8Array | string }[]): void {
  const target = resolve(dir);
  const exists = statOrUndefined(target) !== undefined;
  const stage = exists ? join(target, `.backprop-staging.${process.pid}.tmp`) : join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  rmSync(stage, { recursive: true, force: true });
  try {
    mkdirSync(stage);
    for (const f of files) writeFileAtomic(join(stage, f.name), f.data);
    if (exists) {
      for (const f of files) {
        const existing = statOrUndefined(join(target, f.name));
        if (existing && !existing.isFile()) throw Object.assign(new Error(`${join(dir, f.name)}: exists and is ${kind(existing)}`), { code: 'EEXIST' });
      }
      for (const f of files) renameSync(join(stage, f.name), join(target, f.name));
      fsyncDir(target);
      rmSync(stage, { recursive: true, force: true });
    } else {
      renameSync(stage, target);
    }
    fsyncDir(dirname(target));
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
}
