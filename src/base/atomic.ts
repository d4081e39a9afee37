import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  accessSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Temporary files and directories of atomic writes are named
 * `.<up to 40 bytes of the target's name>.bptmp-<16 random hex>.<pid>.tmp`:
 * another user cannot guess the name to plant a link there first (and the
 * open refuses any existing entry anyway: O_CREAT|O_EXCL|O_NOFOLLOW), and the
 * name stays under NAME_MAX (255 bytes) whatever the target's length.
 */
export const TEMP_PATTERN = /^\..*\.bptmp-[0-9a-f]{16}\.(\d+)\.tmp$/;

/** Longest file name (bytes) of Linux file systems (ext4, xfs, btrfs, tmpfs). */
export const NAME_MAX = 255;

/** A temporary left by a write that was killed (SIGKILL, power cut) is removed by a later write to the same directory after this many minutes. */
export const STALE_TEMP_MINUTES = 60;

/** The first at most `max` bytes of name in UTF-8, cut at a character boundary. */
function utf8Prefix(name: string, max: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** A fresh temporary name beside target (see TEMP_PATTERN). */
export function tempName(target: string): string {
  return join(dirname(target), `.${utf8Prefix(basename(target), 40)}.bptmp-${randomBytes(8).toString('hex')}.${process.pid}.tmp`);
}

/** open(2) flags of a temporary: created here and now, never through a link, never an existing file. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The mode a new file gets (0644 less the umask), or the mode of the file it replaces. */
function finalMode(existing: Stats | undefined): number {
  if (existing) return existing.mode & 0o7777 & ~0o6000; // never carry set-uid/set-gid over
  const mask = process.umask();
  return 0o644 & ~mask;
}

/** Whether a process with this pid exists (signal 0: EPERM means it exists but is another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporaries that killed writes left in dir: only entries named by
 * TEMP_PATTERN, that are regular files or directories (lstat: a link is never
 * followed, and unlink removes the name, never what it points to), owned by
 * this user, unmodified for `minutes` (STALE_TEMP_MINUTES; 0 where a lock
 * says no write of ours can be in progress), and whose writer (the pid in the
 * name) is no longer running. Never throws: it is housekeeping.
 */
export function cleanStaleTemporaries(dir: string, now = Date.now(), minutes = STALE_TEMP_MINUTES): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const m = TEMP_PATTERN.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!(st.isFile() || st.isDirectory())) continue;
      if (uid !== undefined && st.uid !== uid) continue;
      if (now - st.mtimeMs < minutes * 60_000) continue;
      const pid = Number(m[1]);
      if (pid !== process.pid && processAlive(pid)) continue;
      rmSync(path, { recursive: st.isDirectory(), force: true });
      removed.push(path);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/** Test hook (tests of kills mid-write): a write whose target is named by BACKPROP_TEST_STALL_WRITE stops after half its bytes for a minute. */
function stallForTests(target: string): void {
  if (process.env.BACKPROP_TEST_STALL_WRITE && basename(target) === process.env.BACKPROP_TEST_STALL_WRITE) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  }
}

export interface AtomicWriteOptions {
  /** Refuse to replace an existing file or link (EEXIST) and do not follow a link at path: for names in shared directories (rescues). */
  exclusive?: boolean;
  /**
   * A name we choose in a directory a file can come from (a checkpoint's
   * state.json, model-N.safetensors): a symbolic link at path is replaced by
   * the new file, never followed. A checkpoint that was received or edited
   * then cannot choose where we write by holding a link (resume wrote
   * state.json through one, over the file it pointed to).
   */
  replaceLink?: boolean;
}

