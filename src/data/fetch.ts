import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { DataError } from './dataset.js';
import type { CatalogEntry, CatalogFile } from './catalog.js';
import { FILE_ROLES } from './catalog.js';

export interface FetchProgress {
  file: string;
  received: number;
  total?: number;
}

export interface FetchOptions {
  /** Base URL to fetch from instead of the catalogue's (the file name is appended). */
  mirror?: string;
  /** Attempts per file; each one resumes where the last stopped. */
  attempts?: number;
  /** Socket idle timeout in ms. */
  timeout?: number;
  onProgress?: (p: FetchProgress) => void;
  onRetry?: (file: string, attempt: number, why: string) => void;
}

function md5File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('md5');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('end', () => res(h.digest('hex')))
      .on('error', rej);
  });
}

/**
 * One HTTP GET of url into part, appending from its current size with a Range
 * request. Resolves when the body is complete; rejects on a dropped
 * connection, a short body, a timeout or an HTTP error (the part file keeps
 * what arrived, for the next attempt).
 */
function getInto(url: string, part: string, timeout: number, onData: (received: number, total?: number) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const have = existsSync(part) ? statSync(part).size : 0;
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { headers: have ? { Range: `bytes=${have}-` } : {}, timeout }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        getInto(new URL(res.headers.location, url).toString(), part, timeout, onData).then(resolvePromise, reject);
        return;
      }
      if (status === 416 && have > 0) {
        // Nothing left to send: the part file is already complete.
        res.resume();
        resolvePromise();
        return;
      }
      if (status !== 200 && status !== 206) {
        res.resume();
        reject(new DataError(`${url}: HTTP ${status}`));
        return;
      }
      const append = status === 206; // a server without Range support sends everything again
      const length = Number(res.headers['content-length'] ?? NaN);
      const start = append ? have : 0;
      const total = Number.isFinite(length) ? start + length : undefined;
      let received = start;
      const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        onData(received, total);
      });
      res.on('aborted', () => out.destroy(new Error('connection dropped')));
      res.on('error', (e) => out.destroy(e));
      res.pipe(out);
      out.on('error', (e) => reject(e));
      out.on('finish', () => {
        if (total !== undefined && received < total) reject(new Error(`connection closed after ${received} of ${total} bytes`));
        else resolvePromise();
      });
      res.on('close', () => {
        if (!res.complete) out.destroy(new Error(`connection dropped after ${received}${total ? ` of ${total}` : ''} bytes`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no data for ${timeout} ms`)));
    req.on('error', reject);
  });
}

/**
 * Downloads one file into dir: into NAME.part (resumed with HTTP Range after
 * a dropped connection), verified against the catalogue's MD5, then renamed
 * to NAME. A corrupt download never appears under the final name.
 */
export async function fetchFile(base: string, dir: string, f: CatalogFile, opts: FetchOptions = {}): Promise<string> {
  const dest = join(dir, f.name);
  const part = `${dest}.part`;
  const url = base.endsWith('/') ? base + f.name : `${base}/${f.name}`;
  const attempts = opts.attempts ?? 5;
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await getInto(url, part, opts.timeout ?? 30_000, (received, total) => opts.onProgress?.({ file: f.name, received, total }));
      lastError = '';
      break;
    } catch (e) {
      lastError = (e as Error).message;
      if (e instanceof DataError) break; // an HTTP error will not go away by retrying
      if (attempt < attempts) opts.onRetry?.(f.name, attempt, lastError);
    }
  }
  if (lastError) throw new DataError(`${url}: download failed (${lastError}); run the command again to resume`);
  const md5 = await md5File(part);
  if (md5 !== f.md5) {
    rmSync(part, { force: true });
    throw new DataError(`${f.name}: checksum mismatch after download (MD5 expected ${f.md5}, got ${md5}); the partial file was removed`);
  }
  renameSync(part, dest);
  return dest;
}

/** Fetches every file of a dataset missing from dir; returns the paths. */
export async function fetchDataset(entry: CatalogEntry, dir: string, opts: FetchOptions = {}): Promise<string[]> {
  const base = opts.mirror ?? entry.urls[0];
  if (!base) throw new DataError(`${entry.name} has nothing to download`);
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const role of FILE_ROLES) {
    const f = entry.files[role];
    if (!f) continue;
    const dest = join(dir, f.name);
    if (existsSync(dest)) {
      out.push(dest);
      continue;
    }
    out.push(await fetchFile(base, dir, f, opts));
  }
  return out;
}
