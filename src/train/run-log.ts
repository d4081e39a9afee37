import { closeSync, fstatSync, ftruncateSync, writeSync } from 'node:fs';
import { openAppend } from '../base/atomic.js';
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
  private readonly fds: { fd: number; format: 'json' | 'csv'; path: string }[] = [];
  /** Why writing stopped (a full disk…): the run goes on without its log. */
  failed?: string;

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
      if (format === 'csv' && fstatSync(fd).size === 0) this.write(fd, path, CSV_COLUMNS.join(',') + '\n');
    }
  }

  get active(): boolean {
    return this.fds.length > 0 && !this.failed;
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
    if (this.failed) return;
    for (const { fd, format, path } of this.fds) {
      this.write(fd, path, format === 'json' ? JSON.stringify(r) + '\n' : csvRow(r) + '\n');
    }
  }

  /**
   * Appends whole lines only: a short write (a disk filling up) is continued,
   * and a write that fails after part of a line is undone (the file cut back
   * to where the line began), so that the log never ends in half a JSON line.
   */
  private write(fd: number, path: string, text: string): void {
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
      this.failed = `${path}: ${(e as Error).message}${cut ? '' : '; its last line may be incomplete'}`;
    }
  }

  close(): void {
    for (const { fd } of this.fds.splice(0)) closeSync(fd);
  }
}

function csvRow(r: LogRecord): string {
  return CSV_COLUMNS.map((c) => (r[c] === undefined ? '' : String(r[c]))).join(',');
}
