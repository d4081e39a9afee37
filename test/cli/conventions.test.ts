import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canRedraw, clock } from '../../src/cli/output.js';
import { rate, runProgress } from '../../src/cli/progress.js';
import { BIN, cli, needs, ROOT, SYSTEM } from '../helpers.js';

const COMMANDS = ['train', 'evaluate', 'gradcheck', 'grad', 'compare', 'bench', 'info', 'datasets', 'datasets fetch', 'predict', 'export', 'learners', 'lr-find'];
const help = (c: string) => cli([...c.split(' '), '--help']);

describe('--help', () => {
  it('lists the values of an option from the parser itself, with its default, the same way everywhere', () => {
    const r = help('train');
    expect(r.code).toBe(0);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('--activation <name> hidden activation (choices: sigmoid, relu, tanh, leaky-relu, linear; default: relu)');
    expect(text).toContain('(choices: quadratic, cross-entropy, log-likelihood; default: log-likelihood)');
    expect(text).toContain('(choices: auto, blas, tensorflow, wasm, js; default: auto)');
    expect(text).toContain('--hidden <sizes> hidden layer sizes; input and output come from the data (default: 100)');
    expect(text).toContain('--lr <eta> learning rate η (default: 0.2; 0.02 for the quadratic cost after a linear, relu or leaky-relu output)');
    expect(help('evaluate').stdout.replace(/\s+/g, ' ')).toContain('(choices: test, train; default: test)');
    expect(help('gradcheck').stdout.replace(/\s+/g, ' ')).toContain('(choices: drop-fprime, no-mean, sign, flip-kernel)');
  });

  for (const c of ['', ...COMMANDS])
    it(`backprop ${c || '(no command)'}: defaults unquoted, no default for on/off flags, two or three examples at the end`, () => {
      const r = help(c);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/default: "|default: false|default: true/);
      const tail = r.stdout.slice(r.stdout.lastIndexOf('Examples:'));
      expect(r.stdout).toContain('Examples:');
      const examples = tail.split('\n').filter((l) => l.startsWith('  # ')); // an example may take several commands (train's Ctrl-C and --resume)
      expect(examples.length).toBeGreaterThanOrEqual(2);
      expect(examples.length).toBeLessThanOrEqual(3);
      expect(tail).toMatch(/^ {2}# .*\n {2}\$ backprop /m);
    });

  it('--version is the version in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(cli(['--version']).stdout.trim()).toBe(pkg.version);
  });
});

