import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fetchProgressLine } from '../../src/cli/datasets.js';
import { FETCH_LIMITS, fetchFile, longTimeout, retryAfterMs } from '../../src/data/fetch.js';
// The download's parts in process, against a local server on 127.0.0.1
// (nothing here leaves the machine): Retry-After, timers beyond what a Node
// timer holds, the number of retries, and the progress line. The same server
// answering `datasets fetch` (the CLI) is in test/cli/datasets-fetch-retry.test.ts.

import { FIRST, files, hits, md5, mirror } from './retry-server.js';

describe('a server that says "not now"', () => {
  it('parses both forms of Retry-After (RFC 9110 §10.2.3)', () => {
    const now = Date.parse('Sun, 06 Dec 2026 01:00:00 GMT');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 06 Dec 2026 01:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sun, 06 Dec 2026 00:00:00 GMT', now)).toBe(0); // in the past: now
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe('deadlines and retries', () => {
  it('longTimeout fires once after a delay longer than 2^31 − 1 ms would, re-armed in steps', async () => {
    let fired = 0;
    const cancel = longTimeout(() => fired++, FETCH_LIMITS.maxTimerMs + 1000);
    await new Promise((r) => setTimeout(r, 50));
    expect(fired).toBe(0); // setTimeout(fn, 2^31 + 999) would have fired after 1 ms
    cancel();
    longTimeout(() => fired++, 10);
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(1);
  });

  it(`a file is retried ${FETCH_LIMITS.retries} times after its first attempt, as the documentation says`, async () => {
    expect(FETCH_LIMITS.retries).toBe(5);
    const dir = mkdtempSync(join(tmpdir(), 'backprop-retry-'));
    const m = mirror('drop');
    const retries: string[] = [];
    const f = { name: FIRST, size: files[FIRST].length, md5: md5(files[FIRST]) };
    await expect(fetchFile(m, dir, f, { backoff: 1, onRetry: (_file, attempt, _why, _at, _wait, attempts) => retries.push(`${attempt}/${attempts}`) })).rejects.toThrow(/download failed/);
    expect(hits[`${m.split('/')[3]}/${FIRST}`]).toHaveLength(6);
    expect(retries).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6']);
  });
});

describe('progress', () => {
  it('the line: MB, rate over this run, ETA; fitted to the terminal with a bar', () => {
    const p = { file: 'train-images-idx3-ubyte.gz', received: 4_956_211, total: 9_912_422, from: 0, elapsed: 2 };
    expect(fetchProgressLine(p)).toBe('train-images-idx3-ubyte.gz  5.0/9.9 MB · 50% · 2.5 MB/s · ETA 0:02');
    // a resumed file: the rate counts only this run's bytes
    expect(fetchProgressLine({ ...p, from: 3_956_211 })).toBe('train-images-idx3-ubyte.gz  5.0/9.9 MB · 50% · 0.50 MB/s · ETA 0:10');
    const line = fetchProgressLine(p, 80);
    expect(line.length).toBeLessThanOrEqual(79);
    expect(line).toMatch(/^train-images-idx3-ubyte\.gz \[#+-+\] 5\.0\/9\.9 MB · 50% · 2\.5 MB\/s · ETA 0:02$/);
    const bar = /\[(#+)(-+)\]/.exec(line)!;
    expect(bar[1].length).toBe(bar[2].length); // half full
    expect(fetchProgressLine(p, 40).length).toBeLessThanOrEqual(39);
    expect(fetchProgressLine({ ...p, total: undefined }, 80)).toBe('train-images-idx3-ubyte.gz  5.0 MB · 2.5 MB/s');
  });
});
