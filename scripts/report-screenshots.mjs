#!/usr/bin/env node
// Regenerates the screenshots of the HTML reports in docs/: runs each report's command with this checkout's
// bin/backprop in a scratch directory, then photographs the page in the system's headless Chromium (as
// scripts/screenshot.mjs does). Needs `npm run build` first and /usr/bin/chromium (or $CHROMIUM_PATH).
//   node scripts/report-screenshots.mjs                   all three (learners takes a minute or two)
//   node scripts/report-screenshots.mjs --only train,compare
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Each report: the command that writes it (report.html in the scratch directory) and where its picture goes. */
export const REPORTS = {
  train: { args: ['train', '--hidden', '64', '--epochs', '12', '--early-stop', '3', '--schedule', 'cosine', '--monitor'], png: 'docs/train-report.png' },
  compare: { args: ['compare', '--every', '100'], png: 'docs/compare-report.png' },
  learners: { args: ['learners'], png: 'docs/learners-report.png' },
};
const WIDTH = 1160;

const argv = process.argv.slice(2);
const at = argv.indexOf('--only');
const names = at >= 0 ? (argv[at + 1] ?? '').split(',') : Object.keys(REPORTS);
const unknown = names.find((n) => !(n in REPORTS));
if (unknown !== undefined || argv.some((a, i) => a !== '--only' && i !== at + 1)) {
  console.error(`usage: node scripts/report-screenshots.mjs [--only ${Object.keys(REPORTS).join(',')}]`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'backprop-screenshots-'));
try {
  for (const name of names) {
    const { args, png } = REPORTS[name];
    const html = join(dir, `${name}.html`);
    const cmd = [join(ROOT, 'bin', 'backprop'), ...args, '--report', html, '-q'];
    console.error(`$ backprop ${[...args, '--report', `${name}.html`].join(' ')}`);
    const run = spawnSync(process.execPath, cmd, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    if (run.status !== 0) throw new Error(`backprop ${args[0]} exited ${run.status ?? run.signal}`);
    const shot = spawnSync(process.execPath, [join(ROOT, 'scripts', 'screenshot.mjs'), html, join(ROOT, png), String(WIDTH)], { stdio: 'inherit' });
    if (shot.status !== 0) throw new Error(`screenshot of ${name}.html failed`);
    console.error(`  → ${png}`);
  }
} catch (e) {
  console.error(`report-screenshots: error: ${e.message}`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
