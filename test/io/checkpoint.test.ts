import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processAlive, tempName } from '../../src/base/atomic.js';
import { lockCheckpoint } from '../../src/io/checkpoint.js';

/** A pid no process holds here (found, not assumed). */
function deadPid(): number {
  for (let pid = 4_194_000; ; pid--) if (!processAlive(pid)) return pid;
}

// Taking a checkpoint directory's lock removes what crashed writes of ours left there, by atomic.ts's own
// TEMP_PATTERN (cleanStaleTemporaries, at any age: the lock says no write of ours is in progress), and nothing else.
describe('lockCheckpoint: the temporaries of crashed writes go, the files of others stay', () => {
  it.each([
    ['a temporary of a writer that is gone, written a moment ago', (dir: string) => tempName(join(dir, 'model-3.safetensors')).replace(/\.\d+\.tmp$/, `.${deadPid()}.tmp`), false],
    ['a temporary of a writer still running (pid 1)', (dir: string) => tempName(join(dir, 'state.json')).replace(/\.\d+\.tmp$/, '.1.tmp'), true],
    ["a user's own dot file that ends in .<number>.tmp", (dir: string) => join(dir, '.notes.2024.tmp'), true],
    ['a file that merely ends in .tmp', (dir: string) => join(dir, 'draft.tmp'), true],
  ] as const)('%s', (_what, name, kept) => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-ck-lock-'));
    const path = name(dir);
    writeFileSync(path, 'x');
    const release = lockCheckpoint(dir, '--checkpoint');
    release();
    expect(existsSync(path)).toBe(kept);
  });

  it('a directory named like a temporary of the old pattern does not make the lock fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-ck-lock-'));
    mkdirSync(join(dir, '.photos.7.tmp'));
    const release = lockCheckpoint(dir, '--checkpoint');
    release();
    expect(existsSync(join(dir, '.photos.7.tmp'))).toBe(true);
  });
});
