import { closeSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EpochMetrics } from '../../src/train/sgd.js';
import { CSV_COLUMNS, type LogRecord } from '../../src/train/run-log.js';

// A disk that fills up in the middle of a line: writeSync takes part of the bytes, then fails with ENOSPC.
// `chunk`: at most so many bytes a call (short writes that go through); `zero`: a call that takes nothing and says so;
// `truncateFails`: the undo of a partial line fails too.
const disk = vi.hoisted(() => ({ room: Infinity, chunk: Infinity, zero: false, truncateFails: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writeSync: (fd: number, buffer: Buffer, offset = 0, length = buffer.length - offset) => {
      if (disk.room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      if (disk.zero) return 0;
      const n = Math.min(length, disk.room, disk.chunk);
      disk.room -= n;
      return fs.writeSync(fd, buffer, offset, n);
    },
    ftruncateSync: (fd: number, len?: number) => {
      if (disk.truncateFails) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      fs.ftruncateSync(fd, len);
    },
  };
});

const { RunLog } = await import('../../src/train/run-log.js');

afterEach(() => {
  Object.assign(disk, { room: Infinity, chunk: Infinity, zero: false, truncateFails: false });
});

describe('RunLog on a disk that fills up', () => {
  it('a line cut short by a full disk is removed: the log ends with the last whole line, and says why it stopped', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backprop-log-')), 'run.jsonl');
    const log = new RunLog({ json: path });
    log.record({ kind: 'epoch', epoch: 1, loss: 0.5, seconds: 1 });
    const first = readFileSync(path, 'utf8');
    disk.room = 20; // part of the next line fits
    log.record({ kind: 'epoch', epoch: 2, loss: 0.25, seconds: 1 });
    log.record({ kind: 'epoch', epoch: 3, loss: 0.125, seconds: 1 });
    log.close();
    expect(readFileSync(path, 'utf8')).toBe(first);
    expect(
      first
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).epoch),
    ).toEqual([1]);
    expect(log.failed).toBe(`--log ${path}: cannot write (ENOSPC: no space left on the device); the records before it are kept, each line whole, and the run went on without it`);
    expect(log.active).toBe(false);
  });

  it('short writes that go through are continued: every line whole', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backprop-log-')), 'run.csv');
    disk.chunk = 7; // every call takes at most 7 bytes: the header and the row each take several, the last one fewer
    const log = new RunLog({ csv: path });
    log.record({ kind: 'epoch', epoch: 1, loss: 0.5 });
    log.close();
    expect(readFileSync(path, 'utf8')).toBe(`${CSV_COLUMNS.join(',')}\nepoch,1,,,0.5,,,,,,,,\n`);
    expect(log.failed).toBeUndefined();
  });

  it('a write that takes no bytes stops the log instead of trying forever', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backprop-log-')), 'run.jsonl');
    const log = new RunLog({ json: path });
    disk.zero = true;
    log.record({ kind: 'epoch', epoch: 1, loss: 0.5 });
    log.close();
    expect(log.failed).toBe(`--log ${path}: cannot write (the file system accepted no more bytes); the records before it are kept, each line whole, and the run went on without it`);
  });

  it('when the half line cannot be cut off again, the message says the last line may be incomplete', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backprop-log-')), 'run.jsonl');
    const log = new RunLog({ json: path });
    disk.room = 5;
    disk.truncateFails = true;
    log.record({ kind: 'epoch', epoch: 1, loss: 0.5 });
    log.close();
    expect(log.failed).toBe(`--log ${path}: cannot write (ENOSPC: no space left on the device); the records before it are kept, its last line may be incomplete, and the run went on without it`);
  });
});

