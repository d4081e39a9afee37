import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The user cache: $XDG_CACHE_HOME/backprop or ~/.cache/backprop. */
export function cacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'backprop');
}
