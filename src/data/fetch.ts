import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { fsyncDir } from '../base/atomic.js';
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
  /** Stall timeout: ms without a byte before an attempt is given up (default 30 s). */
  timeout?: number;
  /** Overall deadline for the whole download, in ms (default 30 minutes). */
  deadline?: number;
  /** Wait before the first retry, doubled for each next one up to 30 s (default 0.5 s). */
  backoff?: number;
  onProgress?: (p: FetchProgress) => void;
  /** `resumeAt` is the bytes already downloaded (0: the retry starts over). */
  onRetry?: (file: string, attempt: number, why: string, resumeAt: number, waitMs: number) => void;
}

/** The limits of a download (README, "Errors and exit codes"). */
export const FETCH_LIMITS = {
  redirects: 5,
  stallMs: 30_000,
  deadlineMs: 30 * 60_000,
  backoffMs: 500,
  maxBackoffMs: 30_000,
  /** Cap on a file whose size the catalogue does not give. */
  unknownSizeBytes: 200_000_000,
} as const;

/** An error that retrying will not fix (HTTP status, redirect loop, a body over its size, the deadline). */
class FatalFetchError extends DataError {
  /** The bytes downloaded so far are good: a later run resumes from them. */
  resumable = false;
}

const deadlineError = (url: string) => Object.assign(new FatalFetchError(`${url}: the download deadline passed`), { resumable: true });

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
interface GetLimits {
  /** Stall timeout (ms without data). */
  timeout: number;
  /** Date.now() after which the attempt is abandoned. */
  deadline: number;
  /** Most bytes the file may have. */
  maxBytes: number;
  /** Redirects followed so far. */
  redirects: number;
}

function getInto(url: string, part: string, limits: GetLimits, onData: (received: number, total?: number) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const have = existsSync(part) ? statSync(part).size : 0;
    const lib = url.startsWith('https:') ? https : http;
    const left = limits.deadline - Date.now();
    if (left <= 0) return reject(deadlineError(url));
    const req = lib.get(url, { headers: have ? { Range: `bytes=${have}-` } : {}, timeout: limits.timeout }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        clearTimeout(timer);
        if (limits.redirects >= FETCH_LIMITS.redirects) {
          reject(new FatalFetchError(`${url}: more than ${FETCH_LIMITS.redirects} redirects (a redirect loop?)`));
          return;
        }
        let next: URL;
        try {
          next = new URL(res.headers.location, url);
        } catch {
          reject(new FatalFetchError(`${url}: redirects to "${res.headers.location}", which is not a URL`));
          return;
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          reject(new FatalFetchError(`${url}: redirects to ${next.protocol} (only http and https are fetched)`));
          return;
        }
        getInto(next.toString(), part, { ...limits, redirects: limits.redirects + 1 }, onData).then(resolvePromise, reject);
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
        reject(new FatalFetchError(`${url}: HTTP ${status}`));
        return;
      }
      const append = status === 206; // a server without Range support sends everything again
      const length = Number(res.headers['content-length'] ?? NaN);
      const start = append ? have : 0;
      const total = Number.isFinite(length) ? start + length : undefined;
      const tooBig = (n: number) => new FatalFetchError(`${url}: ${n} bytes is more than the ${limits.maxBytes} bytes expected of this file`);
      if (total !== undefined && total > limits.maxBytes) {
        res.destroy();
        reject(tooBig(total));
        return;
      }
      let received = start;
      const out = createWriteStream(part, { flags: append ? 'a' : 'w' });
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > limits.maxBytes) {
          const e = tooBig(received);
          reject(e);
          res.destroy();
          out.destroy(e);
          return;
        }
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
    req.on('timeout', () => req.destroy(new Error(`no data for ${limits.timeout / 1000} s`)));
    req.on('error', reject);
    req.on('close', () => clearTimeout(timer));
    const timer = setTimeout(() => req.destroy(deadlineError(url)), left);
  });
}

/** A one-line reason for a failed attempt; DNS failures say so (they are not a dropped download). */
function reason(e: unknown, url: string): string {
  const err = e as NodeJS.ErrnoException & { hostname?: string };
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `cannot resolve the host name ${host} (${err.code}): no network, or no DNS`;
  if (err.code === 'ECONNREFUSED') return `${host} refused the connection (ECONNREFUSED)`;
  return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}

/**
 * Downloads one file into dir: into NAME.part (resumed with HTTP Range after
 * a dropped connection), verified against the catalogue's MD5, then renamed
 * to NAME. A corrupt download never appears under the final name.
 */
export async function fetchFile(base: string, dir: string, f: CatalogFile, opts: FetchOptions = {}, deadline = Date.now() + (opts.deadline ?? FETCH_LIMITS.deadlineMs)): Promise<string> {
  const dest = join(dir, f.name);
  const part = `${dest}.part`;
  const url = base.endsWith('/') ? base + f.name : `${base}/${f.name}`;
  const attempts = opts.attempts ?? 5;
  const limits: GetLimits = { timeout: opts.timeout ?? FETCH_LIMITS.stallMs, deadline, maxBytes: f.size ?? FETCH_LIMITS.unknownSizeBytes, redirects: 0 };
  const have = () => (existsSync(part) ? statSync(part).size : 0);
  if (have() > limits.maxBytes) rmSync(part, { force: true }); // a bad earlier download, not something to resume
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await getInto(url, part, limits, (received, total) => opts.onProgress?.({ file: f.name, received, total }));
      lastError = '';
      break;
    } catch (e) {
      if (e instanceof FatalFetchError) {
        if (have() > limits.maxBytes) rmSync(part, { force: true });
        if (e.resumable && have() > 0) throw new DataError(`${e.message}; ${have()} bytes are kept: run the command again to resume`);
        throw e; // retrying will not help
      }
      lastError = reason(e, url);
      if ((e as NodeJS.ErrnoException).code === 'ENOTFOUND') break; // an unknown host stays unknown
      // Exponential backoff, within the deadline.
      const wait = Math.min((opts.backoff ?? FETCH_LIMITS.backoffMs) * 2 ** (attempt - 1), FETCH_LIMITS.maxBackoffMs);
      if (attempt < attempts && Date.now() + wait < deadline) {
        opts.onRetry?.(f.name, attempt, lastError, have(), wait);
        await new Promise((r) => setTimeout(r, wait));
      } else if (attempt < attempts) {
        lastError += '; the download deadline passed';
        break;
      }
    }
  }
  if (lastError) throw new DataError(`${url}: download failed (${lastError})${have() > 0 ? `; ${have()} bytes are kept: run the command again to resume` : ''}`);
  const md5 = await md5File(part);
  if (md5 !== f.md5) {
    rmSync(part, { force: true });
    throw new DataError(`${f.name}: checksum mismatch after download (MD5 expected ${f.md5}, got ${md5}); the partial file was removed`);
  }
  // Durable before it is reported done: the data, then the name.
  const fd = openSync(part, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(part, dest);
  fsyncDir(dir);
  return dest;
}

/** Fetches every file of a dataset missing from dir; returns the paths. */
export async function fetchDataset(entry: CatalogEntry, dir: string, opts: FetchOptions = {}): Promise<string[]> {
  const deadline = Date.now() + (opts.deadline ?? FETCH_LIMITS.deadlineMs);
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
    out.push(await fetchFile(base, dir, f, opts, deadline));
  }
  return out;
}
