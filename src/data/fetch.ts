import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, createWriteStream, existsSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { fsyncDir, makeDirectories } from '../base/atomic.js';
import { safeText } from '../base/terminal-safe.js';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { DataError } from './dataset.js';
import type { CatalogEntry, CatalogFile } from './catalog.js';
import { contentSha256, FILE_ROLES } from './catalog.js';

export interface FetchProgress {
  file: string;
  received: number;
  total?: number;
}

export interface FetchOptions {
  /** Base URL to fetch from instead of the catalogue's (the file name is appended). */
  mirror?: string;
  /** Attempts per file (default FETCH_LIMITS.retries + 1); each one resumes where the last stopped. */
  attempts?: number;
  /** Stall timeout: ms without a byte before an attempt is given up (default 30 s). */
  timeout?: number;
  /** Overall deadline for the whole download, in ms (default 30 minutes). */
  deadline?: number;
  /** Wait before the first retry, doubled for each next one up to 30 s (default 0.5 s). */
  backoff?: number;
  onProgress?: (p: FetchProgress) => void;
  /** `resumeAt` is the bytes already downloaded (0: the retry starts over); `attempts` the most there will be. */
  onRetry?: (file: string, attempt: number, why: string, resumeAt: number, waitMs: number, attempts: number) => void;
  /** A NAME.part left by an earlier run is resumed from byte `have`. */
  onResume?: (file: string, have: number) => void;
  /** A resume was asked for (a Range from byte `had`) and the server sent the whole file instead: it starts over. */
  onRestart?: (file: string, had: number) => void;
}

/** The limits of a download (README, "Errors and exit codes"). */
export const FETCH_LIMITS = {
  redirects: 5,
  /** Retries of a file after its first attempt fails (a dropped connection, a stall, HTTP 408/429/5xx). */
  retries: 5,
  /** The longest Retry-After (429, 503) honoured: a server asking for more is not waited for. */
  maxRetryAfterMs: 5 * 60_000,
  /** Node's timers hold at most 2^31 − 1 ms (24.8 days); a longer one fires at once. */
  maxTimerMs: 2 ** 31 - 1,
  stallMs: 30_000,
  deadlineMs: 30 * 60_000,
  backoffMs: 500,
  maxBackoffMs: 30_000,
  /** Cap on a file whose size the catalogue does not give. */
  unknownSizeBytes: 200_000_000,
} as const;

/** HTTP statuses that say "not now": retried, after the server's Retry-After when it gives one. */
const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** A "not now" HTTP answer, with the wait the server asked for (Retry-After), if any. */
class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
  }
}

/**
 * The wait a Retry-After header asks for, in ms (RFC 9110 §10.2.3: a number
 * of seconds, or an HTTP date), or undefined when absent or unreadable.
 */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const v = header.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

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
  /** Told when the server answers a Range request with the whole file (200): the bytes kept are replaced. */
  onRestart?: (had: number) => void;
}

