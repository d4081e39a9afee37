import { baseProvenance, SCHEMA_VERSION } from '../io/provenance.js';
import chalk from 'chalk';
import { safeJson, safeLine } from '../base/terminal-safe.js';
import { basename } from 'node:path';
import { ioReason, writeFileAtomic, writeRescue } from '../base/atomic.js';

// https://no-color.org: a non-empty NO_COLOR turns colours off (chalk itself only reads FORCE_COLOR and the TTY).
if (process.env.NO_COLOR) chalk.level = 0;

/**
 * Where a command writes: with --json, the one JSON result goes to stdout and
 * all human text to stderr; without it, human text goes to stdout. With
 * --quiet, only the result: no progress and no narration (note).
 */
export class Output {
  constructor(
    readonly json: boolean,
    readonly quiet = false,
  ) {}

  /** A line of human text that belongs to the result: neutralised (safeLine), whatever it quotes. */
  line(text = ''): void {
    (this.json ? process.stderr : process.stdout).write(safeLine(text, chalk.level > 0) + '\n');
  }

  /** A line that narrates the run (a heading, one per epoch): dropped by --quiet. */
  note(text = ''): void {
    if (!this.quiet) this.line(text);
  }

  /** A line about the run on stderr, whatever --json says (a warning, where a stopped run left its checkpoint): neutralised like `line`. */
  status(text: string): void {
    process.stderr.write(safeLine(text, chalk.level > 0) + '\n');
  }

  /** The progress line drawn again in place on stderr (callers check `interactive`): ESC [ K clears the last one, then the text, neutralised. */
  redraw(text: string): void {
    process.stderr.write(`\r\x1b[K${safeLine(text, chalk.level > 0)}`);
  }

  /** Clears the line `redraw` drew. */
  clearRedraw(): void {
    process.stderr.write('\r\x1b[K');
  }

  /**
   * The machine-readable result (only with --json). Every result carries
   * `schemaVersion` and `provenance`: commands that compute with a kernel
   * provider give the full record (src/io/provenance.ts); the others get the
   * version, Node and platform here.
   */
  result(value: unknown): void {
    if (!this.json) return;
    const stamped = value && typeof value === 'object' && !Array.isArray(value) && !('schemaVersion' in value) ? { ...value, schemaVersion: SCHEMA_VERSION, provenance: baseProvenance() } : value;
    process.stdout.write(safeJson(stamped, 2) + '\n');
  }

  /** True when progress bars may be drawn: not --quiet, and stderr can redraw a line. */
  get interactive(): boolean {
    return !this.quiet && canRedraw(process.stderr, process.env);
  }
}

/**
 * Whether a stream takes cursor-control codes (a line redrawn in place, a
 * hidden cursor): a terminal, and not one that declares itself dumb.
 */
export function canRedraw(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return Boolean(stream.isTTY) && env.TERM !== 'dumb';
}

export const style = {
  good: (s: string) => chalk.green(s),
  bad: (s: string) => chalk.red(s),
  warn: (s: string) => chalk.yellow(s),
  dim: (s: string) => chalk.dim(s),
  bold: (s: string) => chalk.bold(s),
};

export function percent(x: number, digits = 2): string {
  return `${(100 * x).toFixed(digits)}%`;
}

export function seconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)}s` : `${s.toFixed(1)}s`;
}

/** A duration as m:ss, or h:mm:ss from an hour. */
export function clock(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600),
    m = Math.floor((t % 3600) / 60),
    sec = t % 60;
  const mm = h ? String(m).padStart(2, '0') : String(m);
  return `${h ? `${h}:` : ''}${mm}:${String(sec).padStart(2, '0')}`;
}

/**
 * Writes an output file (--report, --filters, …) after the work is done; if
 * that fails (a full disk, a file system gone read-only, a directory
 * removed), the results must not be lost: the data is saved elsewhere
 * (writeRescue: `dirs`, then the temporary and the working directory) and
 * `fail` gets one line naming the flag, the file and where it went (the
 * caller exits 1, src/cli/errors.ts). Returns the path written, if any.
 * `what` names the output with its verb ("the report was"); `nowhere` is
 * what the line says when no rescue could be written either.
 */
export function writeOrRescue(
  file: string,
  flag: string,
  what: string,
  data: Uint8Array | string,
  fail: (message: string) => void,
  dirs: (string | undefined)[] = [],
  nowhere = 'nor anywhere else',
): string | undefined {
  try {
    writeFileAtomic(file, data);
    return file;
  } catch (e) {
    const rescued = writeRescue(basename(file), data, dirs);
    fail(`${flag} ${file}: cannot write (${ioReason(e)}); ` + (rescued ? `${what} saved to ${rescued} instead` : nowhere));
    return rescued;
  }
}
