import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-opt-'));
const base = ['train', '--limit', '1000', '--test-limit', '200', '--hidden', '32', '--json'];

describe('train --optimizer', () => {
  it('adam state is in the checkpoint: a run continued from epoch 2 ends bit-identical to a straight one', () => {
    const d = tmp();
    const args = [...base, '--optimizer', 'adam', '--beta2', '0.99', '--weight-decay', '1e-4'];
    const straight = cli([...args, '--epochs', '4', '--save', join(d, 'straight.safetensors')]);
    expect(straight.code, straight.stderr).toBe(0);
    expect(straight.stderr).toMatch(/adam β₁=0\.9 β₂=0\.99 ε=1e-8 η=0\.001/);
    const ck = join(d, 'ck');
    const first = cli([...args, '--epochs', '2', '--checkpoint', ck, '--save', join(d, 'resumed.safetensors')]);
    expect(first.code, first.stderr).toBe(0);
    expect(readdirSync(ck).filter((f) => f.startsWith('optimizer-'))).toHaveLength(1);
    const resumed = cli(['train', '--resume', ck, '--epochs', '4', '--json', '--save', join(d, 'resumed.safetensors')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
    expect(JSON.parse(resumed.stdout).epochs.map((e: { loss: number }) => e.loss)).toEqual(JSON.parse(straight.stdout).epochs.map((e: { loss: number }) => e.loss));
  }, 120_000);

  it('without its state the continued run would differ: a checkpoint whose moments are zeroed ends elsewhere', () => {
    const d = tmp();
    const args = [...base, '--optimizer', 'adam'];
    const ck = join(d, 'ck');
    expect(cli([...args, '--epochs', '1', '--checkpoint', ck]).code).toBe(0);
    const file = readdirSync(ck).find((f) => f.startsWith('optimizer-'));
    expect(file).toBeDefined();
    const a = cli(['train', '--resume', ck, '--epochs', '2', '--json', '--checkpoint', join(d, 'a')]);
    expect(a.code, a.stderr).toBe(0);
    const p = join(ck, file!);
    writeFileSync(p, Buffer.alloc(readFileSync(p).length));
    const b = cli(['train', '--resume', ck, '--epochs', '2', '--json', '--checkpoint', join(d, 'b')]);
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).epochs[1].loss).not.toBe(JSON.parse(a.stdout).epochs[1].loss);
  }, 120_000);

  it('a truncated optimizer file is refused with exit 2, naming it', () => {
    const d = tmp();
    const ck = join(d, 'ck');
    expect(cli([...base, '--optimizer', 'nesterov', '--epochs', '1', '--checkpoint', ck]).code).toBe(0);
    const file = readdirSync(ck).find((f) => f.startsWith('optimizer-'))!;
    writeFileSync(join(ck, file), readFileSync(join(ck, file)).subarray(0, 100));
    const r = cli(['train', '--resume', ck, '--epochs', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${file}: 100 bytes, expected \\d+ \\(1 slot of the \\d+ parameters in float32\\)`));
  }, 60_000);

  it('each optimizer trains; a hyper-parameter of another optimizer is a usage error', () => {
    for (const o of ['momentum', 'nesterov', 'adamw']) {
      const r = cli([...base, '--optimizer', o, '--epochs', '2', ...(o === 'adamw' ? ['--weight-decay', '0.01'] : ['--lr', '0.05'])]);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.options.optimizer.name).toBe(o);
      expect(j.testAccuracy).toBeGreaterThan(0.7);
    }
    const bad = cli([...base, '--optimizer', 'momentum', '--beta1', '0.8']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--beta1 0\.8: --optimizer momentum has no such parameter/);
    const range = cli([...base, '--optimizer', 'momentum', '--momentum', '1']);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/--momentum/);
  }, 120_000);

  it('gradcheck --train-steps 20 --optimizer adam and nesterov: parity with tf.train.adam / tf.train.momentum', () => {
    for (const [o, lr] of [
      ['adam', '0.001'],
      ['nesterov', '0.05'],
    ]) {
      const r = cli(['gradcheck', '--hidden', '16', '--coords', '3', '--train-steps', '20', '--optimizer', o, '--lr', lr, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const p = JSON.parse(r.stdout).trainParity;
      expect(p).toMatchObject({ steps: 20, optimizer: o, pass: true });
      expect(p.maxWeightDiff).toBeLessThanOrEqual(1e-4);
    }
  }, 120_000);

  it('--dropout: masks from the seeded RNG (resume bit-identical), evaluation without dropout (evaluate agrees), the seed matters', () => {
    const d = tmp();
    const args = [...base, '--dropout', '0.3', '--optimizer', 'adam'];
    const straight = cli([...args, '--epochs', '2', '--save', join(d, 'straight.safetensors')]);
    expect(straight.code, straight.stderr).toBe(0);
    expect(straight.stderr).toMatch(/dropout 0\.3/);
    const ck = join(d, 'ck');
    expect(cli([...args, '--epochs', '1', '--checkpoint', ck, '--save', join(d, 'resumed.safetensors')]).code).toBe(0);
    expect(cli(['train', '--resume', ck, '--epochs', '2', '--save', join(d, 'resumed.safetensors')]).code).toBe(0);
    expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
    const ev = cli(['evaluate', '--model', join(d, 'straight.safetensors'), '--test-limit', '200', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).accuracy).toBe(JSON.parse(straight.stdout).testAccuracy);
    // Without dropout the same seed trains differently.
    const plain = cli([...base, '--optimizer', 'adam', '--epochs', '2']);
    expect(JSON.parse(plain.stdout).epochs[0].loss).not.toBe(JSON.parse(straight.stdout).epochs[0].loss);
    const none = cli(['train', '--layers', '784,10', '--dropout', '0.5']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--dropout 0\.5: the network 784-10 has no hidden layer/);
  }, 120_000);
});
