import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { cliAsync, tinyCatalogEntry } from '../helpers.js';
import { FIRST, files, hits, md5, mirror, NAMES, recompressed } from '../data/retry-server.js';

// `datasets fetch` against a local server on 127.0.0.1 (nothing here leaves
// the machine; moved from test/data/fetch-retry.test.ts, which keeps the cases that run in process): servers that say "not now" (429/503 with Retry-After), a
// mirror that serves the same data recompressed, a download resumed across
// runs, deadlines beyond what a Node timer holds, the number of retries, and
// the progress lines.

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A catalogue with "tiny": the official files' sizes and MD5s and, unless told not to, the content SHA-256s. */
function catalogue(withContent = true): { env: Record<string, string>; dir: string } {
  const cat = mkdtempSync(join(tmpdir(), 'backprop-cat-'));
  const entry = tinyCatalogEntry(
    NAMES.map((n) => ({ name: `${n}.gz`, size: files[`${n}.gz`].length, md5: md5(files[`${n}.gz`]), ...(withContent ? { contentSha256: sha256(gunzipSync(files[`${n}.gz`])) } : {}) })),
    ['https://example.invalid/'],
  );
  writeFileSync(join(cat, 'tiny.json'), JSON.stringify(entry));
  const cache = mkdtempSync(join(tmpdir(), 'backprop-cache-'));
  return { env: { BACKPROP_CATALOG: cat, XDG_CACHE_HOME: cache, BACKPROP_DATA: '' }, dir: join(cache, 'backprop', 'tiny') };
}

const fetchTiny = (m: string, env: Record<string, string>, ...more: string[]) => cliAsync(['datasets', 'fetch', 'tiny', '--mirror', m, ...more], env);
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^backprop.*error/.test(l));

describe('a server that says "not now"', () => {
  it('429 with Retry-After: 1 is retried after the second it asks for, and the download completes', async () => {
    const { env, dir } = catalogue();
    const m = mirror('r429');
    const r = await fetchTiny(m, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/train-images-idx3-ubyte\.gz: HTTP 429, retry after 1 s; retrying in 1 s \(retry 1 of 5\)/);
    expect(hits[`${m.split('/')[3]}/${FIRST}`]).toHaveLength(2);
    expect(readFileSync(join(dir, FIRST)).equals(files[FIRST])).toBe(true);
  }, 30_000);

  it('503 with an HTTP-date Retry-After waits until then', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('r503date'), env);
    expect(r.code, r.stderr).toBe(0);
    // an HTTP date has whole seconds: the wait is what is left of the date's second, between 0 and 2 s
    expect(r.stdout).toMatch(/HTTP 503, retry after [0-2](\.\d+)? s; retrying in [0-2](\.\d+)? s/);
  }, 30_000);

  it('503 without Retry-After is retried with the backoff', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('r503'), env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/HTTP 503; retrying in 0\.5 s \(retry 1 of 5\)/);
  }, 30_000);

  it('a Retry-After beyond the 300 s we wait fails at once, saying so', async () => {
    const { env } = catalogue();
    const m = mirror('r503long');
    const r = await fetchTiny(m, env);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/download failed \(HTTP 503, retry after 3600 s, more than the 300 s we wait: try again later\)/);
    expect(hits[`${m.split('/')[3]}/${FIRST}`]).toHaveLength(1);
  });

  it('a Retry-After past the deadline is not waited for', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('r429'), env, '--deadline', '0.5');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/HTTP 429, retry after 1 s; the download deadline passed/);
  });
});

describe('a mirror serving the same data recompressed', () => {
  it('is accepted by the SHA-256 of the content although the MD5 of the .gz differs', async () => {
    const { env, dir } = catalogue();
    expect(md5(recompressed[FIRST])).not.toBe(md5(files[FIRST]));
    const r = await fetchTiny(mirror('recompressed'), env, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).verified.map((v: { method: string }) => v.method)).toEqual(['content-sha256', 'content-sha256', 'content-sha256', 'content-sha256']);
    expect(readFileSync(join(dir, FIRST)).equals(recompressed[FIRST])).toBe(true);
    const t = await cliAsync(['train', '--data', 'tiny', '--epochs', '1', '--json'], env);
    expect(t.code, t.stderr).toBe(0);
  }, 30_000);

  it('with other content: refused, naming both digests, nothing under the final name', async () => {
    const { env, dir } = catalogue();
    const r = await fetchTiny(mirror('recompressedwrong'), env);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(
      /train-images-idx3-ubyte\.gz: checksum mismatch after download \(MD5 expected [0-9a-f]{32}, got [0-9a-f]{32}; SHA-256 of the content expected [0-9a-f]{64}, got [0-9a-f]{64}\)/,
    );
    expect(existsSync(join(dir, FIRST))).toBe(false);
    expect(existsSync(join(dir, `${FIRST}.part`))).toBe(false);
  });

  it('without a content digest in the catalogue, the size and the MD5 decide', async () => {
    const { env } = catalogue(false);
    const r = await fetchTiny(mirror('recompressed'), env); // level 1 is larger than the catalogue's size: refused as it arrives
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${recompressed[FIRST].length} bytes is more than the ${files[FIRST].length} bytes expected of this file`));
  });
});

describe('a download resumed across runs', () => {
  it('says it resumes, from which byte, and asks only for the rest', async () => {
    const { env, dir } = catalogue();
    mkdirSync(dir, { recursive: true });
    const half = Math.floor(files[FIRST].length / 2);
    writeFileSync(join(dir, `${FIRST}.part`), files[FIRST].subarray(0, half));
    const m = mirror('ok');
    const r = await fetchTiny(m, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${FIRST}: resuming at byte ${half} (${(half / 1e6).toFixed(2)} MB kept from an earlier run)`);
    expect(hits[`${m.split('/')[3]}/${FIRST}`]).toEqual([`bytes=${half}-`]);
    expect(readFileSync(join(dir, FIRST)).equals(files[FIRST])).toBe(true);
  });
});

