import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

// A disk that fills up in the middle of a line: writeSync takes part of the bytes, then fails with ENOSPC.
const disk = vi.hoisted(() => ({ room: Infinity }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    writeSync: (fd: number, buffer: Buffer, offset = 0, length = buffer.length - offset) => {
      if (disk.room <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const n = Math.min(length, disk.room);
      disk.room -= n;
      return fs.writeSync(fd, buffer, offset, n);
    },
  };
});

const { RunLog } = await import('../../src/train/run-log.js');

afterEach(() => {
  disk.room = Infinity;
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
    expect(log.failed).toMatch(/run\.jsonl: ENOSPC: no space left on device/);
    expect(log.active).toBe(false);
  });

  it('short writes that go through are continued: every line whole', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'backprop-log-')), 'run.csv');
    const log = new RunLog({ csv: path });
    disk.room = Infinity;
    log.record({ kind: 'epoch', epoch: 1, loss: 0.5 });
    log.close();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(log.failed).toBeUndefined();
  });
});
