import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, during } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-lrf-'));
const SMALL = ['--limit', '800', '--test-limit', '100', '--hidden', '16', '--backend', 'js'];

describe('backprop lr-find', () => {
  it('sweeps η, suggests the steepest descent (a point it ran), plots it in the terminal and in --report, and --json holds every point', () => {
    const report = join(tmp(), 'lr.html');
    const r = cli(['lr-find', ...SMALL, '--start-lr', '1e-4', '--end-lr', '100', '--steps', '120', '--divergence', '1.5', '--report', report, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.command).toBe('lr-find');
    expect(j.points.length).toBeGreaterThan(20);
    expect(j.points[0].lr).toBe(1e-4);
    expect(j.stopped.why).toBe('diverged'); // past η ≈ 1 the cost climbs above 1.5 times its lowest long before η 100
    expect(j.points.at(-1).smoothed).toBeGreaterThan(1.5 * Math.min(...j.points.slice(0, -1).map((p: { smoothed: number }) => p.smoothed)));
    expect(j.points.some((p: { lr: number }) => p.lr === j.suggestedLr)).toBe(true);
    expect(j.steepest.step).toBeLessThanOrEqual(j.lowest.step);
    expect(j.config).toMatchObject({ layers: '784,16,10', lr: j.suggestedLr, optimizer: 'sgd' });
    expect(j.config.epochs).toBeUndefined();
    expect(r.stderr).toMatch(/^ {2}[▁▂▃▄▅▆▇█]+ {2}smoothed loss /m);
    expect(r.stderr).toMatch(new RegExp(`^ *\\^ η ${j.suggestedLr.toPrecision(2).replace('.', '\\.')}$`, 'm'));
    expect(r.stderr).toMatch(new RegExp(`suggested η ${j.suggestedLr.toPrecision(2).replace('.', '\\.')} \\(steepest descent`));
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/<svg/);
    expect(html).toContain(`steepest descent: η ${j.suggestedLr.toPrecision(2)}`);
  }, 60_000);

  it("takes train's network, data and optimizer flags (the same declarations), not its run-length or output flags", () => {
    const help = cli(['lr-find', '--help']).stdout;
    for (const flag of ['--data', '--hidden', '--layers', '--init', '--init-from', '--batch-size', '--weight-decay', '--optimizer', '--momentum', '--dropout', '--augment', '--seed', '--dtype'])
      expect(help).toContain(flag);
    for (const flag of ['--epochs', '--lr <', '--schedule', '--early-stop', '--validation', '--save', '--log', '--checkpoint']) expect(help).not.toContain(flag);
    // train's checks, from the same code: a network without hidden layers has nothing to drop.
    const r = cli(['lr-find', '--layers', '784,10', '--dropout', '0.5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(cli(['train', '--layers', '784,10', '--dropout', '0.5']).stderr);
    const bad = cli(['lr-find', '--start-lr', '1', '--end-lr', '0.1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('backprop: error: --start-lr 1: it must be below --end-lr 0.1\n');
  }, 60_000);

  // end/start overflowed to ∞: from 1e-300 to 1e300 every η after the first was ∞ ("the loss was not finite at η
  // Infinity (mini-batch 3)"), and from 1e-200 to 1e200 step 2 was printed as "lr": null.
  it('η from 1e-200 to 1e200: every η finite and where the log axis puts it; no number of the JSON is null', () => {
    const r = cli(['lr-find', ...SMALL, '--start-lr', '1e-200', '--end-lr', '1e200', '--steps', '10', '--json', '-q']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.points[0].lr).toBe(1e-200);
    expect(Math.abs(j.points[1].lr / 10 ** (-200 + 400 / 9) - 1)).toBeLessThan(1e-12); // 2.78e-156
    for (const p of [...j.points, ...(j.stopped ? [j.stopped] : [])]) expect(Number.isFinite(p.lr), JSON.stringify(p)).toBe(true);
    for (const p of j.points) expect([p.loss, p.smoothed].every(Number.isFinite), JSON.stringify(p)).toBe(true);
    expect(r.stdout).not.toMatch(/"(lr|loss|smoothed|step)": null/);
    const wide = cli(['lr-find', ...SMALL, '--start-lr', '1e-300', '--end-lr', '1e300']);
    expect(wide.code, wide.stderr).toBe(0);
    expect(wide.stderr).not.toMatch(/Infinity|NaN/);
  }, 60_000);

  it('with adam, the same seed gives the same points', () => {
    const args = ['lr-find', ...SMALL, '--optimizer', 'adam', '--start-lr', '1e-5', '--end-lr', '1', '--steps', '40', '--json', '-q'];
    const a = JSON.parse(cli(args).stdout);
    expect(a.points).toHaveLength(40);
    expect(JSON.parse(cli(args).stdout).points).toEqual(a.points);
    expect(a.config.optimizer).toBe('adam');
  }, 60_000);
});

// A test far longer than the wait before the signal: 5,000 mini-batches of a 784-300-10 net, η kept low so that it never diverges.
const LONG = ['lr-find', '--limit', '5000', '--hidden', '300', '--steps', '5000', '--end-lr', '0.01', '--json'];

describe('lr-find: signals stop the test and keep what ran (as train and learners)', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    it(`${sig}: exit ${code}, the interrupted line, the curve so far in --json and --report, and the suggestion or that there is none`, async () => {
      const report = join(tmp(), 'lr.html');
      const r = await during([...LONG, '--report', report], /backprop lr-find/, 1500, [sig]);
      expect(r.code, r.stderr).toBe(code);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ command: 'lr-find', interrupted: true, signal: sig, report });
      expect(j.points.length).toBeGreaterThan(0);
      expect(j.points.length).toBeLessThan(5000);
      expect(j.points.map((p: { step: number }) => p.step)).toEqual(j.points.map((_: unknown, i: number) => i + 1));
      const n = j.points.length;
      expect(r.stderr).toMatch(
        new RegExp(`^interrupted${sig === 'SIGINT' ? '' : ` by ${sig}`} after ${n} of 5000 mini-batches \\(η up to [\\d.e-]+\\): the curve and the suggestion are of those$`, 'm'),
      );
      if (j.suggestedLr === null) expect(r.stderr).toMatch(new RegExp(`^no suggestion: the ${n} mini-batches run before the interruption show no fall`, 'm'));
      else expect(r.stderr).toMatch(/^suggested η /m);
      expect(r.stderr).not.toMatch(/error/);
      expect(readFileSync(report, 'utf8')).toContain(`(${n} run, then interrupted)`);
    }, 60_000);

  it('a second signal exits at once: no JSON, no report', async () => {
    const report = join(tmp(), 'lr.html');
    const r = await during([...LONG, '--report', report], /backprop lr-find/, 1500, ['SIGTERM', 'SIGINT']); // two different signals: the same one twice may merge while pending
    expect([130, 143], r.stderr).toContain(r.code);
    expect(r.stdout).toBe('');
    expect(existsSync(report)).toBe(false);
  }, 60_000);
});
