#!/usr/bin/env node
// Runs every shell command shown in README.md and docs/**/*.md, so a stale example fails the build.
//
// What runs: each fenced block tagged ```sh or ```bash (indented ones in lists too). A block without a
// language tag is an output or a transcript (`$ backprop …` followed by what it printed) and never runs.
// The blocks of one document run in order, each with `bash -e -o pipefail`, in one scratch directory of
// their own: a block may use what an earlier block of the same document wrote (runs/model.safetensors).
// The scratch directory links this checkout's bin, dist, assets, node_modules, package.json, scripts, test and
// datasets (read-only material the commands name, such as test/fixtures/digit-7.png), and PATH starts with
// this checkout's bin, so `backprop` is the checkout's bin/backprop, as the README's set-up makes it.
//
// An HTML comment on the line before a block (blank lines between are allowed) changes how it runs:
//   <!-- doc-test: skip (why) -->            not run
//   <!-- doc-test: quick --flag value … -->  each listed flag's value replaces the one given in each `backprop`
//                                            command of the block (--epochs 20 becomes --epochs 1); a command
//                                            of train, compare or learners that lacks the flag gets it
//   <!-- doc-test: exit N -->                the block must exit with status N (default 0)
//   <!-- doc-test: needs PATH -->            skipped, with the reason, when PATH does not exist
// Several may be combined in one comment, separated by ";".
//
// Usage: node scripts/doc-commands.mjs [--list] [--json] [FILE.md …]   (default: README.md and docs/**/*.md)
// Exit 0 when every block that ran exited as expected, 1 otherwise, 2 for a bad directive.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LINKED = ['bin', 'dist', 'assets', 'node_modules', 'package.json', 'scripts', 'test', 'datasets'];
/** Commands that take train's data and length flags: a quick flag they lack is added to them. */
const QUICK_ADDS_TO = new Set(['train', 'compare', 'learners']);
/** How long one block may run before it counts as failed. */
const BLOCK_TIMEOUT_MS = 300_000;

/** README.md and every .md under docs/, in a stable order. */
export function documents(root = ROOT) {
  const found = [join(root, 'README.md')];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) found.push(join(dir, e.name));
    }
  };
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'));
  return found;
}

/** Parses a doc-test comment's body into { skip, quick: [[flag, value]], exit, needs }; throws on anything else. */
export function parseDirective(text) {
  const d = { skip: null, quick: null, exit: 0, needs: [] };
  for (const part of text
    .split(/;(?=\s*(?:skip|quick|exit|needs)\b)/)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [word, ...rest] = part.split(/\s+/);
    if (word === 'skip') d.skip = rest.join(' ').replace(/^\((.*)\)$/, '$1') || 'marked skip';
    else if (word === 'exit' && rest.length === 1 && /^\d+$/.test(rest[0])) d.exit = Number(rest[0]);
    else if (word === 'needs' && rest.length === 1) d.needs.push(rest[0]);
    else if (word === 'quick') {
      if (rest.length % 2 !== 0) throw new Error(`doc-test: quick takes --flag value pairs, got "${rest.join(' ')}"`);
      d.quick = [];
      for (let i = 0; i < rest.length; i += 2) {
        if (!/^--[a-z][a-z0-9-]*$/.test(rest[i])) throw new Error(`doc-test: quick: "${rest[i]}" is not a --flag`);
        d.quick.push([rest[i], rest[i + 1]]);
      }
    } else throw new Error(`doc-test: unknown directive "${part}" (skip, quick, exit, needs)`);
  }
  return d;
}

/** The runnable blocks of one markdown text: { line, code, directive }, line being the fence's (1-based). */
export function extractBlocks(markdown, file = '<markdown>') {
  const lines = markdown.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, ticks, lang] = open;
    let end = i + 1;
    while (end < lines.length && !(lines[end].trim() === ticks && lines[end].startsWith(indent))) end++;
    if (lang === 'sh' || lang === 'bash') {
      let j = i - 1;
      while (j >= 0 && lines[j].trim() === '') j--;
      const comment = j >= 0 ? /^\s*<!--\s*doc-test:(.*?)-->\s*$/.exec(lines[j]) : null;
      let directive;
      try {
        directive = parseDirective(comment ? comment[1] : '');
      } catch (e) {
        throw new Error(`${file}:${j + 1}: ${e.message}`);
      }
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
        .join('\n');
      blocks.push({ line: i + 1, code, directive });
    }
    i = end;
  }
  return blocks;
}

/**
 * The block as it runs under `quick`: in each `backprop SUBCOMMAND …` command (continuation lines joined),
 * a listed flag's value is replaced where the flag is given (`--flag v` or `--flag=v`), and the flag is
 * inserted right after the subcommand of train, compare and learners where it is not.
 */
