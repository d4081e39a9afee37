import chalk from 'chalk';

// https://no-color.org: a non-empty NO_COLOR turns colours off (chalk itself only reads FORCE_COLOR and the TTY).
if (process.env.NO_COLOR) chalk.level = 0;

/**
 * Where a command writes: with --json, the one JSON result goes to stdout and
 * all human text to stderr; without it, human text goes to stdout.
 */
export class Output {
  constructor(readonly json: boolean) {}

  /** A line of human text. */
  line(text = ''): void {
    (this.json ? process.stderr : process.stdout).write(text + '\n');
  }

  /** The machine-readable result (only with --json). */
  result(value: unknown): void {
    if (this.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** True when progress bars may be drawn: stderr is a terminal. */
  get interactive(): boolean {
    return Boolean(process.stderr.isTTY);
  }
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