function getInto(url: string, part: string, limits: GetLimits, onData: (received: number, total?: number) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const have = existsSync(part) ? statSync(part).size : 0;
    const lib = url.startsWith('https:') ? https : http;
    const left = limits.deadline - Date.now();
    if (left <= 0) return reject(deadlineError(url));
    const req = lib.get(url, { headers: have ? { Range: `bytes=${have}-` } : {}, timeout: Math.min(limits.timeout, FETCH_LIMITS.maxTimerMs) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        clearTimer();
        if (limits.redirects >= FETCH_LIMITS.redirects) {
          reject(new FatalFetchError(`${url}: more than ${FETCH_LIMITS.redirects} redirects (a redirect loop?)`));
          return;
        }
        let next: URL;
        try {
          next = new URL(res.headers.location, url);
        } catch {
          reject(new FatalFetchError(`${url}: redirects to "${safeText(res.headers.location, 100)}", which is not a URL`));
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
      if (RETRY_STATUSES.has(status)) {
        res.resume();
        const after = retryAfterMs(res.headers['retry-after']);
        reject(new RetryLaterError(`HTTP ${status}${after !== undefined ? `, retry after ${after / 1000 < 1e6 ? after / 1000 : (after / 1000).toExponential(1)} s` : ''}`, after));
        return;
      }
      if (status !== 200 && status !== 206) {
        res.resume();
        reject(new FatalFetchError(`${url}: HTTP ${status}`));
        return;
      }
      const append = status === 206; // a server without Range support sends everything again
      if (have > 0 && !append) limits.onRestart?.(have);
      const length = Number(res.headers['content-length'] ?? NaN);
      let received = append ? have : 0; // where this response starts
      const total = Number.isFinite(length) ? received + length : undefined;
      const tooBig = (n: number) => new FatalFetchError(`${url}: ${n} bytes is more than the ${limits.maxBytes} bytes expected of this file`);
      if (total !== undefined && total > limits.maxBytes) {
        res.destroy();
        reject(tooBig(total));
        return;
      }
      onData(received, total); // the rate and ETA count from here
      // NAME.part has a predictable name: never write through a link planted there, nor into a device or FIFO.
      let fd: number;
      try {
        fd = openSync(part, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (append ? constants.O_APPEND : constants.O_TRUNC), 0o644);
        if (!fstatSync(fd).isFile()) {
          closeSync(fd);
          throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
        }
      } catch (e) {
        res.destroy();
        const code = (e as NodeJS.ErrnoException).code;
        reject(new FatalFetchError(`${part}: cannot write it (${code === 'ELOOP' ? 'a symbolic link, which is not followed' : code === 'ENOTREG' ? 'not a regular file' : (code ?? String(e))})`));
        return;
      }
      const out = createWriteStream('', { fd });
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
    req.on('close', () => clearTimer());
    const clearTimer = longTimeout(() => req.destroy(deadlineError(url)), left);
  });
}

/**
 * setTimeout for any delay: Node's timers hold at most 2^31 − 1 ms and fire
 * at once beyond it (a 2,200,000 s deadline gave up immediately), so a longer
 * wait is re-armed in steps. Returns the function that cancels it.
 */
export function longTimeout(fn: () => void, ms: number): () => void {
  const end = Date.now() + ms;
  let t: NodeJS.Timeout;
  const arm = () => {
    const left = end - Date.now();
    t = left > FETCH_LIMITS.maxTimerMs ? setTimeout(arm, FETCH_LIMITS.maxTimerMs) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return () => clearTimeout(t);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
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
 * a dropped connection, or left by an earlier run), verified against the
 * catalogue's MD5 or, for a recompressed copy, the SHA-256 of its content,
 * then renamed to NAME. A corrupt download never appears under the final name.
 */
export async function fetchFile(base: string, dir: string, f: CatalogFile, opts: FetchOptions = {}, deadline = Date.now() + (opts.deadline ?? FETCH_LIMITS.deadlineMs)): Promise<string> {
  const dest = join(dir, f.name);
  const part = `${dest}.part`;
  const url = base.endsWith('/') ? base + f.name : `${base}/${f.name}`;
  const attempts = opts.attempts ?? FETCH_LIMITS.retries + 1;
  // A recompressed copy (another mirror, Debian) differs from the official .gz in size too: with a content digest to check it by, allow for that.
  const maxBytes = f.size === undefined ? FETCH_LIMITS.unknownSizeBytes : f.contentSha256 ? 2 * f.size + 65_536 : f.size;
  const limits: GetLimits = { timeout: opts.timeout ?? FETCH_LIMITS.stallMs, deadline, maxBytes, redirects: 0, onRestart: (had) => opts.onRestart?.(f.name, had) };
  const have = () => (existsSync(part) && statSync(part).isFile() ? statSync(part).size : 0); // a directory or FIFO there keeps no bytes: refused when opened
  const kept = existsSync(part) || isLink(part) ? lstatSync(part) : undefined;
  if (kept && !kept.isFile())
    throw new DataError(`${part}: ${kept.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}, not a download of ours: not writing through it (remove it and run again)`);
  if (have() > limits.maxBytes) rmSync(part, { force: true }); // a bad earlier download, not something to resume
  if (have() > 0) opts.onResume?.(f.name, have());
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
      // Exponential backoff, or the wait the server asked for (Retry-After), within the deadline.
      const backoff = Math.min((opts.backoff ?? FETCH_LIMITS.backoffMs) * 2 ** (attempt - 1), FETCH_LIMITS.maxBackoffMs);
      const asked = e instanceof RetryLaterError ? e.retryAfterMs : undefined;
      if (asked !== undefined && asked > FETCH_LIMITS.maxRetryAfterMs) {
        lastError += `, more than the ${FETCH_LIMITS.maxRetryAfterMs / 1000} s we wait: try again later`;
        break;
      }
      const wait = Math.max(backoff, asked ?? 0);
      if (attempt < attempts && Date.now() + wait < deadline) {
        opts.onRetry?.(f.name, attempt, lastError, have(), wait, attempts);
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
    // Not the official .gz: the same images recompressed (a mirror, Debian) are still right, by the content's SHA-256.
    const content = f.contentSha256 ? contentSha256(readFileSync(part), part) : undefined;
    if (content === undefined || content !== f.contentSha256) {
      rmSync(part, { force: true });
      throw new DataError(
        `${f.name}: checksum mismatch after download (MD5 expected ${f.md5}, got ${md5}${content ? `; SHA-256 of the content expected ${f.contentSha256}, got ${content}` : ''}); the partial file was removed`,
      );
    }
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
  makeDirectories(dir);
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
