// scripts/mutation.mjs --score-only in a fresh clone (no report yet) said so with a stack trace; now one line, exit 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const score = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'scripts', 'mutation.mjs'), ...args], { cwd: ROOT, encoding: 'utf8' });

it('a missing or broken report is one line naming it, exit 2, no stack trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-mutation-'));
  const missing = score('--report', join(dir, 'none.json'));
  expect(missing.stderr).toBe(`mutation: error: ${join(dir, 'none.json')} does not exist\n`);
  expect(missing.status).toBe(2);
  writeFileSync(join(dir, 'bad.json'), '{');
  const bad = score('--report', join(dir, 'bad.json'));
  expect(bad.stderr).toMatch(/^mutation: error: .*bad\.json is not a JSON report \(.*\)\n$/);
  expect(bad.status).toBe(2);
  expect(score('--report').stderr).toBe('mutation: error: --report needs a FILE (a Stryker JSON report)\n');
});