/**
 * Writes a file atomically and durably: the data goes to a new temporary file
 * in the same directory (an unpredictable name, opened O_CREAT|O_EXCL|
 * O_NOFOLLOW with mode 0600, given its final mode once written), which is
 * fsynced, renamed over path, and then the directory is fsynced so that the
 * rename itself survives a power cut. A reader sees the old file or the new
 * one, never a mix. A symbolic link at path (the name the user chose) is
 * followed: its target is replaced, not the link; with `exclusive`, nothing
 * existing at path is replaced or followed. A target that exists and is not
 * a regular file (a device, a FIFO, a directory) is refused, so `/dev/null`
 * is never replaced by a regular file. Temporaries that killed writes left in
 * the directory are removed first (cleanStaleTemporaries).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  const noFollow = options.exclusive || options.replaceLink;
  const target = noFollow ? resolve(path) : resolveTarget(path);
  const found = noFollow ? lstatOrUndefined(target) : statOrUndefined(target);
  const existing = options.replaceLink && found?.isSymbolicLink() ? undefined : found; // the link goes; its target is not ours to read the mode of
  if (existing && options.exclusive) throw Object.assign(new Error(`${path}: exists already`), { code: 'EEXIST' });
  if (existing && !existing.isFile()) throw Object.assign(new Error(`${path}: exists and is ${kind(existing)}, not a regular file`), { code: 'EEXIST' });
  const dir = dirname(target);
  cleanStaleTemporaries(dir);
  const tmp = tempName(target);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(tmp, CREATE_NEW, 0o600);
    created = true;
    const half = bytes.length >> 1;
    let off = 0;
    while (off < half) off += writeSync(fd, bytes, off, half - off);
    stallForTests(target);
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fchmodSync(fd, finalMode(existing));
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.exclusive) {
      linkSync(tmp, target); // fails with EEXIST if anything appeared at target meanwhile
      unlinkSync(tmp);
    } else renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    if (created) rmSync(tmp, { force: true });
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

/**
 * The file a write to path lands in: a symbolic link's target, else path
 * itself. A dangling link is refused: following it would create a file
 * wherever it points, and replacing it would write somewhere else than the
 * link says; neither is what a link at the name asks for.
 */
function resolveTarget(path: string): string {
  const abs = resolve(path);
  const link = danglingLink(abs);
  if (link !== undefined) throw new Error(`${path} is a symbolic link to ${link} (a write follows no dangling link: remove it or choose another name)`);
  try {
    if (lstatSync(abs).isSymbolicLink()) return realpathSync(abs);
  } catch {
    // missing
  }
  return abs;
}

/**
 * Where path points, and why that is nowhere, when it is a symbolic link that
 * leads to no file: `gone/m.safetensors, which does not exist`, or `b, a loop
 * of links` (ELOOP); else undefined.
 */
