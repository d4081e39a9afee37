// train --report's description names only the sets that exist: no "0 validation" without a validation split.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../helpers.js';

it('train --report without a validation split does not mention one; with --early-stop it marks the kept epoch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-train-report-'));
  const plain = cli(['train', '--epochs', '1', '--limit', '500', '--test-limit', '200', '--report', join(dir, 'a.html')]);
  expect(plain.code, plain.stderr).toBe(0);
  expect(readFileSync(join(dir, 'a.html'), 'utf8')).toContain('500 training and 200 test examples');
  const early = cli(['train', '--epochs', '6', '--early-stop', '1', '--limit', '500', '--test-limit', '200', '--report', join(dir, 'b.html'), '--json']);
  expect(early.code, early.stderr).toBe(0);
  const kept = (JSON.parse(early.stdout) as { earlyStop: { bestEpoch: number } }).earlyStop.bestEpoch;
  const html = readFileSync(join(dir, 'b.html'), 'utf8');
  expect(html).toMatch(/\d+ training, \d+ validation and 200 test examples/);
  expect(html).toContain(`kept: epoch ${kept}`);
});
