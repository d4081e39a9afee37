import { constants as osConstants } from 'node:os';
import { DataError } from '../data/dataset.js';
import { ModelFileError } from '../io/safetensors.js';
import { BackendUnavailableError } from '../linalg/index.js';
import { OutputPathError } from '../base/atomic.js';
import { safeJson, safeText, shorten } from '../base/terminal-safe.js';

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

/** The exit code of a run stopped by a signal: 128 + its number, as a shell reports a process the signal killed. */
export const signalExitCode = (sig: NodeJS.Signals): number => 128 + osConstants.signals[sig];

/** A run stopped by a signal before it did any work: `interrupted …: <message>` on stderr (not an error), exit 128 + the signal's number. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(
    readonly signal: NodeJS.Signals,
    what: string,
  ) {
    super(`interrupted${signal === 'SIGINT' ? '' : ` by ${signal}`} ${what}`);
  }
}

/** The signal that asked a long run to stop, as `train` and `learners` watch for it. */
export interface SignalWatch {
  /** The first STOP_SIGNALS signal received, if any: the run polls this at its next step and stops cleanly. */
  readonly signal: NodeJS.Signals | undefined;
  /** Resolves after the event loop has polled once, so that a signal that came during synchronous work (data loading, a solve) has been seen. */
  settle(): Promise<void>;
  /** Removes the handlers: a signal after this has Node's default effect again. */
  release(): void;
}

/**
 * Watches STOP_SIGNALS for a run that stops cleanly: the first signal is only
 * noted (the run stops at its next step, keeps what it did and exits 128 + n);
 * a second one exits at once, for a user who does not want to wait.
 */
export function watchStopSignals(): SignalWatch {
  let signal: NodeJS.Signals | undefined;
  let at = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    // The same signal again within 250 ms is one event delivered twice (`timeout` signals the child, then its whole process group), not a second request.
    if (signal && !(sig === signal && performance.now() - at < 250)) process.exit(signalExitCode(signal)); // a second signal: stop now
    if (!signal) [signal, at] = [sig, performance.now()];
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  return {
    get signal() {
      return signal;
    },
    async settle() {
      for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r));
    },
    release() {
      for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    },
  };
}

/** Every error the CLI reports starts with this. */
export const ERROR_PREFIX = 'backprop: error: ';

/** Longest word quoted whole in an error line. */
export const WORD_LIMIT = 400;

/** Longest error line: a longer one (a 5 MB value quoted in it) keeps its start. */
export const ERROR_LIMIT = 4000;

/**
 * The one line of an error message: newlines joined, every word longer than
 * WORD_LIMIT (a quoted value, a file's content; a path of a 250-byte name stays whole) shortened, the whole at most
 * ERROR_LIMIT characters. Not yet neutralised: see reportError.
 */
export function errorLine(message: string): string {
  // Linear scans, no regular expressions: \S{401,} overflowed V8's regex stack on a 10-million-character word (a
  // value of a --config, a CSV cell), and \s*\n\s* takes quadratic time on a long run of spaces.
  const one = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
  let out = '';
  for (let i = 0; i < one.length;) {
    let j = i;
    const space = isSpace(one, i);
    while (j < one.length && isSpace(one, j) === space) j++;
    const run = one.slice(i, j);
    out += space ? run : shorten(run, WORD_LIMIT);
    i = j;
  }
  return shorten(out, ERROR_LIMIT);
}

/** Whether text[i] is white space as \s counts it (ASCII without a regular expression, the rest with one). */
function isSpace(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c < 128 ? c === 32 || (c >= 9 && c <= 13) : /\s/.test(text[i]);
}

/**
 * Reports an error on stderr: one line `backprop: error: …`, and with --json
 * also one line `{"error": …, "exitCode": …}` for programs that read stderr.
 * Messages quote file names, flag values and file contents: what a terminal
 * would obey in them is shown as escapes (src/base/terminal-safe.ts), and long
 * values are shortened (errorLine).
 */
export function reportError(message: string, exitCode: number, json: boolean): void {
  const text = errorLine(message);
  process.stderr.write(`${ERROR_PREFIX}${safeText(text)}\n`);
  if (json) process.stderr.write(safeJson({ error: text, exitCode }) + '\n');
}
