import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CatalogEntry, CatalogFile } from '../../src/data/catalog.js';
import { DataError } from '../../src/data/dataset.js';
import { FETCH_LIMITS, fetchDataset, fetchFile, retryAfterMs, type FetchOptions } from '../../src/data/fetch.js';

// fetchFile and fetchDataset (src/data/fetch.ts) in process, against a server on 127.0.0.1 (nothing leaves the
// machine) whose first path segment says how to answer: redirects, "not now" statuses, refusals, bodies larger than
// the catalogue says, dropped and stalled connections, servers with and without Range. Each expected byte count,
// message and callback argument is written out from what the server sends.

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** A body of 3000 bytes that is not gzip (its content digest is that of its bytes). */
const BODY = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) % 251));
const FILE: CatalogFile = { name: 'data.bin.gz', size: BODY.length, md5: md5(BODY) };

let server: http.Server;
let base = '';
/** Requests by first path segment: the Range header of each. */
const hits: Record<string, (string | undefined)[]> = {};
let ids = 0;
/** A fresh mirror for a mode (each test its own request log): BASE/MODE~ID/. */
const mirror = (mode: string) => `${base}/${mode}~${++ids}/`;
const hitsOf = (m: string) => hits[m.split('/')[3]] ?? [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [, key, ...rest] = (req.url ?? '').split('/');
    const [mode, arg] = key.split('~')[0].split(':');
    const seen = (hits[key] ??= []);
    seen.push(req.headers.range);
    const first = seen.length === 1;
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const send = (body: Buffer) => {
      if (m && start >= body.length) return void res.writeHead(416).end();
      const slice = body.subarray(start);
      res.writeHead(m ? 206 : 200, { 'Content-Length': slice.length }).end(slice);
    };
    switch (mode) {
      case 'ok':
        return send(BODY);
      case 'redirect': // redirect:N: N more redirects (relative Location), then the file
        if (Number(arg) > 0) return void res.writeHead(302, { Location: `../redirect:${Number(arg) - 1}~${key.split('~')[1]}/${rest.join('/')}` }).end();
        return send(BODY);
      case 'location': // a redirect (status arg) to the Location given by the query, once
        return void res.writeHead(Number(arg), { Location: decodeURIComponent((rest.join('/').split('?l=')[1] ?? '').split('&')[0]) }).end();
      case 'oncefull': // 503 the first time, then the whole file whatever the Range
        if (first) return void res.writeHead(503).end();
        return void res.writeHead(200, { 'Content-Length': BODY.length }).end(BODY);
      case 'status': // this status, every time
        return void res.writeHead(Number(arg)).end();
      case 'once': // this status the first time, then the file
        if (first) return void res.writeHead(Number(arg)).end();
        return send(BODY);
      case 'after': // 503 with Retry-After: arg, every time
        return void res.writeHead(503, { 'Retry-After': arg }).end();
      case 'bytes': // arg bytes of BODY's pattern, no Content-Length (chunked)
        res.writeHead(200);
        return void res.end(Buffer.alloc(Number(arg), 5));
      case 'sized': // arg bytes, with their Content-Length
        return void res.writeHead(200, { 'Content-Length': Number(arg) }).end(Buffer.alloc(Number(arg), 5));
      case 'norange': // the whole file, always
        return void res.writeHead(200, { 'Content-Length': BODY.length }).end(BODY);
      case 'drop': // 200 bytes of what is asked for, then the connection dies
        res.writeHead(m ? 206 : 200, { 'Content-Length': BODY.length - start });
        res.write(BODY.subarray(start, start + 200));
        return void setTimeout(() => res.socket?.destroy(), 20);
      case 'hangup': // the connection closed before any answer
        return void req.socket.destroy();
      case 'stall': // 100 bytes, then nothing
        res.writeHead(200, { 'Content-Length': BODY.length });
        return void res.write(BODY.subarray(0, 100));
      default:
        return void res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const dirOf = () => mkdtempSync(join(tmpdir(), 'backprop-ff-'));
/** fetchFile's error: a DataError, and its message. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('did not fail');
}

describe('fetchFile: a plain download', () => {
  it('writes NAME (no NAME.part left), tells the progress from 0 to the size, and returns the path', async () => {
    const dir = dirOf();
    const progress: [string, number, number | undefined][] = [];
    const m = mirror('ok');
    const dest = await fetchFile(m, dir, FILE, { onProgress: (p) => progress.push([p.file, p.received, p.total]) });
    expect(dest).toBe(join(dir, FILE.name));
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(progress[0]).toEqual([FILE.name, 0, BODY.length]);
    expect(progress.at(-1)).toEqual([FILE.name, BODY.length, BODY.length]);
    expect(hitsOf(m)).toEqual([undefined]); // no Range: nothing kept
  });

  it('nothing kept: neither resumed nor restarted; without a Content-Length, no total in the progress', async () => {
    const told: string[] = [];
    const progress: [number, number | undefined][] = [];
    const body = Buffer.alloc(500, 5);
    const opts: FetchOptions = { onResume: () => told.push('resume'), onRestart: () => told.push('restart'), onProgress: (p) => progress.push([p.received, p.total]) };
    await fetchFile(mirror('bytes:500'), dirOf(), { ...FILE, md5: md5(body) }, opts);
    expect(told).toEqual([]);
    expect(progress[0]).toEqual([0, undefined]);
    expect(progress.at(-1)).toEqual([500, undefined]);
  });

  it('a base URL without the final "/" gets one before the file name', async () => {
    const m = mirror('ok');
    expect(readFileSync(await fetchFile(m.slice(0, -1), dirOf(), FILE)).equals(BODY)).toBe(true);
    expect(hitsOf(m)).toHaveLength(1);
  });

  it('a body of another MD5 and no content digest: refused, naming both digests, and NAME.part removed', async () => {
    const dir = dirOf();
    const f = { ...FILE, md5: '0'.repeat(32) };
    expect(await failure(fetchFile(mirror('ok'), dir, f))).toBe(`${FILE.name}: checksum mismatch after download (MD5 expected ${'0'.repeat(32)}, got ${md5(BODY)}); the partial file was removed`);
    expect(existsSync(join(dir, `${FILE.name}.part`))).toBe(false);
    expect(existsSync(join(dir, FILE.name))).toBe(false);
  });

  it('another MD5 but the content digest of the catalogue: accepted; another content: refused with both digests', async () => {
    const dir = dirOf();
    const f = { ...FILE, md5: '0'.repeat(32), contentSha256: sha256(BODY) };
    expect(readFileSync(await fetchFile(mirror('ok'), dir, f)).equals(BODY)).toBe(true);
    const g = { ...f, contentSha256: '1'.repeat(64) };
    expect(await failure(fetchFile(mirror('ok'), dirOf(), g))).toBe(
      `${FILE.name}: checksum mismatch after download (MD5 expected ${'0'.repeat(32)}, got ${md5(BODY)}; SHA-256 of the content expected ${'1'.repeat(64)}, got ${sha256(BODY)}); the partial file was removed`,
    );
  });
});

describe('fetchFile: redirects', () => {
  it(`follows ${FETCH_LIMITS.redirects} redirects (relative ones resolved against the URL), not one more`, async () => {
    expect(FETCH_LIMITS.redirects).toBe(5);
    expect(readFileSync(await fetchFile(mirror('redirect:5'), dirOf(), FILE)).equals(BODY)).toBe(true);
    const m = mirror('redirect:6');
    expect(await failure(fetchFile(m, dirOf(), FILE))).toBe(`${base}/redirect:1~${ids}/${FILE.name}: more than 5 redirects (a redirect loop?)`);
  });

  it('301, 307 and 308 redirect as 302 does; a 3xx without a Location is an HTTP error', async () => {
    for (const status of [300, 301, 307, 308]) {
      const m = mirror(`location:${status}`);
      const to = encodeURIComponent(`${base}/ok~x${status}/${FILE.name}`);
      expect(readFileSync(await fetchFile(`${m}x?l=${to}&`, dirOf(), { ...FILE, name: FILE.name })).equals(BODY), String(status)).toBe(true);
    }
  });

  it('a 400 or 200 with a Location is no redirect', async () => {
    const to = encodeURIComponent(`${base}/ok~elsewhere/${FILE.name}`);
    const m = mirror('location:400');
    expect(await failure(fetchFile(`${m}x?l=${to}&`, dirOf(), FILE))).toBe(`${m}x?l=${to}&/${FILE.name}: HTTP 400`);
    expect(hits['ok~elsewhere']).toBeUndefined();
    // a 200 with a Location is its (empty) body: refused by its MD5, the Location not followed
    const n = mirror('location:200');
    expect(await failure(fetchFile(`${n}x?l=${to}&`, dirOf(), FILE))).toBe(
      `${FILE.name}: checksum mismatch after download (MD5 expected ${FILE.md5}, got ${md5(Buffer.alloc(0))}); the partial file was removed`,
    );
    expect(hits['ok~elsewhere']).toBeUndefined();
  });

  it('to https: followed (here to a plain-HTTP server, so TLS fails and is retried, not refused)', async () => {
    const m = mirror('location:302');
    const to = encodeURIComponent(`${base.replace('http:', 'https:')}/ok/${FILE.name}`);
    const retries: string[] = [];
    const msg = await failure(fetchFile(`${m}x?l=${to}&`, dirOf(), FILE, { backoff: 1, attempts: 2, onRetry: (_f, _a, why) => retries.push(why) }));
    expect(msg).not.toMatch(/only http and https/);
    expect(retries).toHaveLength(1);
    expect(hitsOf(m)).toHaveLength(2);
  });

  it('to something that is not a URL, or not http(s): refused in one line', async () => {
    const m = mirror('location:302');
    expect(await failure(fetchFile(`${m}x?l=${encodeURIComponent('http://[bad')}&`, dirOf(), FILE))).toBe(
      `${m}x?l=${encodeURIComponent('http://[bad')}&/${FILE.name}: redirects to "http://[bad", which is not a URL`,
    );
    const n = mirror('location:302');
    expect(await failure(fetchFile(`${n}x?l=${encodeURIComponent('ftp://host/file')}&`, dirOf(), FILE))).toBe(
      `${n}x?l=${encodeURIComponent('ftp://host/file')}&/${FILE.name}: redirects to ftp: (only http and https are fetched)`,
    );
  });
});

describe('fetchFile: HTTP statuses', () => {
  for (const status of [408, 429, 500, 502, 503, 504])
    it(`${status} is "not now": retried after the backoff, and the download completes`, async () => {
      const retries: unknown[][] = [];
      const m = mirror(`once:${status}`);
      const dest = await fetchFile(m, dirOf(), FILE, { backoff: 1, onRetry: (...a) => retries.push(a) });
      expect(readFileSync(dest).equals(BODY)).toBe(true);
      expect(retries).toEqual([[FILE.name, 1, `HTTP ${status}`, 0, 1, 6]]);
      expect(hitsOf(m)).toHaveLength(2);
    });

  for (const status of [304, 400, 404, 501])
    it(`${status} is fatal: one request, one line naming the URL`, async () => {
      const m = mirror(`status:${status}`);
      let retried = false;
      expect(await failure(fetchFile(m, dirOf(), FILE, { backoff: 1, onRetry: () => (retried = true) }))).toBe(`${m}${FILE.name}: HTTP ${status}`);
      expect(hitsOf(m)).toHaveLength(1);
      expect(retried).toBe(false);
    });

  it('416 to a request from byte 0 is an HTTP error; to a resume of a complete file, the file is done', async () => {
    const m = mirror('status:416');
    expect(await failure(fetchFile(m, dirOf(), FILE))).toBe(`${m}${FILE.name}: HTTP 416`);
    const dir = dirOf();
    writeFileSync(join(dir, `${FILE.name}.part`), BODY);
    const resumed: unknown[][] = [];
    const n = mirror('ok');
    const dest = await fetchFile(n, dir, FILE, { onResume: (...a) => resumed.push(a) });
    expect(readFileSync(dest).equals(BODY)).toBe(true);
    expect(resumed).toEqual([[FILE.name, BODY.length]]);
    expect(hitsOf(n)).toEqual([`bytes=${BODY.length}-`]);
  });
});

describe('fetchFile: Retry-After and the backoff', () => {
  it('the waits double from the backoff given (1, 2, 4, 8, 16 ms); the last failure is the error, with the bytes kept', async () => {
    const waits: number[] = [];
    const attempts: number[] = [];
    const m = mirror('status:503');
    const msg = await failure(fetchFile(m, dirOf(), FILE, { backoff: 1, onRetry: (_f, a, _w, _at, wait, n) => (waits.push(wait), attempts.push(a, n)) }));
    expect(msg).toBe(`${m}${FILE.name}: download failed (HTTP 503)`);
    expect(waits).toEqual([1, 2, 4, 8, 16]);
    expect(attempts).toEqual([1, 6, 2, 6, 3, 6, 4, 6, 5, 6]);
    expect(hitsOf(m)).toHaveLength(6);
  });

  it(`the backoff is capped at ${FETCH_LIMITS.maxBackoffMs / 1000} s, and the default starts at ${FETCH_LIMITS.backoffMs} ms`, async () => {
    const waits: number[] = [];
    const stop = new Error('stop');
    const at = (n: number) => (_f: string, a: number, _w: string, _at: number, wait: number) => {
      waits.push(wait);
      if (a === n) throw stop;
    };
    await expect(fetchFile(mirror('status:503'), dirOf(), FILE, { backoff: 40_000, onRetry: at(1) })).rejects.toBe(stop);
    expect(waits).toEqual([30_000]);
    waits.length = 0;
    await expect(fetchFile(mirror('status:503'), dirOf(), FILE, { onRetry: at(1) })).rejects.toBe(stop);
    expect(waits).toEqual([500]);
  });

  it('a Retry-After longer than the backoff is waited instead, and said in the reason', async () => {
    const why: [string, number][] = [];
    const stop = new Error('stop');
    const p = fetchFile(mirror('after:2'), dirOf(), FILE, {
      backoff: 1,
      onRetry: (_f, _a, w, _at, wait) => {
        why.push([w, wait]);
        throw stop;
      },
    });
    await expect(p).rejects.toBe(stop);
    expect(why).toEqual([['HTTP 503, retry after 2 s', 2000]]);
  });

  it(`a Retry-After beyond ${FETCH_LIMITS.maxRetryAfterMs / 1000} s is not waited for; exactly ${FETCH_LIMITS.maxRetryAfterMs / 1000} s is, within the deadline`, async () => {
    const m = mirror('after:301');
    expect(await failure(fetchFile(m, dirOf(), FILE, { backoff: 1 }))).toBe(`${m}${FILE.name}: download failed (HTTP 503, retry after 301 s, more than the 300 s we wait: try again later)`);
    expect(hitsOf(m)).toHaveLength(1);
    const n = mirror('after:300');
    expect(await failure(fetchFile(n, dirOf(), FILE, { backoff: 1, deadline: 60_000 }))).toBe(`${n}${FILE.name}: download failed (HTTP 503, retry after 300 s; the download deadline passed)`);
    const l = mirror('after:999999');
    expect(await failure(fetchFile(l, dirOf(), FILE))).toBe(`${l}${FILE.name}: download failed (HTTP 503, retry after 999999 s, more than the 300 s we wait: try again later)`);
    const k = mirror('after:1000000');
    expect(await failure(fetchFile(k, dirOf(), FILE))).toBe(`${k}${FILE.name}: download failed (HTTP 503, retry after 1.0e+6 s, more than the 300 s we wait: try again later)`);
    const o = mirror('after:10000000');
    expect(await failure(fetchFile(o, dirOf(), FILE))).toBe(`${o}${FILE.name}: download failed (HTTP 503, retry after 1.0e+7 s, more than the 300 s we wait: try again later)`);
  });

  it('a wait that would end past the deadline: stops at once, saying so; after the last attempt, only its reason', async () => {
    const m = mirror('status:503');
    const t0 = Date.now();
    expect(await failure(fetchFile(m, dirOf(), FILE, { backoff: 5000, deadline: 2000 }))).toBe(`${m}${FILE.name}: download failed (HTTP 503; the download deadline passed)`);
    expect(Date.now() - t0).toBeLessThan(4000); // not the 5 s wait
    expect(hitsOf(m)).toHaveLength(1);
    const n = mirror('status:503');
    expect(await failure(fetchFile(n, dirOf(), FILE, { backoff: 5000, deadline: 2000, attempts: 1 }))).toBe(`${n}${FILE.name}: download failed (HTTP 503)`);
  });
});

describe('fetchFile: sizes', () => {
  it('a Content-Length over the catalogue’s size: refused before the body, with nothing kept', async () => {
    const dir = dirOf();
    const m = mirror(`sized:${BODY.length + 1}`);
    expect(await failure(fetchFile(m, dir, FILE))).toBe(`${m}${FILE.name}: ${BODY.length + 1} bytes is more than the ${BODY.length} bytes expected of this file`);
    expect(existsSync(join(dir, `${FILE.name}.part`))).toBe(false);
  });

  it('exactly the size is accepted, with or without a Content-Length', async () => {
    for (const mode of ['sized', 'bytes']) {
      const body = Buffer.alloc(BODY.length, 5);
      expect(readFileSync(await fetchFile(mirror(`${mode}:${BODY.length}`), dirOf(), { ...FILE, md5: md5(body) })).equals(body), mode).toBe(true);
    }
  });

  it('without a Content-Length the bytes are counted as they come: one more is refused', async () => {
    const dir = dirOf();
    const m = mirror(`bytes:${BODY.length + 1}`);
    expect(await failure(fetchFile(m, dir, FILE))).toMatch(new RegExp(`^${m}${FILE.name}: \\d+ bytes is more than the ${BODY.length} bytes expected of this file$`));
  });

  it('with a content digest, up to twice the size plus 64 KiB (a recompressed copy); without a size, 200 MB', async () => {
    const limit = 2 * 100 + 65_536;
    const body = Buffer.alloc(limit, 5);
    const f = { name: FILE.name, size: 100, md5: '0'.repeat(32), contentSha256: sha256(body) };
    expect(readFileSync(await fetchFile(mirror(`sized:${limit}`), dirOf(), f)).equals(body)).toBe(true);
    const m = mirror(`sized:${limit + 1}`);
    expect(await failure(fetchFile(m, dirOf(), f))).toBe(`${m}${FILE.name}: ${limit + 1} bytes is more than the ${limit} bytes expected of this file`);
    expect(FETCH_LIMITS.unknownSizeBytes).toBe(200_000_000);
    const n = mirror('sized:200000001');
    expect(await failure(fetchFile(n, dirOf(), { name: FILE.name, md5: 'x' }))).toBe(`${n}${FILE.name}: 200000001 bytes is more than the 200000000 bytes expected of this file`);
  });

  it('a NAME.part larger than the file can be is a bad earlier download: removed, not resumed', async () => {
    const dir = dirOf();
    writeFileSync(join(dir, `${FILE.name}.part`), Buffer.alloc(BODY.length + 1));
    let resumed = false;
    const m = mirror('ok');
    expect(readFileSync(await fetchFile(m, dir, FILE, { onResume: () => (resumed = true) })).equals(BODY)).toBe(true);
    expect(resumed).toBe(false);
    expect(hitsOf(m)).toEqual([undefined]);
  });
});

describe('fetchFile: resuming', () => {
  it('a NAME.part from an earlier run is resumed from its size with a Range request', async () => {
    const dir = dirOf();
    writeFileSync(join(dir, `${FILE.name}.part`), BODY.subarray(0, 1000));
    const told: unknown[][] = [];
    const progress: number[] = [];
    const m = mirror('ok');
    const opts: FetchOptions = { onResume: (...a) => told.push(['resume', ...a]), onRestart: (...a) => told.push(['restart', ...a]), onProgress: (p) => progress.push(p.received) };
    expect(readFileSync(await fetchFile(m, dir, FILE, opts)).equals(BODY)).toBe(true);
    expect(told).toEqual([['resume', FILE.name, 1000]]);
    expect(hitsOf(m)).toEqual(['bytes=1000-']);
    expect(progress[0]).toBe(1000);
    expect(progress.at(-1)).toBe(BODY.length);
  });

  it('a server that sends the whole file to a Range request: told, started over, right', async () => {
    const dir = dirOf();
    writeFileSync(join(dir, `${FILE.name}.part`), BODY.subarray(0, 1000));
    const told: unknown[][] = [];
    const progress: number[] = [];
    const opts: FetchOptions = { onRestart: (...a) => told.push(a), onProgress: (p) => progress.push(p.received) };
    expect(readFileSync(await fetchFile(mirror('norange'), dir, FILE, opts)).equals(BODY)).toBe(true);
    expect(told).toEqual([[FILE.name, 1000]]);
    expect(progress[0]).toBe(0);
  });

  it('a connection dropped mid-body: retried from the bytes kept, told where it resumes', async () => {
    const retries: unknown[][] = [];
    const m = mirror('drop');
    const msg = await failure(fetchFile(m, dirOf(), FILE, { backoff: 1, attempts: 3, onRetry: (...a) => retries.push(a) }));
    expect(hitsOf(m)).toEqual([undefined, 'bytes=200-', 'bytes=400-']);
    expect(retries.map((r) => r[3])).toEqual([200, 400]);
    expect(retries[0][2]).toMatch(/^connection (dropped|closed)/);
    expect(msg).toMatch(new RegExp(`^${m}${FILE.name}: download failed \\(.*\\); 600 bytes are kept: run the command again to resume$`));
  });

  it('a stalled connection is given up after the stall timeout, and its bytes kept', async () => {
    const m = mirror('stall');
    const msg = await failure(fetchFile(m, dirOf(), FILE, { timeout: 300, attempts: 1 }));
    expect(msg).toBe(`${m}${FILE.name}: download failed (no data for 0.3 s); 100 bytes are kept: run the command again to resume`);
  });

  it('the deadline passing mid-body: given up, the bytes kept for the next run', async () => {
    const m = mirror('stall');
    const msg = await failure(fetchFile(m, dirOf(), FILE, { deadline: 400 }));
    expect(msg).toBe(`${m}${FILE.name}: the download deadline passed; 100 bytes are kept: run the command again to resume`);
    const n = mirror('ok');
    expect(await failure(fetchFile(n, dirOf(), FILE, {}, Date.now() - 1))).toBe(`${n}${FILE.name}: the download deadline passed`);
    expect(hitsOf(n)).toHaveLength(0);
  });
});

describe('fetchFile: the predictable NAME.part', () => {
  it('a symbolic link or a directory there is refused, naming it, and left alone', async () => {
    const dir = dirOf();
    const part = join(dir, `${FILE.name}.part`);
    symlinkSync(join(dir, 'elsewhere'), part);
    expect(await failure(fetchFile(mirror('ok'), dir, FILE))).toBe(`${part}: a symbolic link, not a download of ours: not writing through it (remove it and run again)`);
    expect(lstatSync(part).isSymbolicLink()).toBe(true);
    const other = dirOf();
    mkdirSync(join(other, `${FILE.name}.part`));
    expect(await failure(fetchFile(mirror('ok'), other, FILE))).toBe(`${join(other, FILE.name)}.part: not a regular file, not a download of ours: not writing through it (remove it and run again)`);
  });
});

describe('fetchFile: what a failure leaves', () => {
  it('a refusal (HTTP 404) of a resumed download keeps NAME.part for another mirror, without "run again to resume"', async () => {
    for (const kept of [1000, BODY.length]) {
      const dir = dirOf();
      const part = join(dir, `${FILE.name}.part`);
      writeFileSync(part, BODY.subarray(0, kept));
      const m = mirror('status:404');
      expect(await failure(fetchFile(m, dir, FILE))).toBe(`${m}${FILE.name}: HTTP 404`);
      expect(statSync(part).size).toBe(kept);
    }
  });

  it('a retry without an onRetry listener', async () => {
    expect(readFileSync(await fetchFile(mirror('once:503'), dirOf(), FILE, { backoff: 1 })).equals(BODY)).toBe(true);
  });

  it('leaves no deadline timer running and no file open, after a download and after a failure', async () => {
    // the deadline timer is the only long one (30 minutes by default): record those armed and those cleared
    const armed = new Set<unknown>();
    const cleared = new Set<unknown>();
    const setT = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const t = realSetTimeout(fn, ms);
      if ((ms ?? 0) > 60_000) armed.add(t);
      return t;
    }) as typeof setTimeout);
    const clearT = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((t: NodeJS.Timeout) => {
      cleared.add(t);
      realClearTimeout(t);
    }) as typeof clearTimeout);
    const dir = dirOf();
    const open = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(join('/proc/self/fd', fd)).startsWith(dir);
        } catch {
          return false;
        }
      });
    try {
      await fetchFile(mirror('redirect:1'), dir, FILE);
      await failure(fetchFile(mirror('status:404'), dir, { ...FILE, name: 'other.gz' }));
      await new Promise((r) => realSetTimeout(r, 50));
    } finally {
      setT.mockRestore();
      clearT.mockRestore();
    }
    expect(armed.size).toBe(3); // one per request: the redirect, its target, the 404
    expect([...armed].filter((t) => !cleared.has(t))).toEqual([]);
    expect(open()).toEqual([]);
  });

  it('NAME.part swapped for a link, a FIFO or a directory while a retry waits: not written through', async () => {
    const dir = dirOf();
    const part = join(dir, `${FILE.name}.part`);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep me');
    const swapTo = (plant: () => void) => ({ backoff: 1, onRetry: plant });
    expect(
      await failure(
        fetchFile(
          mirror('once:503'),
          dir,
          FILE,
          swapTo(() => symlinkSync(victim, part)),
        ),
      ),
    ).toBe(`${part}: cannot write it (a symbolic link, which is not followed)`);
    expect(readFileSync(victim, 'utf8')).toBe('keep me');
    rmSync(part);
    // a link to a file longer than this one can be: the link is removed (as an oversized download would be), not its target
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(BODY.length + 1, 7));
    expect(
      await failure(
        fetchFile(
          mirror('oncefull'),
          dir,
          FILE,
          swapTo(() => symlinkSync(big, part)),
        ),
      ),
    ).toBe(`${part}: cannot write it (a symbolic link, which is not followed)`);
    expect(readdirSync(dir)).not.toContain(`${FILE.name}.part`);
    expect(readFileSync(big).length).toBe(BODY.length + 1);
    let reader = -1;
    const plantFifo = () => {
      execFileSync('mkfifo', [part]);
      reader = openSync(part, constants.O_RDONLY | constants.O_NONBLOCK); // a reader, so that opening it to write does not wait
    };
    try {
      expect(await failure(fetchFile(mirror('once:503'), dir, FILE, swapTo(plantFifo)))).toBe(`${part}: cannot write it (not a regular file)`);
    } finally {
      if (reader >= 0) closeSync(reader);
    }
    rmSync(part);
    // a directory: the open fails with the system's code, given as it is
    expect(
      await failure(
        fetchFile(
          mirror('oncefull'),
          dir,
          FILE,
          swapTo(() => mkdirSync(part)),
        ),
      ),
    ).toBe(`${part}: cannot write it (EISDIR)`);
  });
});

describe('retryAfterMs: the header’s forms', () => {
  it('white space around the seconds is allowed; anything else beside the digits makes it a date, and unreadable', () => {
    expect(retryAfterMs(' 120 ', 0)).toBe(120_000);
    for (const v of ['120abc', 'abc120', '12 0', '0x10', '1e3']) expect(retryAfterMs(v, 0), v).toBeUndefined();
    expect(retryAfterMs('', 0)).toBeUndefined();
  });
});

describe('fetchFile: connection failures', () => {
  it('an https URL is fetched with TLS (here: a plain-HTTP server, so the handshake fails)', async () => {
    const msg = await failure(fetchFile(`${base.replace('http:', 'https:')}/ok/`, dirOf(), FILE, { attempts: 1 }));
    expect(msg).toMatch(/download failed \(.*(SSL|ssl|EPROTO|TLS|tls)/);
    expect(msg).not.toMatch(/not supported/);
  });

  it('a refused connection is named as such and retried', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const retries: number[] = [];
    const msg = await failure(fetchFile(`http://127.0.0.1:${port}/`, dirOf(), FILE, { backoff: 1, attempts: 2, onRetry: (_f, a) => retries.push(a) }));
    expect(msg).toBe(`http://127.0.0.1:${port}/${FILE.name}: download failed (127.0.0.1:${port} refused the connection (ECONNREFUSED))`);
    expect(retries).toEqual([1]);
  });

  it('a connection closed before any answer: the error with its code, retried', async () => {
    const retries: string[] = [];
    const m = mirror('hangup');
    const msg = await failure(fetchFile(m, dirOf(), FILE, { backoff: 1, attempts: 2, onRetry: (_f, _a, why) => retries.push(why) }));
    expect(msg).toBe(`${m}${FILE.name}: download failed (socket hang up (ECONNRESET))`);
    expect(retries).toEqual(['socket hang up (ECONNRESET)']);
    expect(hitsOf(m)).toHaveLength(2);
  });

  it('a host name that does not resolve is said to be one, and (ENOTFOUND) not retried', async () => {
    const retries: number[] = [];
    const url = 'http://backprop-test.invalid/';
    const msg = await failure(fetchFile(url, dirOf(), FILE, { backoff: 1, attempts: 3, onRetry: (_f, a) => retries.push(a) }));
    const code = /\((ENOTFOUND|EAI_AGAIN)\)/.exec(msg)?.[1];
    expect(msg).toBe(`${url}${FILE.name}: download failed (cannot resolve the host name backprop-test.invalid (${code}): no network, or no DNS)`);
    // EAI_AGAIN (no DNS server answered) may be temporary, and is retried
    expect(retries).toEqual(code === 'ENOTFOUND' ? [] : [1, 2]);
  });
});

describe('fetchDataset', () => {
  const entry = (urls: string[]): CatalogEntry => ({
    name: 'tiny',
    title: '',
    description: '',
    classes: [],
    shape: [1, 1],
    train: 1,
    test: 1,
    files: { trainImages: FILE, testLabels: { ...FILE, name: 'labels.gz' } },
    licence: '',
    urls,
    homepage: '',
    citation: '',
  });

  it('fetches each file of the entry from its first URL, skips those present, returns the paths in role order', async () => {
    const dir = join(dirOf(), 'new', 'tiny');
    const m = mirror('ok');
    expect(await fetchDataset(entry([m, 'http://unused.invalid/']), dir)).toEqual([join(dir, FILE.name), join(dir, 'labels.gz')]);
    expect(hitsOf(m)).toHaveLength(2);
    const n = mirror('ok');
    writeFileSync(join(dir, 'labels.gz'), 'already here');
    const again = join(dirOf(), 'x');
    mkdirSync(again);
    writeFileSync(join(again, 'labels.gz'), 'already here');
    expect(await fetchDataset(entry([n]), again)).toEqual([join(again, FILE.name), join(again, 'labels.gz')]);
    expect(hitsOf(n)).toHaveLength(1);
    expect(readFileSync(join(again, 'labels.gz'), 'utf8')).toBe('already here');
  });

  it('a mirror replaces the entry’s URLs; an entry without URLs has nothing to download', async () => {
    const m = mirror('ok');
    await fetchDataset(entry(['http://unused.invalid/']), dirOf(), { mirror: m });
    expect(hitsOf(m)).toHaveLength(2);
    await expect(fetchDataset(entry([]), dirOf())).rejects.toThrow(new DataError('tiny has nothing to download'));
  });
});
