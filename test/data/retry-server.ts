import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll } from 'vitest';
import { FIXTURES } from '../helpers.js';

// The local server (127.0.0.1: nothing leaves the machine) of the download tests, in process
// (test/data/fetch-retry.test.ts) and through the CLI (test/cli/datasets-fetch-retry.test.ts):
// a mode in the path (r429, r503date, r503long, r503, recompressed, recompressedwrong, norange, drop)
// says how it answers. Importing this module starts it for the importing file's tests.

const TINY = join(FIXTURES, 'tiny-mnist');
export const NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
/** The "official" files (gzip level 6) and the same content recompressed (level 1: other bytes, other size). */
export const files: Record<string, Buffer> = {};
export const recompressed: Record<string, Buffer> = {};
for (const n of NAMES) {
  const raw = existsSync(join(TINY, n)) ? readFileSync(join(TINY, n)) : gunzipSync(readFileSync(join(TINY, `${n}.gz`)));
  files[`${n}.gz`] = gzipSync(raw, { level: 6 });
  recompressed[`${n}.gz`] = gzipSync(raw, { level: 1 });
}
export const FIRST = 'train-images-idx3-ubyte.gz';
export const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let server: http.Server;
let base = '';
/** Requests by "mode-id/name", with their Range header. */
export const hits: Record<string, (string | undefined)[]> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [, key, name] = (req.url ?? '').split('/');
    const mode = key.split('-')[0];
    const seen = (hits[`${key}/${name}`] ??= []);
    seen.push(req.headers.range);
    const first = seen.length === 1;
    let body = files[name];
    if (!body) return void res.writeHead(404).end();
    switch (mode) {
      case 'r429': // "too many requests, come back in 1 s", once per file
        if (first) return void res.writeHead(429, { 'Retry-After': '1' }).end();
        break;
      case 'r503date': // "unavailable until <date>", once
        if (first) return void res.writeHead(503, { 'Retry-After': new Date(Date.now() + 1500).toUTCString() }).end();
        break;
      case 'r503long': // come back in an hour
        return void res.writeHead(503, { 'Retry-After': '3600' }).end();
      case 'r503': // unavailable, no Retry-After: backoff
        if (first) return void res.writeHead(503).end();
        break;
      case 'recompressed':
        body = recompressed[name];
        break;
      case 'recompressedwrong': // recompressed, and one byte of the content changed
        body = gzipSync(Buffer.from(gunzipSync(recompressed[name]).map((b, i) => (i === 200 ? b ^ 1 : b))), { level: 1 });
        break;
      case 'norange': // no Range support: the whole file, always
        return void res.writeHead(200, { 'Content-Length': body.length }).end(body);
      case 'drop': // 200 bytes, then the connection dies: every time
        res.writeHead(200, { 'Content-Length': body.length });
        res.write(body.subarray(0, 200));
        return void setTimeout(() => res.socket?.destroy(), 10);
    }
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'Content-Length': slice.length }).end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

let ids = 0;
/** A fresh mirror path for a mode (so each test has its own request counts). */
export const mirror = (mode: string) => `${base}/${mode}-${++ids}/`;
