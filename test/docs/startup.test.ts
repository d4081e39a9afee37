// The README's set-up puts bin/ on PATH and runs `backprop …`: that is bin/backprop itself (no npx in between),
// so a signal sent to what the user started reaches the trainer, which checkpoints and exits 128 + the signal.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

/** The pids of live processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

it('kill -TERM to the documented `backprop train` checkpoints, exits 143 and leaves nothing running', async (ctx) => {
  if (process.platform !== 'linux') return ctx.skip('reads /proc to find the processes left running: Linux only');
  const dir = mkdtempSync(join(tmpdir(), 'backprop-term-'));
  const ck = join(dir, 'ck');
  const child = spawn('backprop', ['train', '--epochs', '1000', '--checkpoint', ck], {
    cwd: dir,
    env: { ...process.env, PATH: `${join(ROOT, 'bin')}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const code = await new Promise<number | null>((resolve) => {
    const watch = (b: Buffer): void => {
      output += b.toString();
      if (/epoch\s+2\/1000/.test(output) && !child.killed) child.kill('SIGTERM'); // after epoch 2's checkpoint
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('close', (c) => resolve(c));
  });
  expect(output).toMatch(/interrupted by SIGTERM at epoch \d+.*checkpoint written to/);
  expect(code).toBe(143);
  expect(existsSync(join(ck, 'state.json'))).toBe(true);
  expect(existsSync(join(ck, 'lock'))).toBe(false);
  expect(processesWith(ck)).toEqual([]);
});
