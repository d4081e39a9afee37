import { closeSync, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import { ioReason, openAppend } from '../base/atomic.js';
import type { EpochMetrics } from './sgd.js';

/**
 * The columns of --csv, in order: one row per epoch (kind "epoch") and per
 * --log-every batches (kind "batch"). They are the keys of --log's JSON lines
 * and of `train --json`'s `epochs`, in camel case everywhere (before 0.2 the
 * CSV header spelt them in snake case, train_accuracy…; the order of the
 * columns is unchanged, so rows appended to such a file still fit its header).
 */
export const CSV_COLUMNS = [
  'kind',
  'epoch',
  'batch',
  'lr',
  'loss',
  'trainAccuracy',
  'validationLoss',
  'validationAccuracy',
  'testLoss',
  'testAccuracy',
  'seconds',
  'examplesPerSecond',
  'clipped',
] as const satisfies readonly (keyof LogRecord)[];

/** One record of the run: an epoch's metrics, or the running means of an epoch so far. */
export interface LogRecord {
  kind: 'epoch' | 'batch';
  epoch: number;
  batch?: number;
  lr?: number;
  loss: number;
  trainAccuracy?: number;
  validationLoss?: number;
  validationAccuracy?: number;
  testLoss?: number;
  testAccuracy?: number;
  seconds?: number;
  examplesPerSecond?: number;
  /** Steps of the epoch whose gradients --clip-norm/--clip-value changed (absent without clipping). */
  clipped?: number;
}

/**
 * A record of every run: --log writes one JSON object per line, --csv a row
 * under a header (written when the file is empty). Both files are opened for
 * appending before the run starts and each record goes to the operating
 * system at once (writeSync, no buffer in the process), so a crash or a kill
 * leaves every record written so far, each line whole. They are opened as
 * every output is (openAppend): no dangling link followed, nothing but a
 * regular file appended to.
 */
export class RunLog {
  private readonly fds: { fd: number; format: 'json' | 'csv'; path: string; failed?: string }[] = [];

  /** Why writing stopped, a line per file that stopped (a full disk…), naming its flag: the run goes on without that file, the other one still written. */
  get failed(): string | undefined {
    const lines = this.fds.flatMap((f) => f.failed ?? []);
    return lines.length ? lines.join('; ') : undefined;
  }

  /** Opens the files (appending); throws the open error for the caller to name the flag. */
  constructor(files: { json?: string; csv?: string }) {
    for (const [format, path] of [
      ['json', files.json],
      ['csv', files.csv],
    ] as const) {
      if (!path) continue;
      let fd: number;
      try {
        fd = openAppend(path, format === 'json' ? '--log' : '--csv');
      } catch (e) {
        this.close(); // the file opened before this one
        throw e;
      }
      this.fds.push({ fd, format, path });
      if (format === 'csv' && fstatSync(fd).size === 0) this.write(this.fds.at(-1)!, CSV_COLUMNS.join(',') + '\n');
    }
  }

  get active(): boolean {
    return this.fds.some((f) => f.fd >= 0 && !f.failed);
  }

  static epoch(m: EpochMetrics, examples: number): LogRecord {
    return {
      kind: 'epoch',
      epoch: m.epoch,
      lr: m.lr,
      loss: m.loss,
      trainAccuracy: m.trainAccuracy,
      validationLoss: m.validationLoss,
      validationAccuracy: m.validationAccuracy,
      testLoss: m.testLoss,
      testAccuracy: m.testAccuracy,
      seconds: m.seconds,
      examplesPerSecond: m.seconds > 0 ? examples / m.seconds : undefined,
      clipped: m.clipped,
    };
  }

  record(r: LogRecord): void {
    for (const f of this.fds) if (f.fd >= 0 && !f.failed) this.write(f, f.format === 'json' ? JSON.stringify(r) + '\n' : csvRow(r) + '\n');
  }

  /**
   * Appends whole lines only: a short write (a disk filling up) is continued,
   * and a write that fails after part of a line is undone (the file cut back
   * to where the line began), so that the log never ends in half a JSON line.
   */
  private write(file: RunLog['fds'][number], text: string): void {
    const { fd, format, path } = file;
    const bytes = Buffer.from(text);
    let start: number | undefined;
    let at = 0;
    try {
      start = fstatSync(fd).size;
      while (at < bytes.length) {
        const n = writeSync(fd, bytes, at, bytes.length - at);
        if (n <= 0) throw new Error('the file system accepted no more bytes');
        at += n;
      }
    } catch (e) {
      let cut = true; // nothing of the line was written, or what was is cut off again
      try {
        if (at > 0) ftruncateSync(fd, start!);
      } catch {
        cut = false;
      }
      file.failed = `${format === 'json' ? '--log' : '--csv'} ${path}: cannot write (${ioReason(e)}); the records before it are kept, ${cut ? 'each line whole' : 'its last line may be incomplete'}, and the run went on without it`;
    }
  }

  /** Closes the files (once); `failed` still says why any stopped. */
  close(): void {
    for (const f of this.fds.filter((f) => f.fd >= 0)) {
      closeSync(f.fd);
      f.fd = -1;
    }
  }
}

function csvRow(r: LogRecord): string {
  return CSV_COLUMNS.map((c) => (r[c] === undefined ? '' : String(r[c]))).join(',');
}
