// Every shell command shown in README.md and docs/ runs as written (or as its doc-test comment says):
// scripts/doc-commands.mjs extracts and runs them; here, first the extractor itself on small documents
// whose outcome is known, then each real document in turn.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const SCRIPT = join(ROOT, 'scripts', 'doc-commands.mjs');

interface BlockResult {
  where: string;
  status: 'passed' | 'failed' | 'skipped';
  exit?: number;
  reason?: string;
  output?: string;
  script?: string;
}

function runScript(args: string[]): { status: number | null; results: BlockResult[]; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, '--json', ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, results: r.stdout.trim() ? (JSON.parse(r.stdout) as BlockResult[]) : [], stderr: r.stderr };
}

function doc(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'backprop-doctest-')), 'doc.md');
  writeFileSync(file, text);
  return file;
}

const fence = (lang: string, body: string): string => '```' + lang + '\n' + body + '\n```\n';

describe('scripts/doc-commands.mjs', () => {
  it('runs sh and bash blocks in order in one scratch directory, never untagged ones, and fails on a non-zero exit', () => {
    const file = doc(
      [
        '# t',
        fence('sh', 'echo one > f'),
        fence('', 'false'),
        fence('bash', 'test -f f && test -e test/fixtures/digit-7.png'),
        '- a list',
        '',
        '  ' + fence('sh', 'false').replace(/\n(?=.)/g, '\n  '),
      ].join('\n'),
    );
    const r = runScript([file]);
    expect(r.results.map((b) => b.status)).toEqual(['passed', 'passed', 'failed']);
    const listed = readFileSync(file, 'utf8').split('\n').indexOf('  ```sh') + 1; // the fence of the block in the list
    expect(r.results[2].where).toMatch(new RegExp(`doc\\.md:${listed}$`));
    expect(r.status).toBe(1);
  });

  it('puts this checkout first on PATH, so `backprop` is its bin/backprop', () => {
    const r = runScript([doc(fence('sh', 'test "$(readlink -f "$(command -v backprop)")" = "$(readlink -f bin/backprop)"\nbackprop --version'))]);
    expect(r.results.map((b) => b.status)).toEqual(['passed']);
    expect(r.status).toBe(0);
  });

  it('skips a block marked skip, or whose needs are missing, and expects the status of exit N', () => {
    const text = [
      '<!-- doc-test: skip (would fail) -->',
      fence('sh', 'false'),
      '<!-- doc-test: needs /no/such/path -->',
      '',
      fence('sh', 'false'),
      '<!-- doc-test: exit 3 -->',
      fence('sh', 'exit 3'),
      '<!-- doc-test: exit 3 -->',
      fence('sh', 'true'),
    ].join('\n');
    const r = runScript([doc(text)]);
    expect(r.results.map((b) => [b.status, b.reason ?? b.exit])).toEqual([
      ['skipped', 'would fail'],
      ['skipped', 'needs /no/such/path'],
      ['passed', 3],
      ['failed', 0],
    ]);
  });

  it('quick replaces the listed flags where given and adds them to train, compare and learners only', () => {
    const block = fence('sh', 'backprop train --epochs 20 \\\n  --hidden 5 --save m.safetensors\nbackprop summary --model m.safetensors\nbackprop compare --lr=3 | tail -1');
    const r = spawnSync(process.execPath, [SCRIPT, '--list', '--json', doc('<!-- doc-test: quick --epochs 1 --lr 0.5 -->\n' + block)], { encoding: 'utf8' });
    const [listed] = JSON.parse(r.stdout) as { runs: string }[];
    expect(listed.runs).toBe('backprop train --lr 0.5 --epochs 1 --hidden 5 --save m.safetensors\nbackprop summary --model m.safetensors\nbackprop compare --epochs 1 --lr=0.5 | tail -1');
  });

  it('refuses an unknown directive (exit 2, naming the line)', () => {
    const r = runScript([doc('\n<!-- doc-test: slow -->\n' + fence('sh', 'true'))]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/doc\.md:2: doc-test: unknown directive "slow"/);
  });
});

const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : []));

describe('the commands of README.md and docs/ run as written', () => {
  for (const file of [join(ROOT, 'README.md'), ...files(join(ROOT, 'docs')).sort()]) {
    it(relative(ROOT, file), { timeout: 600_000 }, () => {
      const r = runScript([file]);
      const failed = r.results.filter((b) => b.status === 'failed');
      expect(failed.map((b) => `${b.where}: exit ${b.exit}\n${b.script}\n${b.output}`).join('\n\n') + r.stderr.trim()).toBe('');
      expect(r.status).toBe(0);
    });
  }
});
