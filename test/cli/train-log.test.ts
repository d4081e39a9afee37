import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, cli, ROOT } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-log-'));
const jsonLines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
/** A CSV without quoting (every cell is a number or a word): the header, then rows as objects. */
function csv(path: string): { header: string[]; rows: Record<string, string>[] } {
  const [head, ...lines] = readFileSync(path, 'utf8').trimEnd().split('\n');
  const header = head.split(',');
  return { header, rows: lines.map((l) => Object.fromEntries(l.split(',').map((c, i) => [header[i], c]))) };
}

describe('train --log / --csv', () => {
  it('one JSON line per epoch and per --log-every batches, the same rows in CSV under a header, both appended', () => {
    const d = tmp();
    const log = join(d, 'run.jsonl'),
      table = join(d, 'run.csv');
    const args = ['train', '--limit', '640', '--test-limit', '100', '--hidden', '16', '--epochs', '2', '--validation', '100', '--log', log, '--csv', table, '--log-every', '4', '--json'];
    const r = cli(args);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    const records = jsonLines(log);
    // 640 training examples (--limit counts after the validation split) in batches of 32: 20 batches, logged at 4, 8, …, 20; then the epoch.
    const epoch = ['batch4', 'batch8', 'batch12', 'batch16', 'batch20', 'epoch'];
    expect(records.map((x) => `${x.kind}${x.batch ?? ''}`)).toEqual([...epoch, ...epoch]);
    const epochs = records.filter((x) => x.kind === 'epoch');
    epochs.forEach((e, i) => {
      const m = result.epochs[i];
      expect(e).toMatchObject({ epoch: i + 1, lr: 0.2, loss: m.loss, trainAccuracy: m.trainAccuracy, validationAccuracy: m.validationAccuracy, testAccuracy: m.testAccuracy, seconds: m.seconds });
      expect(e.examplesPerSecond).toBeCloseTo(640 / m.seconds, 6);
    });
    const t = csv(table);
    expect(t.header).toEqual(['kind', 'epoch', 'batch', 'lr', 'loss', 'trainAccuracy', 'validationLoss', 'validationAccuracy', 'testLoss', 'testAccuracy', 'seconds', 'examplesPerSecond', 'clipped']);
    expect(t.rows).toHaveLength(12);
    expect(Number(t.rows[5].testAccuracy)).toBe(result.epochs[0].testAccuracy);
    expect(t.rows[0].testAccuracy).toBe('');
    // One naming: each CSV row holds its JSON line's fields under the same names.
    records.forEach((x, i) => expect(Object.fromEntries(Object.entries(t.rows[i]).filter(([, v]) => v !== ''))).toEqual(Object.fromEntries(Object.entries(x).map(([k, v]) => [k, String(v)]))));
    // A second run appends: no second header.
    expect(cli(args).code).toBe(0);
    expect(jsonLines(log)).toHaveLength(24);
    expect(csv(table).rows).toHaveLength(24);
    expect(readFileSync(table, 'utf8').match(/^kind,/gm)).toHaveLength(1);
  }, 60_000);

  it('a run killed (SIGKILL) in the middle leaves files that parse, line by line', async () => {
    const d = tmp();
    const log = join(d, 'run.jsonl'),
      table = join(d, 'run.csv');
    await new Promise<void>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'train', '--backend', 'js', '--hidden', '128', '--epochs', '5', '--log', log, '--csv', table, '--log-every', '10'], {
        cwd: ROOT,
        env: { ...process.env, NO_COLOR: '1' },
      });
      let err = '';
      p.stderr.on('data', (b: Buffer) => {
        err += b.toString();
        if (/epoch 1\/5/.test(err)) p.kill('SIGKILL');
      });
      p.on('exit', () => resolve());
    });
    const records = jsonLines(log);
    expect(records.some((x) => x.kind === 'epoch')).toBe(true);
    const t = csv(table);
    expect(t.rows.length).toBe(records.length);
    for (const row of t.rows) expect(Number.isFinite(Number(row.loss))).toBe(true);
  }, 120_000);

  it('paths are checked before the work: a directory, or the same file for both, is refused with exit 2', () => {
    const d = tmp();
    const a = cli(['train', '--log', d, '--epochs', '1']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--log .*: is a directory, expected a file name/);
    const b = cli(['train', '--log', join(d, 'x'), '--csv', join(d, 'x')]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--csv .*x: that is --log .*x, another output of the run/);
    const c = cli(['train', '--csv', join(d, 'no', 'such', 'dir', 'x.csv')]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--csv/);
  });
});
