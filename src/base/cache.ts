import { homedir } from 'node:os';
import { CONFIG_FILE_LIMIT, readFileBounded } from './read.js';
import { isAbsolute, join } from 'node:path';

/** The user cache: $XDG_CACHE_HOME/backprop or ~/.cache/backprop. */
export function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'backprop');
}

/**
 * A JSON cache file's entries, or {} when the file is missing, unreadable,
 * larger than CONFIG_FILE_LIMIT, not JSON, or not an object (a cache holding
 * `null`, an array or a number): a cache is rebuilt, never trusted to have
 * the right shape. Entries that `isEntry` rejects (a `null` value, a field
 * of the wrong type) are left out. Never throws.
 */
export function readCacheObject<T>(path: string, isEntry: (v: unknown) => v is T): Record<string, T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileBounded(path, CONFIG_FILE_LIMIT).toString('utf8'));
  } catch {
    return {};
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(parsed)) if (k !== '__proto__' && isEntry(v)) out[k] = v;
  return out;
}
