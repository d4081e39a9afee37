import { DataError } from '../data/dataset.js';
import { ModelFileError } from '../io/safetensors.js';
import { BackendUnavailableError } from '../linalg/index.js';
import { OutputPathError } from '../base/atomic.js';

/** A mistake in how the command was called: one line on stderr, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A run that could not finish for a reason that is neither a bug nor bad input (a solver that cannot meet its tolerances): one line, exit 1. */
export class RunFailedError extends Error {
  override name = 'RunFailedError';
}

/** Errors that are the user's input, not our bug: printed on one line, exit 2. */
export function isUserError(e: unknown): e is Error {
  return e instanceof UsageError || e instanceof DataError || e instanceof ModelFileError || e instanceof BackendUnavailableError || e instanceof OutputPathError;
}

/** Exit codes (docs/architecture.md, "Conventions"): 0 success, 1 a failed check, 2 bad input or usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** The signals that stop a run cleanly, each exiting 128 + its number: Ctrl-C, kill (a scheduler), a closed terminal. */
export const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Every error the CLI reports starts with this. */
export const ERROR_PREFIX = 'backprop: error: ';

/**
 * Reports an error on stderr: one line `backprop: error: …`, and with --json
 * also one line `{"error": …, "exitCode": …}` for programs that read stderr.
 */
export function reportError(message: string, exitCode: number, json: boolean): void {
  const text = message.replace(/\s*\n\s*/g, ' ').trim();
  process.stderr.write(`${ERROR_PREFIX}${text}\n`);
  if (json) process.stderr.write(JSON.stringify({ error: text, exitCode }) + '\n');
}