export function applyQuick(code, quick) {
  if (!quick || quick.length === 0) return code;
  const joined = code.replace(/\\\n\s*/g, '');
  return joined
    .split('\n')
    .map((line) =>
      line.replace(/\bbackprop\s+([a-z]+)([^|;&#>]*)/g, (whole, sub, args) => {
        let rest = args;
        const added = [];
        for (const [flag, value] of quick) {
          const re = new RegExp(`(^|\\s)${flag}(\\s+|=)("[^"]*"|'[^']*'|\\S+)`, 'g');
          if (re.test(rest)) rest = rest.replace(re, (_m, pre, sep) => `${pre}${flag}${sep}${value}`);
          else if (QUICK_ADDS_TO.has(sub)) added.push(flag, value);
        }
        return `backprop ${sub}${added.length ? ' ' + added.join(' ') : ''}${rest}`;
      }),
    )
    .join('\n');
}

/** A scratch directory holding links to this checkout's read-only material. */
export function scratchDir(root = ROOT) {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-doc-'));
  for (const name of LINKED) if (existsSync(join(root, name))) symlinkSync(join(root, name), join(dir, name));
  return dir;
}

/** Runs one document's blocks in order in one scratch directory; returns one result per block. */
export function runDocument(file, { root = ROOT, log = () => {} } = {}) {
  const blocks = extractBlocks(readFileSync(file, 'utf8'), relative(root, file));
  const results = [];
  if (blocks.length === 0) return results;
  const cwd = scratchDir(root);
  const env = { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  try {
    for (const b of blocks) {
      const where = `${relative(root, file)}:${b.line}`;
      const missing = b.directive.needs.find((p) => !existsSync(p));
      if (b.directive.skip !== null || missing) {
        results.push({ where, status: 'skipped', reason: b.directive.skip ?? `needs ${missing}` });
        log(`skip ${where}: ${b.directive.skip ?? `needs ${missing}`}`);
        continue;
      }
      const script = applyQuick(b.code, b.directive.quick);
      const started = Date.now();
      const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd, env, encoding: 'utf8', timeout: BLOCK_TIMEOUT_MS, maxBuffer: 64 << 20 });
      const code = r.status ?? (r.signal ? 128 : 1);
      const ok = r.status === b.directive.exit;
      const result = { where, status: ok ? 'passed' : 'failed', exit: code, expected: b.directive.exit, seconds: (Date.now() - started) / 1000, script };
      if (!ok) result.output = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-15).join('\n') + (r.error ? `\n${r.error.message}` : '');
      results.push(result);
      log(`${ok ? 'ok  ' : 'FAIL'} ${where} (exit ${code}${ok ? '' : `, expected ${b.directive.exit}`}, ${result.seconds.toFixed(1)} s)`);
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  return results;
}

function main(argv) {
  const list = argv.includes('--list');
  const json = argv.includes('--json');
  const unknown = argv.find((a) => a.startsWith('-') && a !== '--list' && a !== '--json');
  if (unknown) {
    process.stderr.write(`doc-commands: error: unknown option ${unknown} (--list, --json, FILE.md …)\n`);
    return 2;
  }
  const files = argv.filter((a) => !a.startsWith('-')).map((f) => resolve(f));
  const docs = files.length ? files : documents();
  const log = json ? () => {} : (s) => process.stderr.write(s + '\n');
  try {
    if (list) {
      const all = docs.flatMap((f) =>
        extractBlocks(readFileSync(f, 'utf8'), relative(ROOT, f)).map((b) => ({ where: `${relative(ROOT, f)}:${b.line}`, ...b.directive, runs: applyQuick(b.code, b.directive.quick) })),
      );
      if (json) process.stdout.write(JSON.stringify(all) + '\n');
      else
        for (const b of all)
          process.stdout.write(
            `${b.where}  ${b.skip !== null ? `skip (${b.skip})` : b.quick ? `quick ${b.quick.flat().join(' ')}` : 'as written'}${b.exit ? `, exit ${b.exit}` : ''}\n${b.skip !== null ? '' : b.runs.replace(/^/gm, '    ') + '\n'}`,
          );
      return 0;
    }
    const results = docs.flatMap((f) => runDocument(f, { log }));
    const failed = results.filter((r) => r.status === 'failed');
    if (json) process.stdout.write(JSON.stringify(results) + '\n');
    for (const f of failed) log(`\n${f.where}: exit ${f.exit}, expected ${f.expected}\n  ran: ${f.script.replace(/\n/g, '\n       ')}\n${f.output.replace(/^/gm, '  | ')}`);
    log(`${results.filter((r) => r.status === 'passed').length} blocks passed, ${failed.length} failed, ${results.filter((r) => r.status === 'skipped').length} skipped`);
    return failed.length ? 1 : 0;
  } catch (e) {
    process.stderr.write(`doc-commands: error: ${e.message}\n`);
    return 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