export function danglingLink(path: string): string | undefined {
  let link: string;
  try {
    if (!lstatSync(path).isSymbolicLink()) return undefined;
    link = readlinkSync(path);
  } catch {
    return undefined;
  }
  try {
    statSync(path);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ELOOP' ? `${link}, a loop of links that leads to no file` : `${link}, which does not exist`;
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
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
  if (st.isSymbolicLink()) return 'a symbolic link';
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
  const err = e as NodeJS.ErrnoException & { created?: boolean };
  if (err?.created === false) return err.message; // makeDirectories' own words: which level could not be made
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

function writableDir(dir: string, flag: string, target: string, probeFor = join(dir, '.backprop-probe')): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new OutputPathError(`${flag} ${target}: the directory ${dir} does not exist (nothing creates it: make it first, e.g. with mkdir -p)`);
  }
  if (!st.isDirectory()) throw new OutputPathError(`${flag} ${target}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new OutputPathError(`${flag} ${target}: ${dir} is not writable (${ioReason(e)})`);
  }
  // access() trusts the permission bits (root passes them all); creating a file is the real test
  // (a temporary name as the write will use, O_EXCL|O_NOFOLLOW like it: nothing existing is touched).
  const probe = tempName(probeFor);
  let fd: number | undefined;
  try {
    fd = openSync(probe, CREATE_NEW, 0o600);
  } catch (e) {
    throw new OutputPathError(`${flag} ${target}: cannot create files in ${dir} (${ioReason(e)})`);
  }
  closeSync(fd);
  unlinkSync(probe);
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
  const link = danglingLink(path);
  if (link !== undefined) throw new OutputPathError(`${flag} ${path}: is a symbolic link to ${link}; a write follows no dangling link: remove it or choose another name`);
  const target = resolveTarget(path);
  // The probe uses a short temporary name: a name too long for the final rename is caught here instead.
  const bytes = Buffer.byteLength(basename(target), 'utf8');
  if (bytes > NAME_MAX) throw new OutputPathError(`${flag} ${path}: the file name is ${bytes} bytes, more than the ${NAME_MAX} a file system allows (ENAMETOOLONG)`);
  writableDir(dirname(target), flag, path, target);
}

/**
 * Checks that dir can be an output directory: an existing, writable
 * directory, or a missing one whose parent is (then it can be created).
 * Returns whether it exists.
 */
export function checkOutputDir(dir: string, flag: string): boolean {
  const link = danglingLink(dir);
  if (link !== undefined) throw new OutputPathError(`${flag} ${dir}: is a symbolic link to ${link}; a write follows no dangling link: remove it or choose another name`);
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
 * Opens path for appending (--log, --csv) as writeFileAtomic treats a name:
 * a symbolic link to an existing file is followed (its real path is opened,
 * and that without following a link again), a dangling link is refused (an
 * append would create the file wherever it points), and so is anything but a
 * regular file (a FIFO would block the open: O_NONBLOCK makes it fail at
 * once). A link planted between the check and the open fails the open
 * (O_NOFOLLOW: ELOOP), never redirects it. Errors name the flag in one line.
 */
export function openAppend(path: string, flag: string): number {
  const link = danglingLink(path);
  if (link !== undefined) throw new OutputPathError(`${flag} ${path}: is a symbolic link to ${link}; a write follows no dangling link: remove it or choose another name`);
  let target = resolve(path);
  let isLink = false;
  try {
    isLink = lstatSync(target).isSymbolicLink();
    if (isLink) target = realpathSync(target);
  } catch {
    // missing: created below
  }
  const existing = statOrUndefined(target);
  if (existing && !existing.isFile()) throw new OutputPathError(`${flag} ${path}: exists and is ${kind(existing)}, not a regular file (choose a file name)`);
  let fd: number;
  try {
    fd = openSync(target, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW | constants.O_NONBLOCK | (isLink ? 0 : constants.O_CREAT), 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new OutputPathError(`${flag} ${path}: became a symbolic link after it was checked; a write follows no such link`);
    throw new OutputPathError(`${flag} ${path}: cannot open for appending (${ioReason(e)})`);
  }
  const st = fstatSync(fd);
  if (!st.isFile()) {
    closeSync(fd);
    throw new OutputPathError(`${flag} ${path}: exists and is ${kind(st)}, not a regular file (choose a file name)`);
  }
  return fd;
}

/**
 * `mkdir -p dir`: creates each missing level of dir, parent first, once.
 * Node's own `mkdirSync(dir, { recursive: true })` never returns where
 * mkdir(2) says ENOENT under a parent that exists (a path under /proc or /sys:
 * `XDG_CACHE_HOME=/proc/nope` hung `backprop info` for ever, at full CPU);
 * here the first failure is thrown (ENOENT, EACCES, ENOTDIR, …).
 */
export function makeDirectories(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !statOrUndefined(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || !statOrUndefined(d)?.isDirectory()) {
        const why = (e as Error).message.replace(/^\w+: /, '').replace(/, mkdir .*$/, '');
        throw Object.assign(new Error(`cannot create the directory ${d} (${code ? `${code}: ` : ''}${why})`), { code, created: false });
      }
    }
  }
}

/**
 * Saves data that could not be written where it was asked to go: tries each
 * directory in turn (the checkpoint directory, then the temporary directory,
 * then the working directory) under a new name that says what it is (never
 * replacing or following anything already there: the temporary directory is
 * shared), and returns the path written, or undefined when every one failed too.
 */
export function writeRescue(name: string, data: Uint8Array | string, dirs: (string | undefined)[] = []): string | undefined {
  for (const dir of [...dirs, tmpdir(), process.cwd()]) {
    if (!dir) continue;
    const path = join(dir, `backprop-rescued-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}-${utf8Prefix(name.slice(-100), 100)}`);
    try {
      writeFileAtomic(path, data, { exclusive: true });
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
  cleanStaleTemporaries(exists ? target : dirname(target));
  // A new name, made by mkdir (which never follows or reuses an existing entry), private until it is complete.
  const stage = exists ? tempName(join(target, 'staging')) : tempName(target);
  mkdirSync(stage, 0o700);
  try {
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
      chmodSync(stage, 0o755 & ~process.umask());
      renameSync(stage, target);
    }
    fsyncDir(dirname(target));
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
}
