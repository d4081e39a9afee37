import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// npm run test:fast: the inner loop. Every test file that starts no process: not the CLI tests (they spawn
// bin/backprop, which runs dist/, so they also need a build), nor those that run Python or Chromium.
// A file with any such test is left out whole; `npm test` runs everything.
const STARTS_A_PROCESS = /\bcli\(|cliAsync\(|\bBIN\b|spawn|execFile|inChromium|PYTHON/;

const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));

export default defineConfig({
  test: {
    include: files('test').filter((f) => f.endsWith('.test.ts') && !STARTS_A_PROCESS.test(readFileSync(f, 'utf8'))),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/skipped-reporter.ts'],
  },
});
