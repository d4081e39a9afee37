import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';

// train's flags for label smoothing, clipping, the new schedules and optimizers: refusals, the progress line,
// the run log, --json's config read back by --config (from the JSON and from the saved model), and the report.

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-reg-'));
const small = ['train', '--limit', '500', '--test-limit', '200', '--epochs', '2'];

describe('refused in one line, exit 2', () => {
  it.each([
    [['--label-smoothing', '1'], /--label-smoothing <eps>' argument '1' is invalid.*not including\) 1/],
    [['--label-smoothing', '0.1', '--cost', 'quadratic', '--output-activation', 'sigmoid'], /^backprop: error: --label-smoothing 0\.1: label smoothing .*--cost quadratic has none/],
    [['--clip-norm', '0'], /--clip-norm/],
    [['--clip-value', '-1'], /--clip-value/],
    [['--eta-min', '0.01'], /--eta-min 0\.01: it belongs to --schedule cosine, not --schedule constant/],
    [['--schedule', 'onecycle', '--warmup', '2'], /--warmup 2: --schedule onecycle rises .* on its own/],
    [['--schedule', 'onecycle', '--pct-start', '0'], /--pct-start 0/],
    [['--schedule', 'cosine', '--pct-start', '0.2'], /--pct-start 0\.2: it belongs to --schedule onecycle/],
    [['--schedule', 'plateau', '--schedule-unit', 'step'], /--schedule-unit step: --schedule plateau watches the validation metric/],
    [['--plateau-patience', '3'], /--plateau-patience 3: it belongs to --schedule plateau/],
    [['--schedule', 'cosine', '--warmup', '2'], /--warmup 2: the run has only 2 epochs; .* --schedule-unit step/],
    [['--schedule', 'cosine', '--schedule-unit', 'step', '--warmup', '32'], /--warmup 32: the run has only 32 steps \(2 × 16 batches\)/],
    [['--alpha', '0.9'], /--alpha 0\.9: --optimizer sgd has no such parameter; it belongs to --optimizer rmsprop/],
    [['--optimizer', 'rmsprop', '--accumulator', '0.1'], /--accumulator 0\.1: --optimizer rmsprop has no such parameter; it belongs to --optimizer adagrad/],
  ])('%j', (flags, message) => {
    const r = cli([...small, ...flags]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('what the run shows and records', () => {
  it('clipping: "clipped N steps" on the epoch line, `clipped` in --log and --csv; label smoothing and clip-norm in the heading', () => {
    const d = tmp();
    const log = join(d, 'run.jsonl'),
      csv = join(d, 'run.csv');
    const r = cli([...small, '--lr', '1', '--clip-norm', '1', '--label-smoothing', '0.1', '--log', log, '--csv', csv]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/η=1 m=32 smoothing 0\.1 clip-norm 1/);
    const lines = r.stdout.split('\n').filter((l) => /^epoch \d\/2/.test(l));
    expect(lines).toHaveLength(2);
    const shown = lines.map((l) => Number(/clipped (\d+) steps?/.exec(l)?.[1]));
    expect(shown[0]).toBeGreaterThan(0);
    const records = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { clipped: number });
    expect(records.map((x) => x.clipped)).toEqual(shown);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0].split(',').at(-1)).toBe('clipped');
    expect(rows.slice(1).map((row) => Number(row.split(',').at(-1)))).toEqual(shown);
  });

  it('--json config holds every new setting; --config (the JSON, and the saved model) trains the same run again', () => {
    const d = tmp();
    const model = join(d, 'm.safetensors');
    const flags = [...small, '--optimizer', 'adagrad', '--accumulator', '0.1', '--schedule', 'onecycle', '--pct-start', '0.25', '--label-smoothing', '0.05', '--clip-value', '0.5', '--json'];
    const a = cli([...flags, '--save', model]);
    expect(a.code, a.stderr).toBe(0);
    const result = JSON.parse(a.stdout);
    expect(result.config).toMatchObject({
      optimizer: 'adagrad',
      accumulator: 0.1,
      eps: 1e-8,
      schedule: 'onecycle',
      'pct-start': 0.25,
      'div-factor': 25,
      'final-div-factor': 10000,
      'label-smoothing': 0.05,
      'clip-value': 0.5,
    });
    expect(result.options).toMatchObject({ labelSmoothing: 0.05, clipValue: 0.5 });
    const config = join(d, 'config.json');
    writeFileSync(config, JSON.stringify(result.config));
    const losses = (r: { stdout: string }) => JSON.parse(r.stdout).epochs.map((e: { loss: number; lr: number; clipped: number }) => [e.loss, e.lr, e.clipped]);
    for (const from of [config, model]) {
      const b = cli(['train', '--config', from, '--json']);
      expect(b.code, b.stderr).toBe(0);
      expect(losses(b)).toEqual(losses(a));
    }
  });

  it('--schedule plateau holds out a validation split (as --early-stop) and its η shows per epoch; --report names the schedule and the regularisers', () => {
    const d = tmp();
    const report = join(d, 'r.html');
    const r = cli([
      ...small,
      '--epochs',
      '3',
      '--schedule',
      'plateau',
      '--plateau-patience',
      '0',
      '--decay',
      '0.5',
      '--monitor-metric',
      'val-accuracy',
      '--label-smoothing',
      '0.1',
      '--report',
      report,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.validation).toBe(800); // 10% of the 8,000 training digits, as --early-stop holds out
    expect(out.config).toMatchObject({ schedule: 'plateau', decay: 0.5, 'plateau-patience': 0, 'monitor-metric': 'val-accuracy' });
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('plateau schedule ×0.5 after more than 0 epochs without a better val-accuracy');
    expect(html).toContain('smoothing 0.1');
  });
});
