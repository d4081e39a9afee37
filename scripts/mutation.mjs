#!/usr/bin/env node
// npm run test:mutation [-- stryker options]: runs Stryker (stryker.config.mjs), then scores its JSON report per
// module with the mutants listed as equivalent there set apart: score = (killed + timed out) / (mutants − equivalent
// − ignored). Prints every survivor that is neither killed nor listed, and exits 1 when there is one.
//   npm run test:mutation -- --mutate src/nn/costs.ts     one file (with the incremental cache: only what changed)
//   node scripts/mutation.mjs --score-only                 score the last report again
//   node scripts/mutation.mjs --report FILE                score another JSON report
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import config, { equivalent } from '../stryker.config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (!args.includes('--score-only') && !args.includes('--report')) {
  const r = spawnSync(process.execPath, [join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// --report FILE scores another JSON report (a run of one module, say) instead.
const at = args.indexOf('--report');
if (at >= 0 && (at + 1 >= args.length || args[at + 1].startsWith('-'))) {
  process.stderr.write('mutation: error: --report needs a FILE (a Stryker JSON report)\n');
  process.exit(2);
}
const reportFile = resolve(root, at >= 0 ? args[at + 1] : config.jsonReporter.fileName);
let report;
try {
  report = JSON.parse(readFileSync(reportFile, 'utf8'));
} catch (e) {
  // A fresh clone has no report yet: say what to run instead of a stack trace.
  const why = e.code === 'ENOENT' ? 'does not exist' : e.code ? `cannot be read (${e.code})` : `is not a JSON report (${e.message})`;
  const hint = at >= 0 ? '' : ': run `npm run test:mutation` first (minutes to an hour), then score it again with --score-only';
  process.stderr.write(`mutation: error: ${reportFile} ${why}${hint}\n`);
  process.exit(2);
}

/** The listed entry whose file matches, whose fragment is on the mutated line, and whose mutated text is on the line as mutated. */
const isEquivalent = (file, line, mutated) => equivalent.find(([f, fragment, rep]) => f === file && line.includes(fragment) && mutated.includes(rep));

const modules = new Map();
const unexplained = [];
const used = new Set();
for (const [file, { source, mutants }] of Object.entries(report.files)) {
  const lines = source.split('\n');
  const mod = file
    .split('/')
    .slice(0, file.startsWith('src/linalg') ? 3 : 2)
    .join('/')
    .replace(/\.ts$/, '');
  const m = modules.get(mod) ?? { killed: 0, survived: 0, equivalent: 0, ignored: 0, total: 0 };
  modules.set(mod, m);
  for (const mu of mutants) {
    m.total++;
    if (mu.status === 'Killed' || mu.status === 'Timeout') m.killed++;
    else if (mu.status === 'Ignored') m.ignored++;
    else {
      const { start, end } = mu.location;
      const line = lines[start.line - 1];
      const mutated = line.slice(0, start.column - 1) + mu.replacement + (end.line === start.line ? line.slice(end.column - 1) : '');
      const eq = isEquivalent(file, line, mutated);
      if (eq) {
        m.equivalent++;
        used.add(eq);
      } else {
        m.survived++;
        unexplained.push(`${mu.status} ${file}:${mu.location.start.line}:${mu.location.start.column} ${mu.mutatorName}: ${line.trim()}  →  ${mutated.trim()}`);
      }
    }
  }
}
const pct = (m) => (100 * m.killed) / (m.total - m.equivalent - m.ignored);
const all = { killed: 0, survived: 0, equivalent: 0, ignored: 0, total: 0 };
console.log('\nmodule                 mutants  killed  survived  equivalent  static   score');
for (const [mod, m] of [...modules].sort()) {
  for (const k of Object.keys(all)) all[k] += m[k];
  console.log(
    `${mod.padEnd(22)} ${String(m.total).padStart(7)} ${String(m.killed).padStart(7)} ${String(m.survived).padStart(9)} ${String(m.equivalent).padStart(11)} ${String(m.ignored).padStart(7)} ${pct(m).toFixed(1).padStart(6)}%`,
  );
}
console.log(
  `${'all'.padEnd(22)} ${String(all.total).padStart(7)} ${String(all.killed).padStart(7)} ${String(all.survived).padStart(9)} ${String(all.equivalent).padStart(11)} ${String(all.ignored).padStart(7)} ${pct(all).toFixed(1).padStart(6)}%`,
);
// Listed entries for a file of this report that matched no survivor: stale (the line changed, or a test now kills it).
const unused = equivalent.filter((e) => e[0] in report.files && !used.has(e));
if (unused.length) console.log(`\nEquivalent entries of stryker.config.mjs that matched no survivor in this report:\n${unused.map((e) => `${e[0]}: ${e[1]}  →  ${e[2]}`).join('\n')}`);
if (unexplained.length) console.log(`\nSurvivors neither killed nor listed as equivalent in stryker.config.mjs:\n${unexplained.join('\n')}`);
process.exit(unexplained.length ? 1 : 0);
