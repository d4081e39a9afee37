import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gb } from '../../src/data/limits.js';
import { gaMemory } from '../../src/learners/ga.js';
import { totalBytes } from '../../src/learners/harness.js';
import { cli, needs, SYSTEM } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'learners-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Point {
  seconds: number;
  work: number;
  testAccuracy: number;
}
interface Run {
  name: string;
  testAccuracy: number;
  work: number;
  parametersUpdated: number;
  trace: Point[];
}

describe('backprop learners', () => {
  // (Here, not in memory.test.ts, whose in-process tests Stryker runs: it has no dist/ to spawn.)
  it('a refusal prints the estimate and this machine’s memory in the same decimal units (10⁹ bytes)', () => {
    const r = cli(['learners', '--learners', 'ga', '--population', '100000000', '--limit', '100', '--test-limit', '100']);
    expect(r.code).toBe(2);
    const need = totalBytes(gaMemory([784, 10], 100000000, 100)); // the learners' default network is 784-10; the batch capped at 100 examples
    expect(r.stderr).toContain(`needs about ${gb(need)} (estimated), more than half of this machine's ${gb(totalmem())}`);
  });
  it('runs sgd, ga and ntk on the same data: one JSON result, a report, and the work ratio computed from the traces', () => {
    const report = join(dir, 'learners.html');
    const r = cli(['learners', '--limit', '600', '--test-limit', '300', '--epochs', '1', '--generations', '40', '--population', '20', '--json', '--report', report]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { learners: Run[]; workRatio: { target: number; ga: number; sgd: number | null; ratio: number | null } };
    expect(out.learners.map((l) => l.name)).toEqual(['sgd', 'ga', 'ntk']);
    const [sgd, ga, ntk] = out.learners;
    expect(ntk.parametersUpdated).toBe(0);
    expect(ntk.work).toBe((600 * 601) / 2 + 300 * 600); // kernel entries computed: the lower triangle of the training kernel, and the test rows
    expect(ntk.testAccuracy).toBeGreaterThan(0.85);
    expect(sgd.parametersUpdated).toBe(784 * 10 + 10);
    expect(ga.parametersUpdated).toBe(20 * (784 * 10 + 10));
    expect(ga.work).toBe(40 * 20 * 256); // generations × population × fitness batch
    // The ratio line: GA's work over SGD's first trace point at GA's final accuracy.
    const hit = sgd.trace.find((p) => p.testAccuracy >= ga.testAccuracy);
    expect(out.workRatio.target).toBe(ga.testAccuracy);
    expect(out.workRatio.sgd).toBe(hit ? hit.work : null);
    if (hit) expect(out.workRatio.ratio).toBeCloseTo(ga.work / hit.work, 6);
    // Human text on stderr with --json: the table and a sparkline per learner.
    expect(r.stderr).toMatch(/learner\s+test acc\s+wall time/);
    for (const l of out.learners) expect(r.stderr).toMatch(new RegExp(`^  ${l.name}\\s+[▁▂▃▄▅▆▇█]{32}`, 'm'));
    const html = readFileSync(report, 'utf8');
    expect(html.match(/<svg/g)?.length).toBe(2);
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org|vega\.github\.io)/);
  }, 180_000);

  it('sgd trains conv layers on the embedded 28×28 digits (refused as "no rows × cols shape" before), with their parameters counted', () => {
    const r = cli(['learners', '--learners', 'sgd', '--hidden', 'conv3x3x2,pool2,10', '--limit', '600', '--test-limit', '200', '--epochs', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [sgd] = (JSON.parse(r.stdout) as { learners: Run[] }).learners;
    expect(sgd.parametersUpdated).toBe(2 * 9 + 2 + (13 * 13 * 2 * 10 + 10) + (10 * 10 + 10)); // 3×3 kernels of 2 channels, 2×2 pooling of 26×26, 10 units, 10 outputs
    // the same network, seed, batches and steps as train's
    const train = cli(['train', '--hidden', 'conv3x3x2,pool2,10', '--limit', '600', '--test-limit', '200', '--epochs', '2', '--json']);
    expect(train.code, train.stderr).toBe(0);
    expect(sgd.testAccuracy).toBe((JSON.parse(train.stdout) as { testAccuracy: number }).testAccuracy);
    expect(r.stderr).toMatch(/SGD \+ backprop 784-338-10-10:/);
  }, 120_000);

  const bad: [string[], RegExp][] = [
    [['--learners', 'sgd,foo'], /--learners.*"foo" is not a learner/],
    [['--learners', 'sgd', '--lr', '0'], /--lr.*positive number/],
    [['--learners', 'sgd', '--batch-size', '2.5'], /--batch-size.*positive integer/],
    [['--learners', 'ga', '--elite', '50'], /--elite 50 must be smaller than --population 50/],
    [['--learners', 'ga', '--population', '1'], /--population 1/],
    [['--learners', 'ga', '--mutation-rate', '2'], /--mutation-rate.*probability/],
    [['--learners', 'ga', '--sigma', 'x'], /--sigma.*positive number/],
    [['--learners', 'ga', '--tournament', '60'], /--tournament 60 must not exceed --population 50/],
    [['--learners', 'ntk', '--ridge', '-1'], /--ridge.*positive number/],
    [['--learners', 'ntk', '--hidden', '10', '--activation', 'sigmoid'], /--activation sigmoid: .*ReLU/],
    [['--learners', 'ntk', '--kernel-limit', '0'], /--kernel-limit.*positive integer/],
    [['--learners', 'ntk', '--kernel-limit', '100000', '--data', 'fashion-mnist'], /--kernel-limit 100000: .*GB/],
    // one example, one class: its fit predicted that class everywhere, reported as 4.00%, exit 0
    [
      ['--learners', 'sgd,ntk', '--kernel-limit', '1', '--limit', '300', '--test-limit', '100'],
      /^backprop: error: --kernel-limit 1: the first training example has no example of classes 1, 2, 3, 4, 5, 6, 7, 8, 9, and kernel regression on one-hot targets never predicts a class it did not see; use --kernel-limit \d+ or more/,
    ],
    [
      ['--learners', 'ntk', '--kernel-limit', '15', '--limit', '300'],
      /^backprop: error: --kernel-limit 15: the first 15 training examples have no example of class 8, .*; use --kernel-limit \d+ or more/,
    ],
    [['--seconds', '0'], /--seconds.*positive number/],
    [['--learners', 'sgd', '--population', '3'], /--population is an option of the ga learner, which --learners sgd does not run/],
    [['--learners', 'sgd,ga', '--filters', 'f.png'], /--filters is an option of the rbm learner/],
  ];
  for (const [args, message] of bad)
    it(`${args.join(' ')}: one line, exit 2, nothing run`, (ctx) => {
      if (args.includes('fashion-mnist')) needs(ctx, SYSTEM.fashionMnist);
      const r = cli(['learners', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
});
