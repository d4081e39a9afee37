import { accessSync, constants, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Writes a file atomically: a temporary file in the same directory, then rename. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** An output path that cannot be written: the CLI prints it on one line and exits 2, before any work starts. */
export class OutputPathError extends Error {
  override name = 'OutputPathError';
}

function writableDir(dir: string, flag: string, target: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new OutputPathError(`${flag} ${target}: the directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new OutputPathError(`${flag} ${target}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new OutputPathError(`${flag} ${target}: ${dir} is not writable`);
  }
}

/** Checks, before a long run, that a file can be written at path (its directory exists and is writable). */
export function checkOutputFile(path: string, flag: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new OutputPathError(`${flag} ${path}: is a directory, expected a file name`);
  writableDir(dirname(resolve(path)), flag, path);
}

/**
 * Makes sure dir exists and is writable, creating it (one level: its parent
 * must exist) when missing. Called before a long run starts.
 */
export function ensureOutputDir(dir: string, flag: string): void {
  if (existsSync(dir)) return writableDir(resolve(dir), flag, dir);
  writableDir(dirname(resolve(dir)), flag, dir);
  try {
    mkdirSync(dir);
  } catch (e) {
    throw new OutputPathError(`${flag} ${dir}: cannot create it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}
