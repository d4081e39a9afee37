// What a newcomer met (issue 27), each a test that failed before its fix: help examples that run as written,
// evaluate scoring a model on data with other classes, and one write-or-rescue for compare and learners.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { writeOrRescue } from '../../src/cli/output.js';
import { cli, needs, ROOT, SYSTEM } from '../helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'backprop-newcomer-'));
const digits: Architecture = { sizes: [784, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };
const model = (name: string, meta: Record<string, string>) => {
  const p = join(dir, name);
  writeFileSync(p, encodeSafetensors(Network.create(digits, 'xavier', new Rng(1)), meta));
  return p;
};
const examplesOf = (command: string) => {
  const help = cli([command, '--help']).stdout;
  return help.slice(help.lastIndexOf('Examples:')).split('\n').slice(1).join('\n').trimEnd();
};

describe('help examples run as written', () => {
  it('train: the long run is two commands (after Ctrl-C a `&&` would never run the second)', () => {
    expect(examplesOf('train')).toContain(
      [
        '  # a long run: Ctrl-C writes a checkpoint to run1 and exits 130; then continue it',
        '  $ backprop train --data fashion-mnist --epochs 30 --checkpoint run1',
        '  $ backprop train --resume run1',
      ].join('\n'),
    );
    expect(examplesOf('train')).not.toContain('&&');
  });

  it('predict: example 3 takes an embedded digit, as the digits model of the other examples expects, and runs', () => {
    const lines = examplesOf('predict').split('\n');
    expect(lines.slice(-2)).toEqual(['  # a training example of the embedded digits, as JSON', '  $ backprop predict --model model.safetensors embedded:train:42 --json']);
    model('model.safetensors', { data: 'embedded' });
    const r = cli(lines[lines.length - 1].replace('  $ backprop ', '').split(' '), { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions[0]).toMatchObject({ input: 'embedded:train:42', source: 'embedded' });
  });
});

describe('evaluate refuses a model trained on other classes, as predict does', () => {
  it('a clothing model on the embedded digits: one line, exit 2, the same words as predict', () => {
    const clothes = model('fashion.safetensors', { data: 'fashion-mnist' });
    const r = cli(['evaluate', '--model', clothes], { cwd: dir });
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--model .*fashion.safetensors: the model was trained on fashion-mnist, whose classes \(T-shirt\/top, .*\) are not embedded's \(0, 1, 2/);
    const p = cli(['predict', '--model', clothes, 'embedded:0', '--no-show'], { cwd: dir });
    expect(p.stderr.replace(/^.*?: the model/, '')).toBe(r.stderr.replace(/^.*?: the model/, ''));
  });

  it('a digits model on MNIST (the same classes) is scored', () => {
    const r = cli(['evaluate', '--model', model('embedded.safetensors', { data: 'mnist' }), '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).count).toBe(2000);
  });
});

describe('writeOrRescue (src/cli/output.ts): one write-or-rescue for compare and learners', () => {
  it('writes the file when it can; otherwise saves the data elsewhere and says where in one line', () => {
    const failures: string[] = [];
    const ok = join(dir, 'ok.html');
    expect(writeOrRescue(ok, '--report', 'the report was', 'hello', (m) => failures.push(m))).toBe(ok);
    expect(readFileSync(ok, 'utf8')).toBe('hello');
    const gone = join(dir, 'no-such-dir', 'r.html');
    const rescued = writeOrRescue(gone, '--report', 'the report was', 'kept', (m) => failures.push(m));
    expect(rescued).toBeDefined();
    expect(readFileSync(rescued!, 'utf8')).toBe('kept');
    expect(failures).toEqual([`--report ${gone}: cannot write (ENOENT: the directory no longer exists); the report was saved to ${rescued} instead`]);
    rmSync(rescued!);
  });

  it('compare and learners have no copy of their own', () => {
    for (const f of ['compare.ts', 'learners.ts']) {
      const src = readFileSync(join(ROOT, 'src', 'cli', f), 'utf8');
      expect(src, f).not.toMatch(/writeRescue\(/);
      expect(src, f).toMatch(/writeOrRescue\(/);
    }
    expect(existsSync(join(ROOT, 'src', 'cli', 'output.ts'))).toBe(true);
  });
});

describe('bench --startup times the documented command', () => {
  it('`backprop` found on PATH (bin/backprop through its #! line), --version and train --help: the first start and the median of the later ones, against 0.5 s', () => {
    const r = cli(['bench', '--startup', '--starts', '1', '--json'], { timeout: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { invoked: string; nodeAloneSeconds: number; startup: { command: string; first: number; median: number; target: number; met: boolean }[] };
    expect(j.invoked).toBe(join(ROOT, 'bin', 'backprop'));
    expect(j.startup.map((s) => s.command)).toEqual(['backprop --version', 'backprop train --help', 'backprop grad "x*y" --at x=1,y=2', 'backprop info']);
    expect(j.startup.slice(0, 2).map((s) => s.target)).toEqual([0.5, 0.5]);
    expect(j.nodeAloneSeconds).toBeGreaterThan(0);
    for (const s of j.startup) {
      expect(s.first).toBeGreaterThan(0);
      expect(s.median).toBeGreaterThan(0);
      expect(s.met).toBe(s.median <= s.target);
    }
  });

  it('--startup with --profile is refused in one line (it used to run the startup part only)', () => {
    const r = cli(['bench', '--startup', '--profile']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual(['backprop: error: --startup and --profile time different things (process starts, an epoch by phase): give one of them']);
  });
});

describe('a config replays on a machine without its recorded provider', () => {
  const noBlas = { BACKPROP_BLAS: join(dir, 'no-such-libblas.so') };
  const config = join(dir, 'blas.json');
  writeFileSync(config, JSON.stringify({ backend: 'blas', epochs: 1, limit: 300, 'test-limit': 100 }));

  it('--config with backend blas where no BLAS loads: auto instead, with one line saying so (it exited 2)', () => {
    const r = cli(['train', '--config', config, '--json'], { env: noBlas });
    expect(r.code, r.stderr).toBe(0);
    const notices = r.stderr.split('\n').filter((l) => l.includes('--config'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^--config .*blas\.json: the recorded --backend blas: BACKPROP_BLAS=.*no-such-libblas\.so: .*; running on (wasm|tensorflow|js) instead \(--backend auto\)$/);
    expect(JSON.parse(r.stdout).provenance.provider).toMatch(/^(wasm|tensorflow|js)$/);
  });

  it('--backend blas typed on the command line still fails when no BLAS loads (exit 2): only a recorded one falls back', () => {
    const r = cli(['train', '--config', config, '--backend', 'blas', '-q'], { env: noBlas });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^backprop: error: --backend blas: /);
  });
});

describe('compare draws a bar while each activation trains (it showed nothing)', () => {
  const SCRIPT = '/usr/bin/script'; // util-linux: a pseudo-terminal, so that stderr is a TTY
  it('on an 80-column terminal: the run, its epoch, n/total and the ETA, never past column 79', (ctx) => {
    needs(ctx, SYSTEM.script);
    const env: Record<string, string | undefined> = { ...process.env, TERM: 'xterm', COLUMNS: '80' };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    const r = spawnSync(SCRIPT, ['-q', '-e', '-c', `stty cols 80; '${process.execPath}' '${join(ROOT, 'bin', 'backprop')}' compare --epochs 2 --limit 4000 --hidden 30,30`, '/dev/null'], {
      encoding: 'utf8',
      env,
      timeout: 120_000,
      cwd: ROOT,
    });
    expect(r.status, r.stdout).toBe(0);
    const drawn = r.stdout.split(/\r|\n|\x1b\[[0-9;?]*[A-Za-z]/).filter((l) => /\[[█░]+\]/.test(l));
    for (const run of ['sigmoid 1/2', 'relu 2/2'])
      expect(
        drawn.some((l) => new RegExp(`^${run} epoch [12]/2 \\[[█░]{8}\\] \\d+/400 · .* · \\d+:\\d\\d · ETA \\d+:\\d\\d$`).test(l)),
        run,
      ).toBe(true);
    for (const l of drawn) expect(l.length, l).toBeLessThanOrEqual(79);
  });
});
