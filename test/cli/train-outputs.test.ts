import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, cli, withHeader } from '../helpers.js';

// Issue 26's train cases: each output attempted when another fails, a broken pipe that loses
// nothing, divergence in float64, a destructive weight decay, and checkpoints that choose nothing.

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-outputs-'));
const QUICK = ['train', '--limit', '500', '--test-limit', '200', '--hidden', '20', '--epochs', '2'];

/** One error line naming what failed, no stack. */
function oneError(r: { code: number | null; stderr: string }, code: number, msg: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('backprop: error:'));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(msg);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
}

/** Spawns train; `onStdout`/`onStderr` see the output as it comes; resolves at exit. */
function run(args: string[], cwd: string, watch: { stdout?: (text: string, kill: () => void) => void; stderr?: (text: string, kill: (sig: NodeJS.Signals) => void) => void }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      watch.stdout?.(stdout, () => p.stdout.destroy());
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      watch.stderr?.(stderr, (sig) => p.kill(sig));
    });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('train: numbers that are right or refused', () => {
  it('a float64 run whose loss passes float32’s range is diagnosed as diverged, exit 1 (it trained on to 1e+178 with exit 0)', () => {
    const r = cli([...QUICK, '--dtype', 'float64', '--lr', '5', '--output-activation', 'linear', '--cost', 'quadratic']);
    oneError(r, 1, /training diverged at epoch \d, batch \d+: the loss blew up: it rose from .* beyond float32's range \(3\.4e\+38\).*try a smaller learning rate, e\.g\. --lr 0\.5/);
  });

  it.each([
    [['--weight-decay', '5'], /--weight-decay 5 with η = 0\.2: each step would scale the weights by 1 − ηλ = 0; give λ < 1\/η = 5/],
    [['--weight-decay', '0.02', '--lr', '100'], /--weight-decay 0\.02 with η = 100: .* 1 − ηλ = -1; give λ < 1\/η = 0\.01/],
    [['--weight-decay', '2', '--optimizer', 'adamw', '--lr', '0.5'], /--weight-decay 2 with η = 0\.5/],
  ])('--weight-decay with ηλ ≥ 1 is refused before training: %j', (flags, msg) => {
    oneError(cli([...QUICK, ...flags]), 2, msg);
  });
});

describe('train: no result lost when one output fails', () => {
  it('--save that fails at the end: the weights rescued, --report and the --json result still written, exit 1 naming --save', async () => {
    const d = tmp();
    const gone = join(d, 'gone');
    rmSync(gone, { force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(gone);
    let removed = false;
    const r = await run([...QUICK, '--epochs', '3', '--save', join(gone, 'm.safetensors'), '--report', join(d, 'r.html'), '--json'], d, {
      stderr: (text) => {
        if (!removed && /epoch 1\/3/.test(text)) {
          removed = true;
          rmSync(gone, { recursive: true }); // the directory vanishes while the run trains
        }
      },
    });
    oneError(r, 1, /--save .*gone\/m\.safetensors: cannot write \(.*\); the trained weights were saved to \S+ instead/);
    expect(existsSync(join(d, 'r.html'))).toBe(true);
    const j = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
    expect(j.testAccuracy).toBeGreaterThan(0.5);
    expect(j.report).toBe(join(d, 'r.html'));
    expect(j.failed).toHaveLength(1);
    const rescued = /saved to (\S+) instead/.exec(r.stderr)![1];
    expect(j.model).toBe(rescued);
    expect(existsSync(rescued)).toBe(true);
  }, 60_000);

  it('`train --save F | head -1`: the closed pipe stops the printing, not the run; F is written and the exit says what happened', async () => {
    const d = tmp();
    const r = await run([...QUICK, '--epochs', '3', '--save', 'F.safetensors'], d, { stdout: (_text, close) => close() });
    expect(existsSync(join(d, 'F.safetensors'))).toBe(true);
    oneError(r, 1, /stdout was closed \(broken pipe\) during the run: the lines after that were not printed; the model was saved to F\.safetensors/);
    const straight = tmp();
    expect(cli([...QUICK, '--epochs', '3', '--save', join(straight, 'F.safetensors')]).code).toBe(0);
    expect(readFileSync(join(d, 'F.safetensors')).equals(readFileSync(join(straight, 'F.safetensors')))).toBe(true);
  }, 60_000);
});

describe('train interrupted: its --json and --report are written, and the command that continues it keeps every output', () => {
  // The js provider keeps an epoch long enough (about half a second) to signal in the middle of the run.
  const SLOW = ['train', '--backend', 'js', '--limit', '1200', '--test-limit', '200', '--hidden', '256', '--epochs', '3'];
  it.each([
    ['SIGINT', 130, 1, 'ck'],
    ['SIGTERM', 143, 1, 'ck'],
    ['SIGHUP', 129, 1, 'none'], // no --checkpoint: ./backprop-checkpoint
    ['SIGINT', 130, 2, 'ck'], // twice at once, as `timeout` sends it (to the child, then to its process group): one stop, not a hard exit
  ] as const)(
    '%s (%i, sent %i times; --checkpoint %s): exit 128 + n, the report and the JSON of what ran, then the printed command continues it with every output',
    async (sig, code, times, checkpoint) => {
      const d = tmp();
      const ck = checkpoint === 'ck' ? ['--checkpoint', 'ck'] : [];
      let sent = false;
      const r = await run([...SLOW, ...ck, '--save', 'm.safetensors', '--report', 'r.html', '--log', 'run.jsonl', '--json'], d, {
        stderr: (text, kill) => {
          if (!sent && /epoch 1\/3/.test(text)) {
            sent = true;
            for (let i = 0; i < times; i++) setTimeout(() => kill(sig), 30 * i); // the second 30 ms on: delivered as a signal of its own
          }
        },
      });
      expect(r.code, r.stderr).toBe(code);
      const dir = checkpoint === 'ck' ? 'ck' : 'backprop-checkpoint';
      const resume = `backprop train --resume ${dir} --save m.safetensors --report r.html --log run.jsonl --json`;
      expect(r.stderr).toContain(`at epoch 2, batch `);
      expect(r.stderr).toContain(`: checkpoint written to ${dir}; continue with: ${resume}`);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({
        command: 'train',
        status: 'interrupted',
        interrupted: true,
        signal: sig,
        stoppedAt: { epoch: 2 },
        checkpoint: dir,
        resume,
        model: null,
        report: 'r.html',
        testAccuracy: null,
      });
      expect(j.epochs).toHaveLength(1);
      expect(existsSync(join(d, 'm.safetensors'))).toBe(false); // the model is the continued run's
      const html = readFileSync(join(d, 'r.html'), 'utf8');
      expect(html).toContain(`by ${sig} at epoch 2, batch ${j.stoppedAt.batch}, after 1 whole epoch in`);
      const resumed = cli(resume.split(' ').slice(1), { cwd: d });
      expect(resumed.code, resumed.stderr).toBe(0);
      const done = JSON.parse(resumed.stdout);
      expect([done.status, done.interrupted, done.model, done.epochs.length]).toEqual(['done', false, 'm.safetensors', 3]);
      expect(existsSync(join(d, 'm.safetensors'))).toBe(true);
      expect(readFileSync(join(d, 'r.html'), 'utf8')).toContain('test accuracy');
      expect(readFileSync(join(d, 'run.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3); // the epochs of both invocations
    },
    90_000,
  );
});

describe('train --resume: the checkpoint chooses nothing', () => {
  function finished(): { d: string; ck: string } {
    const d = tmp();
    const ck = join(d, 'ck');
    expect(cli([...QUICK, '--checkpoint', ck, '--save', join(d, 'first.safetensors')]).code).toBe(0);
    return { d, ck };
  }
  const edit = (ck: string, f: (s: any) => void) => {
    const s = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
    f(s);
    writeFileSync(join(ck, 'state.json'), JSON.stringify(s));
  };

  it('the model goes only where the command line says: a state.json pointing elsewhere writes nothing there', () => {
    const { d, ck } = finished();
    const elsewhere = join(d, 'elsewhere.safetensors');
    edit(ck, (s) => (s.options.save = elsewhere));
    oneError(cli(['train', '--resume', ck]), 2, /--resume .*ck: the run was started with --save ".*elsewhere\.safetensors"; give --save again/);
    expect(existsSync(elsewhere)).toBe(false);
    const r = cli(['train', '--resume', ck, '--save', join(d, 'asked.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(elsewhere)).toBe(false);
    expect(readFileSync(join(d, 'asked.safetensors')).equals(readFileSync(join(d, 'first.safetensors')))).toBe(true);
  });

  it('a finished run’s --resume says it is finished, with no replayed epoch lines', () => {
    const { d, ck } = finished();
    const r = cli(['train', '--resume', ck, '--save', join(d, 'again.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/the run in .*ck has finished: all 2 epochs are trained; writing its outputs/);
    expect(r.stdout).not.toMatch(/^epoch /m);
    expect(r.stdout).not.toMatch(/from epoch 3, batch 0/); // there is no epoch 3: the heading says the run is finished
    expect(r.stdout.split('\n')[0]).toMatch(/ · finished$/);
  });

  it.each([
    ['a backend that does not exist', (s: any) => (s.options.backend = 'nonsense'), /options\.backend "nonsense" is not one of auto/],
    ['a history η that is not a number', (s: any) => (s.state.history[0].lr = 'x'), /state\.history\[0\]\.lr "x" is not absent or a finite number/],
    ['a history entry without seconds', (s: any) => delete s.state.history[1].seconds, /state\.history\[1\]\.seconds undefined is not a finite number/],
    ['a test accuracy above 1', (s: any) => (s.state.history[1].testAccuracy = 3), /state\.history\[1\]\.testAccuracy 3 is not absent or a fraction in \[0, 1\]/],
    ['epochs out of order', (s: any) => (s.state.history[0].epoch = 2), /state\.history\[0\] is not the record of epoch 1/],
    ['a destructive weight decay', (s: any) => (s.options.weightDecay = 10), /options\.weightDecay 10 with η = 0\.2/],
  ])('hand-edited state.json with %s: one line, exit 2, no internal error', (_what, f, msg) => {
    const { d, ck } = finished();
    edit(ck, f);
    oneError(cli(['train', '--resume', ck, '--epochs', '3', '--save', join(d, 'x.safetensors')]), 2, msg);
  });

  it('--config MODEL whose recorded run is malformed: one line, exit 2 (was an internal error)', () => {
    const d = tmp();
    const m = join(d, 'm.safetensors');
    expect(cli([...QUICK, '--save', m]).code).toBe(0);
    for (const [options, msg] of [
      ['{"data": 3}', /the run recorded in its metadata is not one train can repeat \(options\.data must be a dataset name or path\)/],
      ['not json', /the run recorded in its metadata \(options\) is not JSON/],
      ['[]', /options is not an object/],
    ] as const) {
      const bad = join(d, 'bad.safetensors');
      writeFileSync(
        bad,
        withHeader(readFileSync(m), (h) => (h.__metadata__.options = options)),
      );
      oneError(cli(['train', '--config', bad]), 2, msg);
    }
    // a setting this version does not know (a newer backprop's) is refused, not dropped: the run would be another one
    const newer = join(d, 'newer.safetensors');
    writeFileSync(
      newer,
      withHeader(readFileSync(m), (h) => (h.__metadata__.options = JSON.stringify({ ...JSON.parse(h.__metadata__.options), emaDecay: 0.999, '\u001b]0;x\u0007': 1 }))),
    );
    oneError(
      cli(['train', '--config', newer]),
      2,
      /the run recorded in its metadata has settings this backprop does not know \(emaDecay, \\x1b\]0;x\\x07\): it cannot repeat that run; give its flags by hand$/,
    );
  });
});
