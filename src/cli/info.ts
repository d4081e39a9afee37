import type { BlasProvider } from '../linalg/blas.js';
import { Command } from 'commander';
import { autoProvider, describePolicy, loadProvider, Matrix, PROVIDERS, type Kernels } from '../linalg/index.js';
import { Output, style } from './output.js';
import { safeText } from '../base/terminal-safe.js';
import { examples } from './options.js';
import { FLOAT64_PROVIDERS, providerFor } from '../linalg/precision.js';

/** Measured float32 GFLOPS of one gemm shape: the first layer of 784-256-… on a batch of 128 (≥ 100 ms and ≥ 3 products after one to warm up, so that `info` stays under a second). */
export function measureGflops(k: Kernels, m = 256, n = 128, kk = 784): number {
  const a = Matrix.zeros(m, kk),
    b = Matrix.zeros(kk, n),
    c = Matrix.zeros(m, n);
  for (let i = 0; i < a.data.length; i++) a.data[i] = Math.sin(i);
  for (let i = 0; i < b.data.length; i++) b.data[i] = Math.cos(i);
  k.gemm(false, false, 1, a, b, 0, c); // warm up
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 100 || runs < 3) {
    k.gemm(false, false, 1, a, b, 0, c);
    runs++;
  }
  return (2 * m * n * kk * runs) / ((performance.now() - t0) / 1000) / 1e9;
}

/** What `info` says about the BLAS: its file, the CPU, the OpenBLAS core and why. */
function blasLines(b: BlasProvider): string[] {
  const lines = [`file: ${b.path}`];
  const c = b.core;
  if (c?.cpu) lines.push(`cpu: ${c.cpu}`);
  if (b.corename) {
    const why = !c ? 'chosen by OpenBLAS' : c.source === 'library' ? `chosen by OpenBLAS (${c.why})` : c.why;
    lines.push(`OpenBLAS core: ${b.corename} — ${why}`);
  }
  if (c?.trials && c.trials.length > 1) {
    for (const t of c.trials) lines.push(`  tried ${t.core ?? "OpenBLAS's own choice"}: ${t.ok ? 'passed' : 'rejected'} (${t.detail})`);
  } else if (c?.trials?.[0]?.ok) lines.push(`  ${c.trials[0].detail}`);
  if (c?.cache)
    lines.push(
      c.cache.unwritable
        ? `  checked now; not cached: ${safeText(c.cache.file)}: ${safeText(c.cache.unwritable)} (the next run checks again)`
        : `  ${c.cache.hit ? 'verdict cached' : 'checked now and cached'} in ${safeText(c.cache.file)} (${c.cache.at})`,
    );
  return lines;
}

function blasJson(b: BlasProvider) {
  return { path: b.path, vendor: b.vendor, corename: b.corename, core: b.core };
}

export function infoCommand(): Command {
  return new Command('info')
    .description('which kernel providers load here, the library found, and their measured GFLOPS')
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['the providers that load here, their GFLOPS and the one --backend auto takes', 'backprop info'],
        ['then train on one of them', 'backprop train --backend wasm'],
      ]),
    )
    .action(async (opts: { json: boolean }) => {
      const out = new Output(opts.json);
      out.line(`${style.bold('backprop')} on Node ${process.version} (${process.platform}-${process.arch})`);
      out.line(`kernel providers, in the order --backend auto tries them (a BLAS not known to be tuned, or an OpenBLAS on pre-AVX2 kernels, after wasm; gemm 256x784 · 784x128, float32):`);
      const providers = [];
      const chosen = (await autoProvider()).name;
      for (const name of PROVIDERS) {
        const r = await loadProvider(name);
        if ('error' in r) {
          out.line(`  ${name.padEnd(11)} ${style.dim('not available: ' + r.error)}`);
          providers.push({ name, available: false, error: r.error });
        } else {
          const gflops = measureGflops(r.kernels);
          const detail = [r.detail, r.demoted].filter(Boolean).join('; ');
          out.line(`  ${name.padEnd(11)} ${style.good(gflops.toFixed(1).padStart(7) + ' GFLOPS')}${detail ? '  ' + style.dim(detail) : ''}${chosen === name ? '  ← auto' : ''}`);
          const threads = r.threads && describePolicy(r.threads);
          if (threads) out.line(style.dim(`              threads: ${threads}`));
          if (r.blas) for (const l of blasLines(r.blas)) out.line(style.dim(`              ${l}`));
          providers.push({ name, available: true, gflops, detail: r.detail, demoted: r.demoted, threads, ...(r.blas && blasJson(r.blas)) });
        }
      }
      const float64 = (await providerFor('auto', 'float64')).provider.name;
      out.line(`--dtype float64 runs on ${float64} (${PROVIDERS.filter((p) => !FLOAT64_PROVIDERS.includes(p)).join(' and ')} compute float32 only)`);
      out.result({ command: 'info', node: process.version, platform: `${process.platform}-${process.arch}`, auto: chosen, float64, providers });
    });
}
