import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, cli, needs, ROOT, SYSTEM } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-resume-'));

/** Starts a run, sends SIGINT once `when` matches its stderr (plus a delay), and waits for it to exit. */
function interruptWhen(args: string[], when: RegExp, delayMs: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
    let stderr = '';
    let sent = false;
    const watch = (d: Buffer) => {
      stderr += d.toString();
      if (!sent && when.test(stderr)) {
        sent = true;
        setTimeout(() => p.kill('SIGINT'), delayMs);
      }
    };
    p.stderr.on('data', watch);
    p.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('durable runs', () => {
  // The js provider keeps an epoch slow enough (about 1.7 s here) to interrupt in the middle.
  const run = ['train', '--backend', 'js', '--epochs', '3', '--hidden', '256', '--json'];

  it('SIGINT mid-epoch writes a checkpoint and exits 130; --resume ends with the weights of an uninterrupted run', async () => {
    const d = tmp();
    const straight = cli([...run, '--save', join(d, 'straight.safetensors')]);
    expect(straight.code, straight.stderr).toBe(0);

    const ck = join(d, 'ck');
    const r = await interruptWhen([...run, '--checkpoint', ck, '--save', join(d, 'resumed.safetensors')], /epoch 1\/3/, 500);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted at epoch 2, batch \d+: checkpoint written to .*ck; continue with: backprop train --resume .*ck/);
    const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
    expect(state.state.epoch).toBe(2);
    expect(state.state.batch).toBeGreaterThan(0); // in the middle of epoch 2
    expect(state.state.history).toHaveLength(1);
    expect(existsSync(join(d, 'resumed.safetensors'))).toBe(false);

    const resumed = cli(['train', '--resume', ck, '--json', '--save', join(d, 'resumed.safetensors')]); // where to write is never taken from the checkpoint
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/from epoch 2, batch \d+/);
    expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
    const a = JSON.parse(straight.stdout),
      b = JSON.parse(resumed.stdout);
    expect(b.epochs.map((e: { loss: number }) => e.loss)).toEqual(a.epochs.map((e: { loss: number }) => e.loss));
    expect(b.testAccuracy).toBe(a.testAccuracy);
  }, 120_000);

  it('--checkpoint writes a checkpoint at each epoch end, with the provider and thread policy; --resume --epochs extends the run to the same bytes', () => {
    const d = tmp();
    const ck = join(d, 'ck');
    const first = cli(['train', '--epochs', '2', '--limit', '1000', '--checkpoint', ck, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
    expect([state.state.epoch, state.state.batch, state.generation]).toEqual([3, 0, 2]);
    const prov = JSON.parse(first.stdout).provenance;
    expect(state.kernels).toEqual({ provider: prov.provider, providerDetail: prov.providerDetail, threads: prov.threads });
    const more = cli(['train', '--resume', ck, '--epochs', '4', '--json', '--save', join(d, 'resumed.safetensors')]);
    expect(more.code, more.stderr).toBe(0);
    expect(more.stderr).not.toMatch(/byte-identical/); // the same seed, provider and policy
    expect(JSON.parse(more.stdout).resumeNotice).toBeUndefined();
    const straight = cli(['train', '--epochs', '4', '--limit', '1000', '--json', '--save', join(d, 'straight.safetensors')]);
    expect(JSON.parse(more.stdout).epochs.map((e: { loss: number }) => e.loss)).toEqual(JSON.parse(straight.stdout).epochs.map((e: { loss: number }) => e.loss));
    expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
  });

  it('--resume under another thread policy (BACKPROP_PARALLEL_WORK) says the model will not be byte-identical, on stderr and in --json', (ctx) => {
    needs(ctx, SYSTEM.openblas); // OpenBLAS's sums depend on its thread count; the wasm kernel's do not
    const d = tmp();
    const ck = join(d, 'ck');
    const first = cli(['train', '--backend', 'blas', '--epochs', '1', '--limit', '1000', '--checkpoint', ck, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const was = JSON.parse(first.stdout).provenance.threads as string;
    cpSync(ck, join(d, 'copy'), { recursive: true });
    const other = cli(['train', '--resume', ck, '--epochs', '2', '--json'], { env: { BACKPROP_PARALLEL_WORK: '0' } });
    expect(other.code, other.stderr).toBe(0);
    const now = JSON.parse(other.stdout).provenance.threads as string;
    if (now === was) return ctx.skip('a one-core machine: every thread policy is "1 thread", so none differs from the checkpoint\'s');
    const line = `⚠ the thread policy differs from the checkpoint's: blas ran with "${was}", now "${now}" (its sums depend on the thread count): the result is not guaranteed to be byte-identical to an uninterrupted run's`;
    expect(other.stderr.split('\n')).toContain(line);
    expect(JSON.parse(other.stdout).resumeNotice).toBe(line.slice(2));
    // the checkpoint now records the policy it was continued with
    expect(JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8')).kernels.threads).toBe(now);
    const same = cli(['train', '--resume', join(d, 'copy'), '--epochs', '2', '--json']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).not.toMatch(/byte-identical/);
  });

  it('--resume continues rmsprop, label smoothing, clipping and plateau exactly: the record and the state go through state.json', () => {
    const d = tmp();
    const ck = join(d, 'ck');
    const flags = ['--limit', '1000', '--optimizer', 'rmsprop', '--lr', '0.01', '--label-smoothing', '0.1', '--clip-norm', '0.5', '--schedule', 'plateau', '--plateau-patience', '0', '--json'];
    const first = cli(['train', '--epochs', '2', ...flags, '--checkpoint', ck]);
    expect(first.code, first.stderr).toBe(0);
    const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
    expect([state.options.labelSmoothing, state.options.clipNorm, state.options.schedule.name, state.options.optimizer.name]).toEqual([0.1, 0.5, 'plateau', 'rmsprop']);
    const more = cli(['train', '--resume', ck, '--epochs', '4', '--json']);
    expect(more.code, more.stderr).toBe(0);
    const straight = cli(['train', '--epochs', '4', ...flags]);
    const epochs = (r: { stdout: string }) => JSON.parse(r.stdout).epochs.map((e: { loss: number; lr: number; clipped: number }) => [e.loss, e.lr, e.clipped]);
    expect(epochs(more)).toEqual(epochs(straight));
    expect(epochs(straight).some(([, , clipped]: number[]) => clipped > 0)).toBe(true);
  });

  it('divergence stops the run naming epoch and batch, suggests a smaller learning rate, exit 1, writes nothing bad', () => {
    const d = tmp();
    const ck = join(d, 'ck');
    const r = cli(['train', '--lr', '1e6', '--epochs', '2', '--checkpoint', ck, '--save', join(d, 'm.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /training diverged at epoch 1, batch \d+: the loss blew up: it rose from \S+ at its lowest to \S+, then .* became (NaN|-?Infinity); try a smaller learning rate, e\.g\. --lr 100000/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(d, 'm.safetensors'))).toBe(false);
    expect(existsSync(join(ck, 'state.json'))).toBe(false); // nothing good to keep yet
  });
});