describe('a server that does not resume', () => {
  it('answers the Range with the whole file: said in one line, downloaded from the start, and right', async () => {
    const { env, dir } = catalogue();
    mkdirSync(dir, { recursive: true });
    const half = Math.floor(files[FIRST].length / 2);
    writeFileSync(join(dir, `${FIRST}.part`), files[FIRST].subarray(0, half));
    const m = mirror('norange');
    const r = await fetchTiny(m, env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${FIRST}: the server does not resume downloads (it sent the whole file to a request from byte ${half}): downloading it from the start`);
    expect(hits[`${m.split('/')[3]}/${FIRST}`]).toEqual([`bytes=${half}-`]);
    expect(readFileSync(join(dir, FIRST)).equals(files[FIRST])).toBe(true);
  });
});

describe('deadlines and retries', () => {
  it('--deadline 2200000 (more than a Node timer holds) downloads instead of giving up at once', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('ok'), env, '--deadline', '2200000');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/deadline passed|TimeoutOverflowWarning/);
  });

  it('--stall beyond 24.8 days is refused as a usage error', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('ok'), env, '--stall', '2200000');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--stall.*expected at most 2147483 seconds/);
  });
});

describe('progress', () => {
  it('off a terminal: a plain line per file with MB, percentage, rate and ETA', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('ok'), env);
    expect(r.code, r.stderr).toBe(0);
    for (const n of NAMES) expect(r.stderr).toMatch(new RegExp(`^${n}\\.gz  \\d+\\.\\d\\d/\\d+\\.\\d\\d MB · 100% · \\d+\\.\\d+ MB/s · ETA 0:00$`, 'm'));
    expect(r.stderr).not.toMatch(/\r|\x1b/);
  });

  it('--quiet: no progress', async () => {
    const { env } = catalogue();
    const r = await fetchTiny(mirror('ok'), env, '--quiet');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('the catalogue chooses no path outside the cache', () => {
  for (const bad of ['../escape.gz', '/etc/passwd', 'a/b.gz', '.hidden', 'x\u001b[2J.gz'])
    it(`a file named ${JSON.stringify(bad)} is refused`, async () => {
      const { env } = catalogue();
      const entry = JSON.parse(readFileSync(join(env.BACKPROP_CATALOG, 'tiny.json'), 'utf8'));
      entry.files.trainImages.name = bad;
      writeFileSync(join(env.BACKPROP_CATALOG, 'tiny.json'), JSON.stringify(entry));
      const r = await fetchTiny(mirror('ok'), env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/tiny\.json: .* is not a file name/);
      expect(r.stderr).not.toMatch(/\x1b/);
    });
});

describe('the predictable NAME.part', () => {
  it('a symbolic link planted there is not written through', async () => {
    const { env, dir } = catalogue();
    mkdirSync(dir, { recursive: true });
    const victim = join(mkdtempSync(join(tmpdir(), 'backprop-victim-')), 'precious');
    writeFileSync(victim, 'keep me');
    symlinkSync(victim, join(dir, `${FIRST}.part`));
    const r = await fetchTiny(mirror('ok'), env);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/train-images-idx3-ubyte\.gz\.part: a symbolic link, not a download of ours: not writing through it/);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
  });

  it('a dangling link (to a file that does not exist yet) is not followed either', async () => {
    const { env, dir } = catalogue();
    mkdirSync(dir, { recursive: true });
    const victim = join(mkdtempSync(join(tmpdir(), 'backprop-victim-')), 'created');
    symlinkSync(victim, join(dir, `${FIRST}.part`));
    const r = await fetchTiny(mirror('ok'), env);
    expect(r.code).toBe(2);
    expect(existsSync(victim)).toBe(false);
  });
});
