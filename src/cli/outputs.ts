import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { checkOutputFile } from '../base/atomic.js';
import { UsageError } from './errors.js';

/** An output of a command as its flag names it: [flag, path], the path undefined when the flag was not given. */
export type OutputFlag = readonly [flag: string, path: string | undefined];

/** Where a path leads: its real path (links followed), and for a file that exists its device and inode (a hard link has another name but the same inode). */
interface PathIdentity {
  real: string;
  inode?: string;
}

/**
 * Where path leads once every symbolic link is followed: realpath of the file
 * when it exists; else of its nearest existing directory, with the names
 * below it (a dangling link followed to where it points, as a write through
 * it would go).
 */
export function pathIdentity(path: string): PathIdentity {
  let abs = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    try {
      const st = statSync(abs);
      return { real: realpathSync(abs), inode: `${st.dev}:${st.ino}` };
    } catch {
      // missing, or a link to something missing
    }
    try {
      if (!lstatSync(abs).isSymbolicLink()) break;
      abs = resolve(dirname(abs), readlinkSync(abs));
    } catch {
      break;
    }
  }
  // Missing: the real path of its nearest existing ancestor, with the names below it.
  for (let dir = dirname(abs), rest = basename(abs); ; rest = join(basename(dir), rest), dir = dirname(dir)) {
    try {
      return { real: join(realpathSync(dir), rest) };
    } catch {
      if (dirname(dir) === dir) return { real: abs };
    }
  }
}

/** True when `inner` is `outer` or lies under it (both real paths). */
function within(inner: string, outer: string): boolean {
  const r = relative(outer, inner);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/**
 * The output files of one command, checked before any work: each writable
 * (checkOutputFile), no two the same file (the later write would replace the
 * earlier: compared after following symbolic links, and by inode for hard
 * links), and none inside a directory the run manages (a checkpoint
 * directory, whose files the run replaces and whose old generations it
 * deletes). Every command that writes files claims them here.
 */
export function claimOutputFiles(files: readonly OutputFlag[], managed: readonly OutputFlag[] = []): void {
  const dirs = managed.flatMap(([flag, dir]) => (dir ? [{ flag, dir, real: pathIdentity(dir).real }] : []));
  const seen: { flag: string; path: string; id: PathIdentity }[] = [];
  for (const [flag, path] of files) {
    if (path === undefined) continue;
    const id = pathIdentity(path);
    const dir = dirs.find((d) => within(id.real, d.real));
    if (dir) {
      throw new UsageError(
        id.real === dir.real
          ? `${flag} ${path}: that is the checkpoint directory; give ${flag === '--save' ? 'the model' : 'it'} a file name of its own`
          : `${flag} ${path}: that is inside the checkpoint directory ${dir.dir} (${dir.flag}), whose files the run replaces and deletes; write it elsewhere`,
      );
    }
    const other = seen.find((s) => s.id.real === id.real || (id.inode !== undefined && s.id.inode === id.inode));
    if (other) throw new UsageError(`${flag} ${path}: that is ${other.flag} ${other.path}, another output of the run; give each its own file`);
    seen.push({ flag, path, id });
  }
  for (const [flag, path] of files) if (path !== undefined) checkOutputFile(path, flag);
}
