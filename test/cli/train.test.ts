import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { BIN, cli, FASHION, FIXTURES, needs, NIELSEN_CH1, ROOT, SYSTEM } from '../helpers.js';

const TINY = join(FIXTURES, 'tiny-mnist');
const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-cli-'));

describe('backprop train', () => {
  it('plain `backprop train` reaches ≥ 94% on the 2,000 held-out embedded digits', () => {
    const r = cli(['train', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.test).toBe(2000);
    expect(res.testAccuracy).toBeGreaterThanOrEqual(0.94);
    expect(res.epochs).toHaveLength(10);
    expect(res.seconds).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/epoch 10\/10 .*test/);
  }, 180_000);

  it("Nielsen's chapter-1 setup learns (≥ 75% within 20 epochs)", () => {
    const r = cli(['train', ...NIELSEN_CH1, '--epochs', '20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).testAccuracy).toBeGreaterThanOrEqual(0.75);
  }, 180_000);

  it('Fashion-MNIST from Debian reaches ≥ 85% in 5 epochs', (ctx) => {
    needs(ctx, SYSTEM.fashionMnist);
    const r = cli(['train', '--data', FASHION, '--epochs', '5', '--json'], { timeout: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.test).toBe(10000);
    expect(res.testAccuracy).toBeGreaterThanOrEqual(0.85);
  }, 300_000);

  it('the same seed saves byte-identical models; evaluate reproduces the test accuracy', () => {
    const d = tmp();
    const args = ['train', '--limit', '1000', '--epochs', '2', '--hidden', '30', '--json'];
    const a = cli([...args, '--seed', '7', '--save', join(d, 'a.safetensors')]);
    const b = cli([...args, '--seed', '7', '--save', join(d, 'b.safetensors')]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(readFileSync(join(d, 'a.safetensors')).equals(readFileSync(join(d, 'b.safetensors')))).toBe(true);
    const c = cli([...args, '--seed', '8', '--save', join(d, 'c.safetensors')]);
    expect(c.code).toBe(0);
    expect(readFileSync(join(d, 'a.safetensors')).equals(readFileSync(join(d, 'c.safetensors')))).toBe(false);

    const e = cli(['evaluate', '--model', join(d, 'a.safetensors'), '--json']);
    expect(e.code, e.stderr).toBe(0);
    const ev = JSON.parse(e.stdout);
    expect(ev.accuracy).toBe(JSON.parse(a.stdout).testAccuracy);
    expect(ev.confusion.flat().reduce((s: number, x: number) => s + x, 0)).toBe(2000);
    expect(ev.confusion.reduce((s: number, row: number[], i: number) => s + row[i], 0)).toBe(ev.correct);
    const human = cli(['evaluate', '--model', join(d, 'a.safetensors')]);
    expect(human.stdout).toMatch(/confusion matrix/);
    expect(human.stdout.split('\n').filter((l) => /^\s*\d\s+\d+/.test(l))).toHaveLength(10);
  }, 120_000);

  it('evaluate --model A --model B scores the ensemble (mean output) and each member; models of other classes are refused', () => {
    const d = tmp();
    const args = ['train', '--limit', '1000', '--epochs', '1', '--hidden', '20', '--json'];
    for (const seed of ['1', '2']) expect(cli([...args, '--seed', seed, '--save', join(d, `s${seed}.safetensors`)]).code).toBe(0);
    const one = (f: string) => JSON.parse(cli(['evaluate', '--model', join(d, f), '--json']).stdout);
    const [a, b] = [one('s1.safetensors'), one('s2.safetensors')];
    const e = cli(['evaluate', '--model', join(d, 's1.safetensors'), '--model', join(d, 's2.safetensors'), '--json']);
    expect(e.code, e.stderr).toBe(0);
    const ens = JSON.parse(e.stdout);
    expect(ens.ensemble).toEqual([
      { model: join(d, 's1.safetensors'), accuracy: a.accuracy, correct: a.correct, loss: a.loss },
      { model: join(d, 's2.safetensors'), accuracy: b.accuracy, correct: b.correct, loss: b.loss },
    ]);
    expect(ens.loss).toBeCloseTo((a.loss + b.loss) / 2, 12);
    expect(ens.count).toBe(2000);
    // two differently seeded nets disagree on some digits, and their mean output decides them
    expect(ens.confusion).not.toEqual(a.confusion);
    expect(ens.confusion).not.toEqual(b.confusion);
    const twice = cli(['evaluate', '--model', join(d, 's1.safetensors'), '--model', join(d, 's1.safetensors')]);
    expect([twice.code, twice.stderr.trim()]).toEqual([2, `backprop: error: --model ${join(d, 's1.safetensors')} is given twice: an ensemble would count that model twice; give each model once`]);
    const human = cli(['evaluate', '--model', join(d, 's1.safetensors'), '--model', join(d, 's2.safetensors')]);
    expect(human.stdout).toMatch(/^member .*s1\.safetensors: \d+\.\d\d% \(\d+\/2000\)/m);
    expect(human.stdout).toMatch(/^ensemble accuracy \(mean output of 2 models\) \d+\.\d\d% \(\d+\/2000\)/m);
    // a float64 member is scored in the first member's float32, and the line says so
    expect(cli([...args, '--seed', '3', '--dtype', 'float64', '--save', join(d, 's3.safetensors')]).code).toBe(0);
    const mixed = cli(['evaluate', '--model', join(d, 's1.safetensors'), '--model', join(d, 's3.safetensors')]);
    expect(mixed.stdout).toContain(`note: --model ${join(d, 's3.safetensors')} is float64: scored in float32, as --model ${join(d, 's1.safetensors')} is (--dtype chooses)`);
    expect(cli(['evaluate', '--dtype', 'float64', '--model', join(d, 's1.safetensors'), '--model', join(d, 's3.safetensors')]).stdout).not.toContain('note:');
    // a model of 3 classes beside one of 2, on the same 4 inputs
    writeFileSync(join(d, 'three.csv'), Array.from({ length: 30 }, (_, i) => `${i % 3},${i % 3},${(i * 7) % 5},1,0`).join('\n'));
    writeFileSync(join(d, 'two.csv'), Array.from({ length: 30 }, (_, i) => `${i % 2},${i % 2},${(i * 7) % 5},1,0`).join('\n'));
    for (const c of ['three', 'two']) expect(cli(['train', '--data', join(d, `${c}.csv`), '--epochs', '1', '--hidden', '3', '--save', join(d, `${c}.safetensors`)]).code).toBe(0);
    const bad = cli(['evaluate', '--data', join(d, 'three.csv'), '--model', join(d, 'three.safetensors'), '--model', join(d, 'two.safetensors')]);
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      `backprop: error: --model ${join(d, 'two.safetensors')} has 2 outputs but --model ${join(d, 'three.safetensors')} has 3: an ensemble's models must share their classes`,
    ]);
  }, 120_000);

  it('a mini-batch larger than the training set is said to be the whole set (m=120 on 100 examples)', () => {
    const r = cli(['train', '--limit', '100', '--batch-size', '120', '--epochs', '1', '--hidden', '5']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^note: m=120 is more than the 100 training examples: each step takes all 100 \(full-batch gradient descent\)$/m);
    expect(cli(['train', '--limit', '100', '--batch-size', '100', '--epochs', '1', '--hidden', '5']).stdout).not.toContain('note: m=');
  });

  it('trains on an IDX directory and reports validation accuracy', () => {
    const r = cli(['train', '--data', TINY, '--epochs', '2', '--validation', '20', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect([res.train, res.validation, res.test]).toEqual([100, 20, 60]);
    expect(res.epochs[1].validationAccuracy).toBeGreaterThanOrEqual(0);
  });
});

describe('kernel providers from the CLI', () => {
  it('backprop info lists every provider; blas and wasm load here, js always', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    const r = cli(['info', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    const by = Object.fromEntries(res.providers.map((p: { name: string }) => [p.name, p]));
    expect(Object.keys(by)).toEqual(['blas', 'tensorflow', 'wasm', 'js']);
    expect(by.js.available).toBe(true);
    expect(by.js.gflops).toBeGreaterThan(0);
    expect(by.wasm.available).toBe(true);
    // .ci/run installs libopenblas0-pthread, so the system CBLAS must load in CI.
    expect(by.blas.available, by.blas.error).toBe(true);
    expect(by.blas.detail).toMatch(/libopenblas|libblas|mkl|blis/);
    expect(res.auto).toBe('blas');
  });

  it('every --backend trains to the same result within float32 tolerance', (ctx) => {
    needs(ctx, SYSTEM.openblas);
    const acc = ['js', 'blas', 'wasm'].map((b) => {
      const r = cli(['train', '--backend', b, '--limit', '2000', '--epochs', '1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout).testAccuracy;
    });
    expect(Math.max(...acc) - Math.min(...acc)).toBeLessThanOrEqual(0.002);
  });

  it('an unknown or unavailable backend is a one-line error, exit 2', () => {
    const r = cli(['train', '--backend', 'cuda']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected one of auto, blas, tensorflow, wasm, js/);
    const t = cli(['train', '--backend', 'tensorflow', '--epochs', '1']);
    if (t.code !== 0) {
      expect(t.code).toBe(2);
      expect(t.stderr.trim().split('\n')).toHaveLength(1);
      expect(t.stderr).toMatch(/--backend tensorflow: @tensorflow\/tfjs-node is (not installed|installed without its native binding)/);
    }
  });
});

describe('colours', () => {
  it('FORCE_COLOR colours the output and NO_COLOR turns it off', () => {
    const args = ['train', '--epochs', '1', '--limit', '300'];
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '' } });
    expect(r.stdout).toMatch(/\u001b\[32mtest accuracy/);
    const n = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(n.stdout).toMatch(/^test accuracy/m);
    expect(n.stdout).not.toMatch(/\u001b\[/);
  });
});