describe('RunLog', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'bp-runlog-'));
  const m: EpochMetrics = { epoch: 2, loss: 0.5, trainAccuracy: 0.75, lr: 0.1, testLoss: 0.6, testAccuracy: 0.7, validationLoss: 0.65, validationAccuracy: 0.72, seconds: 4 };

  it('an epoch record carries the metrics and examples per second (none for 0 s)', () => {
    expect(RunLog.epoch(m, 1000)).toEqual({
      kind: 'epoch',
      epoch: 2,
      lr: 0.1,
      loss: 0.5,
      trainAccuracy: 0.75,
      validationLoss: 0.65,
      validationAccuracy: 0.72,
      testLoss: 0.6,
      testAccuracy: 0.7,
      seconds: 4,
      examplesPerSecond: 250,
    });
    expect(RunLog.epoch({ ...m, seconds: 0 }, 1000).examplesPerSecond).toBeUndefined();
  });

  it('--log: one JSON object a line; --csv: the header once, then a row a record with empty cells for what is absent', () => {
    const d = dir(),
      json = join(d, 'run.jsonl'),
      csv = join(d, 'run.csv');
    const batch: LogRecord = { kind: 'batch', epoch: 1, batch: 3, loss: 0.25, trainAccuracy: 0.5 };
    for (const records of [[batch], [RunLog.epoch(m, 1000)]]) {
      const log = new RunLog({ json, csv });
      expect(log.active).toBe(true);
      for (const r of records) log.record(r);
      log.close();
      expect(log.active).toBe(false);
      log.close(); // closed once
    }
    expect(readFileSync(json, 'utf8')).toBe(`${JSON.stringify(batch)}\n${JSON.stringify(RunLog.epoch(m, 1000))}\n`);
    expect(readFileSync(csv, 'utf8')).toBe([CSV_COLUMNS.join(','), 'batch,1,3,,0.25,0.5,,,,,,,', 'epoch,2,,0.1,0.5,0.75,0.65,0.72,0.6,0.7,4,250,', ''].join('\n'));
    expect(CSV_COLUMNS.join(',')).toBe('kind,epoch,batch,lr,loss,trainAccuracy,validationLoss,validationAccuracy,testLoss,testAccuracy,seconds,examplesPerSecond,clipped');
    expect(new RunLog({}).active).toBe(false);
    const onlyJson = join(d, 'only.jsonl');
    const log = new RunLog({ json: onlyJson });
    log.record(batch);
    log.close();
    expect(readFileSync(onlyJson, 'utf8')).toBe(`${JSON.stringify(batch)}\n`);
  });

  it('close() closes each file once: a second close, a record after it, change nothing and say nothing failed', () => {
    const json = join(dir(), 'run.jsonl');
    const log = new RunLog({ json, csv: join(dir(), 'run.csv') });
    log.record(RunLog.epoch(m, 10));
    expect(log.active).toBe(true);
    log.close();
    expect(log.active).toBe(false);
    expect(() => log.close()).not.toThrow();
    log.record(RunLog.epoch(m, 10));
    expect(log.failed).toBeUndefined();
    expect(readFileSync(json, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('a failed write stops that file, says why naming its flag, and the run goes on without it; the other file is still written (a real full disk: test/cli/faults.test.ts)', () => {
    // the write fails as on a full disk, after the open: its descriptor is taken away
    const good = join(dir(), 'run.jsonl'),
      bad = join(dir(), 'run.csv');
    const log = new RunLog({ json: good, csv: bad });
    const fds = (log as unknown as { fds: { fd: number; path: string }[] }).fds;
    closeSync(fds[1].fd);
    log.record(RunLog.epoch(m, 10));
    const failed = `--csv ${bad}: cannot write (EBADF: bad file descriptor, fstat); the records before it are kept, each line whole, and the run went on without it`;
    expect(log.failed).toBe(failed); // where the line would begin: nothing of it written
    expect(log.active).toBe(true); // --log goes on
    log.record(RunLog.epoch(m, 10)); // nothing more to --csv, no throw
    expect(log.failed).toBe(failed); // said once
    expect(readFileSync(good, 'utf8').split('\n').filter(Boolean)).toHaveLength(2); // --log: both lines
    fds.splice(1, 1);
    log.close();
    // a device is not a log file: refused at the open, naming the flag (it was written to, and failed at once)
    expect(() => new RunLog({ json: good, csv: '/dev/full' })).toThrow('--csv /dev/full: exists and is a character device, not a regular file (choose a file name)');
    expect(() => new RunLog({ json: '/dev/full' })).toThrow('--log /dev/full: exists and is a character device, not a regular file (choose a file name)');
  });
});
