import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Reads a whole file with a bound: only a regular file (a device such as
 * /dev/zero, a FIFO or a socket would be read without end, or block), of at
 * most `limit` bytes (checked on the open file, and again while reading, for
 * a file that grows). The file is opened O_NONBLOCK, so that a FIFO put where
 * a file was expected (or swapped in after a check) cannot block the open;
 * the type is checked with fstat on that same descriptor, so no other file
 * can be swapped in between the check and the read.
 *
 * Throws a BoundedReadError (with `reason`: not a regular file, too large, or
 * the system's errno code) for the caller to put into its own message.
 */
export function readFileBounded(path: string, limit: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw new BoundedReadError((e as NodeJS.ErrnoException).code ?? String(e));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BoundedReadError(`not a regular file (${kindOf(st)})`);
    if (st.size > limit) throw new BoundedReadError(`${st.size} bytes is more than the ${limit}-byte limit`);
    const read = (buf: Buffer, at: number): number => {
      try {
        return readSync(fd, buf, at, buf.length - at, null);
      } catch (e) {
        throw new BoundedReadError((e as NodeJS.ErrnoException).code ?? String(e));
      }
    };
    // The size fstat gave, in one buffer; then on in small chunks for a file that is longer than it said (/proc files say 0).
    const first = Buffer.allocUnsafe(st.size);
    let got = 0;
    for (let n = -1; got < first.length && n !== 0; got += n) n = read(first, got);
    const parts = [first.subarray(0, got)];
    let total = got;
    for (;;) {
      const chunk = Buffer.allocUnsafe(1 << 16);
      const n = read(chunk, 0);
      if (n === 0) break;
      total += n;
      if (total > limit) throw new BoundedReadError(`more than the ${limit}-byte limit (it grew while being read)`);
      parts.push(chunk.subarray(0, n));
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
  } finally {
    closeSync(fd);
  }
}

/** Why readFileBounded refused or failed: `reason` is short, for `${path}: cannot read (${reason})`. */
export class BoundedReadError extends Error {
  override name = 'BoundedReadError';
  constructor(readonly reason: string) {
    super(reason);
  }
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Largest model file read: 2 GiB (half a billion float32 parameters; ours are megabytes). */
export const MODEL_FILE_LIMIT = 2 ** 31;
/** Largest data file (CSV, IDX, image) read whole: 2 GiB, the IDX limit of src/data/limits.ts. */
export const DATA_FILE_LIMIT = 2 ** 31;
/** Largest config or JSON cache file: 16 MiB (a config is a few hundred bytes). */
export const CONFIG_FILE_LIMIT = 2 ** 24;
