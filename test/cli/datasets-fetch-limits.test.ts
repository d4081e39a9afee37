import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliAsync, FIXTURES, tinyCatalogEntry } from '../helpers.js';

// `datasets fetch` against a local server that misbehaves: a redirect loop,
// bodies larger than the catalogue says, a connection that stalls, one that
// trickles forever, a host that does not resolve. Each ends in one line, exit
// 2, within its limits.

const TINY = join(FIXTURES, 'tiny-mnist');
const NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const files: Record<string, Buffer> = {};
for (const n of NAMES) files[`${n}.gz`] = existsSync(join(TINY, n)) ? gzipSync(readFileSync(join(TINY, n))) : readFileSync(join(TINY, `${n}.gz`));
const FIRST = 'train-images-idx3-ubyte.gz';

let server: http.Server;
let base = '';
const hits: Record<string, number[]> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [, mode, name] = (req.url ?? '').split('/');
    (hits[mode] ??= []).push(Date.now());
    const body = files[name];
    if (!body) return void res.writeHead(404).end();
    switch (mode) {
      case 'loop': // redirects to itself, forever
        return void res.writeHead(302, { Location: req.url }).end();
      case 'ftp': // redirects to a scheme we do not fetch
        return void res.writeHead(302, { Location: `ftp://127.0.0.1/${name}` }).end();
      case 'big': // says (and sends) 5000 bytes more than the catalogue's size
        return void res.writeHead(200, { 'Content-Length': body.length + 5000 }).end(Buffer.concat([body, Buffer.alloc(5000)]));
      case 'bigchunked': // no Content-Length: the excess shows only while it arrives
        res.writeHead(200);
        res.write(body);
        return void res.end(Buffer.alloc(50_000));
      case 'stall': // 100 bytes, then silence
        res.writeHead(200, { 'Content-Length': body.length });
        return void res.write(body.subarray(0, 100));
      case 'trickle': {
        // a byte every 50 ms: never stalls, never ends in time
        res.writeHead(200, { 'Content-Length': body.length });
        let i = 0;
        const t = setInterval(() => (i < body.length && !res.destroyed ? res.write(body.subarray(i, ++i)) : clearInterval(t)), 50);
        res.on('close', () => clearInterval(t));
        return;
      }
      case 'drop': // half the body, then the connection dies: every time
        res.writeHead(200, { 'Content-Length': body.length });
        res.write(body.subarray(0, 200));
        return void setTimeout(() => res.socket?.destroy(), 10);
    }
    res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

/** A catalogue with the dataset "tiny" (sizes and MD5s of the files served) and an empty cache. */
function catalogue(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-cat-'));
  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
  const entry = tinyCatalogEntry(
    NAMES.map((n) => ({ name: `${n}.gz`, size: files[`${n}.gz`].length, md5: md5(files[`${n}.gz`]) })),
    ['https://example.invalid/'],
  );
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(entry));
  return { BACKPROP_CATALOG: dir, XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), 'backprop-cache-')), BACKPROP_DATA: '' };
}

const cases: [string, () => string[], RegExp, ((output: string) => void)?][] = [
  [
    'a redirect loop stops after 5 redirects',
    () => ['--mirror', `${base}/loop/`],
    /loop\/train-images-idx3-ubyte\.gz: more than 5 redirects \(a redirect loop\?\)/,
    () => expect(hits.loop).toHaveLength(6),
  ],
  [
    'a redirect to another scheme is refused at once',
    () => ['--mirror', `${base}/ftp/`],
    /ftp\/train-images-idx3-ubyte\.gz: redirects to ftp: \(only http and https are fetched\)/,
    () => expect(hits.ftp).toHaveLength(1),
  ],
  [
    'a body larger than the catalogue says (Content-Length)',
    () => ['--mirror', `${base}/big/`],
    new RegExp(`${files[FIRST].length + 5000} bytes is more than the ${files[FIRST].length} bytes expected of this file`),
  ],
  ['a body larger than the catalogue says (no Content-Length)', () => ['--mirror', `${base}/bigchunked/`], new RegExp(`bytes is more than the ${files[FIRST].length} bytes expected of this file`)],
  [
    'a stalled connection: retried with backoff, then the deadline',
    () => ['--mirror', `${base}/stall/`, '--stall', '0.3', '--deadline', '3'],
    /stall\/train-images-idx3-ubyte\.gz: download failed \(no data for 0\.3 s; the download deadline passed\); 100 bytes are kept: run the command again to resume/,
    (output) => expect(output).toMatch(/no data for 0\.3 s; resuming at byte 100 in 0\.5 s \(retry 1 of 5\)/),
  ],
  [
    'a connection that trickles forever ends at the deadline',
    () => ['--mirror', `${base}/trickle/`, '--deadline', '1'],
    /trickle\/train-images-idx3-ubyte\.gz: the download deadline passed; \d+ bytes are kept: run the command again to resume/,
  ],
  [
    'a host that does not resolve is named as such, never "resuming"',
    () => ['--mirror', 'http://nonexistent.invalid/', '--deadline', '3'],
    /download failed \(cannot resolve the host name nonexistent\.invalid \(E(NOTFOUND|AI_AGAIN)\): no network, or no DNS/,
    (output) => expect(output).not.toMatch(/resuming/),
  ],
  [
    'retries back off: 0.5 s, 1 s, 2 s between attempts',
    () => ['--mirror', `${base}/drop/`, '--deadline', '4'],
    /drop\/train-images-idx3-ubyte\.gz: download failed \(.*\); \d+ bytes are kept/,
    () => {
      const t = hits.drop;
      expect(t.length).toBe(4); // the next wait (4 s) would pass the deadline
      [500, 1000, 2000].forEach((ms, i) => expect(t[i + 1] - t[i]).toBeGreaterThanOrEqual(ms - 20));
    },
  ],
];

describe('datasets fetch within its limits: exit 2, one error line', () => {
  for (const [what, args, msg, check] of cases)
    it(
      what,
      async () => {
        const r = await cliAsync(['datasets', 'fetch', 'tiny', ...args()], catalogue());
        expect(r.code, r.stderr).toBe(2);
        const errors = r.stderr.split('\n').filter((l) => /^backprop.*error/.test(l));
        expect(errors, r.stderr).toHaveLength(1);
        expect(errors[0]).toMatch(msg);
        expect(r.stderr).not.toMatch(/\bat .*\.(js|ts):\d+/);
        check?.(r.stdout + r.stderr);
      },
      30_000,
    );
});
