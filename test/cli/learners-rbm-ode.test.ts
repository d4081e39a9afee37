import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';

describe('backprop learners: rbm and ode', () => {
  it('runs both on a small subset: JSON for each, the filters PNG, and the report with the filters inline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'learners-'));
    const png = join(dir, 'filters.png'),
      html = join(dir, 'r.html');
    const r = cli([
      'learners',
      '--learners',
      'rbm,ode',
      '--limit',
      '400',
      '--test-limit',
      '100',
      '--json',
      '--rbm-hidden',
      '20',
      '--rbm-epochs',
      '1',
      '--cd-k',
      '2',
      '--filters',
      png,
      '--ode-width',
      '8',
      '--ode-hidden',
      '8',
      '--ode-epochs',
      '1',
      '--solver',
      'dopri5',
      '--rtol',
      '1e-2',
      '--atol',
      '1e-3',
      '--report',
      html,
    ]);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { learners: { name: string; testAccuracy: number; work: number; details: Record<string, number | string> }[] };
    expect(out.learners.map((l) => l.name)).toEqual(['rbm', 'ode']);
    const [rbm, ode] = out.learners;
    expect(rbm.details['CD steps']).toBe(2);
    expect(rbm.work).toBe(400 * (1 + 2 * 2)); // one epoch of 400, CD-2: 1 + 2k passes an example
    expect(ode.details.solver).toBe('dopri5');
    expect(ode.details['f evaluations backward']).toBeGreaterThan(0);
    // 20 filters on 10 per row, then 10 digits and their reconstructions
    const img = PNG.sync.read(readFileSync(png));
    expect([img.width, img.height]).toEqual([291, 4 * 29 + 1 + 2 * 4]);
    const report = readFileSync(html, 'utf8');
    expect(report).toContain('RBM: learned filters and reconstructions');
    expect(report).toContain(`data:image/png;base64,${readFileSync(png).toString('base64')}`);
    expect(report).not.toMatch(/<script|https?:\/\/(?!vega\.github\.io\/schema|www\.w3\.org)/);
  });

  it.each([
    [['--cd-k', '0'], /--cd-k <k>' argument '0' is invalid/],
    [['--rbm-momentum', '1'], /--rbm-momentum <mu>' argument '1' is invalid/],
    [['--solver', 'euler'], /expected one of rk4, dopri5/],
    [['--ode-gradient', 'magic'], /expected one of adjoint, unrolled/],
    [['--rtol', '-1'], /--rtol <r>' argument '-1' is invalid/],
    [['--learners', 'ode', '--solver', 'dopri5', '--rtol', '1e-30'], /--rtol 1e-30: the ode learner trains in float32, use --rtol ≥ 1e-6/],
    [['--learners', 'rbm', '--filters', '/nonexistent-dir/f.png'], /--filters \/nonexistent-dir\/f.png: the directory \/nonexistent-dir does not exist/],
  ])('%j exits 2 with one line', (args, message) => {
    const r = cli(['learners', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