describe('errors', () => {
  const cases: [string, string[], RegExp][] = [
    ['a bad option value (from commander)', ['train', '--lr', '0'], /^backprop: error: option '--lr <eta>' argument '0' is invalid\. expected a positive number\.$/],
    ['an unknown option (from commander)', ['grad', 'x', '--chek'], /^backprop: error: unknown option '--chek' \(Did you mean --check\?\)$/],
    ['a value outside the choices', ['train', '--backend', 'cuda'], /^backprop: error: option '--backend <name>' argument 'cuda' is invalid\. expected one of auto, blas, tensorflow, wasm, js\.$/],
    ['a mistake found by the command', ['train', '--layers', '100,10'], /^backprop: error: --layers starts with 100 inputs but the data has 784 values per example$/],
    // --model given twice kept its last value silently (fourth hunt: predict --model a --model b used b alone; evaluate takes several)
    [
      'a model given twice to predict',
      ['predict', 'embedded:0', '--model', 'a.safetensors', '--model=b.safetensors'],
      /^backprop: error: --model is given twice: backprop predict takes one model \(evaluate takes several, as an ensemble\)$/,
    ],
    [
      'a model given three times to summary',
      ['summary', '--model', 'a', '--model', 'b', '--model', 'c'],
      /^backprop: error: --model is given 3 times: backprop summary takes one model \(evaluate takes several, as an ensemble\)$/,
    ],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}: one line with one prefix; with --json also {"error", "exitCode"} on stderr`, () => {
      const plain = cli(args);
      expect(plain.code).toBe(2);
      expect(plain.stdout).toBe('');
      expect(plain.stderr.trimEnd().split('\n'), plain.stderr).toHaveLength(1);
      expect(plain.stderr.trimEnd()).toMatch(message);

      const json = cli([...args, '--json']);
      expect(json.code).toBe(2);
      expect(json.stdout).toBe('');
      const lines = json.stderr.trimEnd().split('\n');
      expect(lines, json.stderr).toHaveLength(2);
      expect(lines[0]).toBe(plain.stderr.trimEnd());
      expect(JSON.parse(lines[1])).toEqual({ error: plain.stderr.trimEnd().replace(/^backprop: error: /, ''), exitCode: 2 });
    });
  }

  it('a run that diverges (exit 1) reports the same way', () => {
    const r = cli(['train', '--lr', '1e6', '--epochs', '1', '--json']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.at(-2)).toMatch(/^backprop: error: training diverged at epoch 1, batch \d+: the loss blew up/);
    expect(JSON.parse(lines.at(-1)!)).toEqual({ error: lines.at(-2)!.replace(/^backprop: error: /, ''), exitCode: 1 });
  });

  it('an unknown command', () => {
    const r = cli(['trian', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe("backprop: error: unknown command 'trian' (Did you mean train?)");
    expect(JSON.parse(r.stderr.split('\n')[1])).toEqual({ error: "unknown command 'trian' (Did you mean train?)", exitCode: 2 });
  });
});

describe('--quiet', () => {
  it('train prints only its result line', () => {
    const loud = cli(['train', '--epochs', '2', '--limit', '2000']);
    const r = cli(['train', '--epochs', '2', '--limit', '2000', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(loud.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(2); // heading, 2 epochs, result
    expect(r.stdout).toMatch(/^test accuracy \d+\.\d+% \(\d+\/2000\) after 2 epochs in [\d.]+s\n$/);
    expect(r.stderr).toBe('');
  });

  it('compare keeps its tables and drops its heading', () => {
    const r = cli(['compare', '--epochs', '1', '--limit', '500', '--hidden', '10,10', '--eval-size', '100', '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/^backprop compare/m);
    expect(r.stdout).toMatch(/speed of learning ‖∂C\/∂b\^l‖ per hidden layer/);
  });
});

describe('progress on stderr', () => {
  it('is redrawn in place only on a terminal that is not TERM=dumb', () => {
    expect(canRedraw({ isTTY: true }, { TERM: 'xterm-256color' })).toBe(true);
    expect(canRedraw({ isTTY: true }, {})).toBe(true);
    expect(canRedraw({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(canRedraw({ isTTY: false }, { TERM: 'xterm' })).toBe(false);
    expect(canRedraw({}, { TERM: 'xterm' })).toBe(false);
  });

  it('whole-run ETA and examples per second, by hand', () => {
    // 3 epochs of 10 batches of 32; at epoch 2, batch 5 after 3 s: 15 batches done, 15 left, 5 batches/s.
    expect(runProgress({ epochs: 3, batches: 10, epoch: 2, batch: 5, from: { epoch: 1, batch: 0 }, examplesPerBatch: 32, elapsed: 3 })).toEqual({ examplesPerSecond: 160, eta: 3 });
    // Resumed at epoch 2, batch 2: only 3 batches in these 3 s, so 1 batch/s and 15 s to go.
    expect(runProgress({ epochs: 3, batches: 10, epoch: 2, batch: 5, from: { epoch: 2, batch: 2 }, examplesPerBatch: 32, elapsed: 3 })).toEqual({ examplesPerSecond: 32, eta: 15 });
    expect(runProgress({ epochs: 3, batches: 10, epoch: 3, batch: 10, from: { epoch: 1, batch: 0 }, examplesPerBatch: 32, elapsed: 6 }).eta).toBe(0);
    expect(runProgress({ epochs: 3, batches: 10, epoch: 1, batch: 0, from: { epoch: 1, batch: 0 }, examplesPerBatch: 32, elapsed: 0 }).eta).toBe(Infinity);
    expect([clock(0), clock(59.6), clock(61), clock(3725), clock(Infinity)]).toEqual(['0:00', '1:00', '1:01', '1:02:05', '-:--']);
    expect([rate(950), rate(51234), rate(2.5e6)]).toEqual(['950', '51.2k', '2.5M']);
  });

  // A pseudo-terminal from util-linux's script(1), so that stderr is a TTY.
  const SCRIPT = '/usr/bin/script';
  const inPty = (term: string) => {
    const env: Record<string, string | undefined> = { ...process.env, TERM: term, COLUMNS: '160' };
    delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    const r = spawnSync(SCRIPT, ['-q', '-e', '-c', `stty cols 160; '${process.execPath}' '${BIN}' train --epochs 2 --limit 4000 --batch-size 8`, '/dev/null'], {
      encoding: 'utf8',
      env,
      timeout: 120_000,
      cwd: ROOT,
    });
    return r;
  };

  it('a terminal gets the bar (examples/s, running accuracy, elapsed, run ETA); TERM=dumb gets no escape codes at all', (ctx) => {
    needs(ctx, SYSTEM.script);
    const tty = inPty('xterm');
    expect(tty.status, tty.stdout).toBe(0);
    expect(tty.stdout).toContain('\x1b[?25l'); // the cursor hidden while the bar is drawn
    expect(tty.stdout).toMatch(/epoch 1\/2 \[[█░]+\] \d+\/500 · [\d.]+k? ex\/s · loss \d\.\d{4} · acc \d+\.\d% · \d+:\d\d elapsed, run ETA \d+:\d\d/);
    const dumb = inPty('dumb');
    expect(dumb.status, dumb.stdout).toBe(0);
    expect(dumb.stdout).toMatch(/test accuracy/);
    expect(dumb.stdout).not.toContain('\x1b');
  });
});
