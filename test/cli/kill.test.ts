import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';
import { BIN, cli, ROOT } from '../helpers.js';

// SIGKILL — no handler runs, nothing is flushed — at random moments, at
// checkpoint writes and during resumes; then resume until the run completes.
// Every chain of killed and resumed runs must end with the model of the run
// that was never interrupted, byte for byte.

/** About 0.15 s an epoch with the js loops, a 1.3 MB model to write at each checkpoint. */
const RUN = ['train', '--backend', 'js', '--limit', '300', '--test-limit', '50', '--hidden', '400', '--batch-size', '10', '--epochs', '3'];

type Kill =
  | { at: 'random'; ms: number }
  | { at: 'epoch-line' } // the moment the epoch's line appears: the checkpoint is being written
  | { at: 'blocked-write'; file: 'model' | 'order' | 'state' }; // paused inside writeCheckpoint, then killed

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Starts one run (fresh, or --resume when a checkpoint exists) and kills it as
 * `kill` says. For a blocked write, the write of that part of the checkpoint
 * stops half-way (BACKPROP_TEST_STALL_WRITE), so the run is killed exactly
 * there, with the earlier parts of that checkpoint written.
 */
function runAndKill(ck: string, save: string, kill: Kill | undefined): Promise<Outcome> {
  mkdirSync(ck, { recursive: true });
  const state = existsSync(join(ck, 'state.json')) ? JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8')) : undefined;
  const resume = state !== undefined;
  // A resumed run first reprints the epochs already done. The kill aims at the checkpoint of the second
  // epoch this run trains (the first then completes, so the chain makes progress), or of its only one.
  const before = state ? state.state.history.length : 0;
  // state.json's temporary name has no generation: a stall there stops the first checkpoint.
  const target = before + (kill?.at === 'blocked-write' && kill.file === 'state' ? 1 : Math.max(1, Math.min(2, 3 - before)));
  const args = resume ? ['train', '--resume', ck, '--save', save] : [...RUN, '--checkpoint', ck, '--save', save];
  return new Promise((resolve) => {
    // The write of that file stops half-way (src/base/atomic.ts's test hook), so the run is killed exactly there.
    const stall =
      kill?.at === 'blocked-write'
        ? { model: `model-${(state ? state.generation : 0) + (target - before)}.safetensors`, order: `order-${(state ? state.generation : 0) + (target - before)}.bin`, state: 'state.json' }[kill.file]
        : '';
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', BACKPROP_TEST_STALL_WRITE: stall } });
    let output = '';
    let fired = false;
    const fire = () => {
      if (!fired) {
        fired = true;
        p.kill('SIGKILL');
      }
    };
    if (kill?.at === 'random') setTimeout(fire, kill.ms);
    const watch = (d: Buffer) => {
      output += d;
      const epochEnded = (output.match(/^epoch \d\/3/gm) ?? []).length >= target;
      if (kill?.at === 'epoch-line' && epochEnded) fire();
      if (kill?.at === 'blocked-write' && epochEnded) setTimeout(fire, 150);
    };
    p.stdout.on('data', watch);
    p.stderr.on('data', watch);
    const guard = setTimeout(() => p.kill('SIGKILL'), 30_000); // a stuck run fails the test instead of hanging it
    p.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, output: fired ? output : output + (signal ? ` [killed by the 30 s guard]` : '') });
    });
  });
}

describe('SIGKILL at random moments, at checkpoint writes and during resumes', () => {
  it('every chain of killed and resumed runs ends with the uninterrupted model, byte for byte', async () => {
    const d = mkdtempSync(join(tmpdir(), 'backprop-kill-'));
    const reference = join(d, 'reference.safetensors');
    const r = cli([...RUN, '--save', reference]);
    expect(r.code, r.stderr).toBe(0);

    const rng = new Rng(20261127);
    const files = ['model', 'order', 'state'] as const;
    let kills = 0;
    let killedResumes = 0;
    let midCheckpoint = 0;
    let blocked = 0;
    let chains = 0;
    let ck = '';
    let save = '';
    /** Resumes the current chain to the end and checks its model against the reference. */
    const finish = async () => {
      for (let i = 0; i < 4 && !existsSync(save); i++) {
        const o = await runAndKill(ck, save, undefined);
        expect(o.code, o.output).toBe(0);
      }
      expect(readFileSync(save).equals(readFileSync(reference)), `chain ${chains}`).toBe(true);
      expect(existsSync(join(ck, 'lock'))).toBe(false);
    };
    const newChain = () => {
      chains++;
      ck = join(d, `ck-${chains}`);
      save = join(d, `model-${chains}.safetensors`);
    };
    newChain();
    // Kills in turn: a random moment (start-up, data loading, training), the end of an epoch (its
    // checkpoint being written), a write paused inside writeCheckpoint. A run that finishes before its
    // kill ends its chain (checked like the others) and a new chain starts.
    for (let turn = 0; kills < 21 && turn < 60; turn++) {
      const kill: Kill = turn % 3 === 0 ? { at: 'random', ms: 200 + Math.floor(rng.uniform() * 1000) } : turn % 3 === 1 ? { at: 'epoch-line' } : { at: 'blocked-write', file: files[blocked % 3] };
      const wasResume = existsSync(join(ck, 'state.json'));
      const o = await runAndKill(ck, save, kill);
      if (process.env.KILL_DEBUG) console.log(chains, JSON.stringify(kill), o.code, o.signal, o.output.replace(/\n/g, ' | ').slice(0, 300));
      if (o.signal !== 'SIGKILL') {
        expect(o.code, o.output).toBe(0); // it finished before the kill came
        await finish();
        newChain();
        continue;
      }
      kills++;
      if (kill.at === 'blocked-write') blocked++;
      if (wasResume) killedResumes++;
      // What the kill left: the last complete checkpoint, perhaps files of an unfinished one.
      if (existsSync(join(ck, 'state.json'))) {
        const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
        const files = readdirSync(ck);
        expect(files).toContain(state.model);
        expect(files).toContain(state.order);
        if (files.some((f) => f.endsWith('.tmp') || f === `model-${state.generation + 1}.safetensors`)) midCheckpoint++;
      } else if (readdirSync(ck).some((f) => f.endsWith('.tmp') || f.startsWith('model-'))) midCheckpoint++;
      if (kills % 7 === 0 && kills < 21) {
        await finish(); // seven kills a chain, then resumed to the end
        newChain();
      }
    }
    await finish();
    console.log(`kill.test: ${kills} SIGKILLs (${blocked} inside a checkpoint write), ${killedResumes} of resumed runs, ${midCheckpoint} left a checkpoint half-written, ${chains} chains`);
    expect(kills).toBeGreaterThanOrEqual(21);
    expect(chains).toBeGreaterThanOrEqual(3);
    expect(blocked).toBeGreaterThanOrEqual(6); // each of the three files at least twice
    expect(killedResumes).toBeGreaterThanOrEqual(6);
    expect(midCheckpoint).toBeGreaterThanOrEqual(6);
  }, 240_000);
});
