import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backprop-augment-'));
const base = ['train', '--limit', '1000', '--test-limit', '200', '--hidden', '32', '--optimizer', 'adam', '--json'];
const spec = 'shift=1.5,rotate=8,scale=0.1,elastic=34:4';

describe('train --augment', () => {
  it('is in the header, the JSON, the provenance and the model; a run continued from a checkpoint ends bit-identical', () => {
    const d = tmp();
    const args = [...base, '--augment', spec, '--dropout', '0.2'];
    const straight = cli([...args, '--epochs', '2', '--save', join(d, 'straight.safetensors')]);
    expect(straight.code, straight.stderr).toBe(0);
    expect(straight.stderr).toMatch(/dropout 0\.2 · augment shift=1\.5,rotate=8,scale=0\.1,elastic=34:4 · /);
    const j = JSON.parse(straight.stdout);
    const config = { shift: 1.5, rotate: 8, scale: 0.1, elastic: { alpha: 34, sigma: 4 } };
    expect(j.options.augment).toEqual(config);
    expect(j.provenance.options.augment).toEqual(config);
    const meta = decodeSafetensors(readFileSync(join(d, 'straight.safetensors')), 'm').metadata;
    expect(meta.augment).toBe(spec);
    expect(JSON.parse(meta.options).augment).toEqual(config);

    const ck = join(d, 'ck');
    expect(cli([...args, '--epochs', '1', '--checkpoint', ck, '--save', join(d, 'resumed.safetensors')]).code).toBe(0);
    expect(JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8')).options.augment).toEqual(config);
    const resumed = cli(['train', '--resume', ck, '--epochs', '2', '--json', '--save', join(d, 'resumed.safetensors')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/augment shift=1\.5,rotate=8,scale=0\.1,elastic=34:4/);
    expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
    expect(JSON.parse(resumed.stdout).epochs.map((e: { loss: number }) => e.loss)).toEqual(j.epochs.map((e: { loss: number }) => e.loss));

    // A hand-edited σ of 0 is refused as any bad input is.
    const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8'));
    state.options.augment.elastic.sigma = 0;
    const edited = join(d, 'edited');
    cpSync(ck, edited, { recursive: true });
    writeFileSync(join(edited, 'state.json'), JSON.stringify(state));
    const refused = cli(['train', '--resume', edited, '--epochs', '3']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/state\.json: options\.augment: elastic σ 0 must be a positive number/);

    // The run's options come from the checkpoint: --augment with --resume is refused.
    const again = cli(['train', '--resume', ck, '--epochs', '3', '--augment', 'shift']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/drop --augment/);
  }, 120_000);

  it('changes training but not evaluation: the model file scores as the run reported', () => {
    const d = tmp();
    const aug = cli([...base, '--augment', 'shift', '--epochs', '1', '--save', join(d, 'm.safetensors'), '--report', join(d, 'r.html')]);
    const plain = cli([...base, '--epochs', '1']);
    expect(aug.code, aug.stderr).toBe(0);
    expect(JSON.parse(aug.stdout).epochs[0].loss).not.toBe(JSON.parse(plain.stdout).epochs[0].loss);
    const ev = cli(['evaluate', '--model', join(d, 'm.safetensors'), '--test-limit', '200', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).accuracy).toBe(JSON.parse(aug.stdout).testAccuracy);
    expect(readFileSync(join(d, 'r.html'), 'utf8')).toMatch(/augmentation<\/[^>]+>\s*<[^>]+>shift=2</); // the report names the distortions
  }, 60_000);

  it('is refused, exit 2 on one line, for data that are not images and for a spec it cannot parse', () => {
    const d = tmp();
    const csv = join(d, 'points_train.csv');
    writeFileSync(csv, Array.from({ length: 20 }, (_, i) => `${i % 2},0.${i % 7},0.5,0.${i % 3}`).join('\n') + '\n');
    const r = cli(['train', '--data', csv, '--hidden', '4', '--augment', 'shift']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^backprop: error: --augment: .*points_train\.csv is not a set of images \(3 values per example and no rows × cols shape\); it distorts images only\n$/);
    const bad = cli(['train', '--augment', 'blur']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--augment.*"blur": expected shift\[=px\], rotate\[=degrees\], scale\[=s\] or elastic\[=α\[:σ\]\]/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
