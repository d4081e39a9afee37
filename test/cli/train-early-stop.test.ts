import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../src/io/safetensors.js';
import { cli } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-es-'));

describe('train --schedule and --early-stop', () => {
  it('the rate of each epoch is in the metrics (step schedule after a warm-up)', () => {
    const r = cli([
      'train',
      '--limit',
      '500',
      '--test-limit',
      '100',
      '--hidden',
      '16',
      '--epochs',
      '5',
      '--lr',
      '0.4',
      '--schedule',
      'step',
      '--warmup',
      '1',
      '--step-every',
      '2',
      '--decay',
      '0.5',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).epochs.map((e: { lr: number }) => e.lr)).toEqual([0.2, 0.4, 0.4, 0.2, 0.2]);
    expect(r.stderr).toMatch(/step schedule ×0\.5 every 2 epochs after 1 warm-up epoch/);
    expect(r.stderr).toMatch(/epoch 1\/5 {2}η 0\.200/);
  }, 60_000);

  it('stops when the validation loss stops improving, and saves the best epoch (which it names)', () => {
    const d = tmp();
    const file = join(d, 'best.safetensors');
    // A large rate on few examples: the validation loss soon rises.
    const r = cli(['train', '--limit', '300', '--test-limit', '200', '--hidden', '64', '--epochs', '40', '--lr', '0.5', '--early-stop', '2', '--save', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(r.stderr).toMatch(/held out for validation/);
    expect(j.validation).toBeGreaterThan(0);
    const { bestEpoch, stoppedAfter, patience } = j.earlyStop;
    expect(patience).toBe(2);
    expect(stoppedAfter).toBeLessThan(40);
    expect(stoppedAfter - bestEpoch).toBe(2);
    expect(j.epochs).toHaveLength(stoppedAfter);
    const losses = j.epochs.map((e: { validationLoss: number }) => e.validationLoss);
    expect(Math.min(...losses)).toBe(losses[bestEpoch - 1]);
    expect(j.testAccuracy).toBe(j.epochs[bestEpoch - 1].testAccuracy);
    expect(r.stderr).toMatch(new RegExp(`the weights of the best epoch, ${bestEpoch} \\(val-loss`));
    // The saved model is the best epoch's: evaluate gives its test accuracy.
    const m = loadModel(file);
    expect(m.metadata.best_epoch).toBe(String(bestEpoch));
    const ev = cli(['evaluate', '--model', file, '--test-limit', '200', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).accuracy).toBe(j.testAccuracy);
  }, 60_000);

  it('a resumed run keeps the best weights from before the interruption', () => {
    const d = tmp();
    const args = ['train', '--limit', '300', '--test-limit', '200', '--hidden', '64', '--lr', '0.5', '--early-stop', '3', '--json'];
    const straight = cli([...args, '--epochs', '40', '--save', join(d, 'a.safetensors')]);
    expect(straight.code, straight.stderr).toBe(0);
    const ck = join(d, 'ck');
    const best = JSON.parse(straight.stdout).earlyStop.bestEpoch;
    // Stop the second run one epoch after its best, then continue it.
    expect(cli([...args, '--epochs', String(best + 1), '--checkpoint', ck, '--save', join(d, 'b.safetensors')]).code).toBe(0);
    const resumed = cli(['train', '--resume', ck, '--epochs', '40', '--json', '--save', join(d, 'b.safetensors')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout).earlyStop.bestEpoch).toBe(best);
    const a = loadModel(join(d, 'a.safetensors')).network,
      b = loadModel(join(d, 'b.safetensors')).network;
    a.weights.forEach((W, l) => expect(Buffer.from(b.weights[l].data.buffer).equals(Buffer.from(W.data.buffer))).toBe(true));
  }, 120_000);

  it('--decay without a schedule that decays, or --warmup ≥ --epochs, is a usage error', () => {
    const a = cli(['train', '--decay', '0.5']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--decay 0\.5: --schedule constant has no decay factor/);
    const b = cli(['train', '--warmup', '3', '--epochs', '3']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--warmup 3/);
  });
});
