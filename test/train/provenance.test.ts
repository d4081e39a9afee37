import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { blasInfo, packageVersion, SCHEMA_VERSION } from '../../src/io/provenance.js';
import { providerFor } from '../../src/linalg/precision.js';
import { cli, NIELSEN_CH1, ROOT } from '../helpers.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const quick = ['--limit', '500', '--test-limit', '200', '--hidden', '8', '--epochs', '1'];

function expectProvenance(p: Record<string, any>, dtype: string) {
  expect(p.backprop).toBe(pkg.version);
  expect(p.node).toBe(process.version);
  expect(p.platform).toBe(`${process.platform}-${process.arch}`);
  expect(['blas', 'tensorflow', 'wasm', 'js']).toContain(p.provider);
  expect(p.dtype).toBe(dtype);
  if (p.provider === 'blas') expect(p.blas.library).toBe(p.providerDetail.split(' (')[0]);
}

describe('provenance', () => {
  it('train --json and the saved model record version, Node, platform, provider, BLAS, dtype, seed and every option', () => {
    const d = mkdtempSync(join(tmpdir(), 'bp-prov-'));
    const r = cli(['train', ...quick, '--seed', '7', '--json', '--save', join(d, 'm.safetensors')]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.schemaVersion).toBe(SCHEMA_VERSION);
    expectProvenance(j.provenance, 'float32');
    expect(j.provenance.seed).toBe(7);
    expect(j.provenance.provider).toBe(j.options.backend);
    expect(j.provenance.options).toMatchObject({ data: 'embedded', limit: 500, testLimit: 200, lr: 0.2, batchSize: 32, epochs: 1, weightDecay: 0, seed: 7, dtype: 'float32', init: 'he' });
    expect(j.provenance.options.arch).toEqual({ sizes: [784, 8, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' });

    const meta = decodeSafetensors(readFileSync(join(d, 'm.safetensors')), 'm').metadata;
    expect(meta).toMatchObject({ backprop_version: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}`, provider: j.provenance.provider, dtype: 'float32', seed: '7' });
    expect(JSON.parse(meta.options)).toEqual(j.provenance.options);
    if (j.provenance.blas) expect(meta.blas_library).toBe(j.provenance.blas.library);

    const e = cli(['evaluate', '--model', join(d, 'm.safetensors'), '--test-limit', '200', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const ej = JSON.parse(e.stdout);
    expect(ej.schemaVersion).toBe(SCHEMA_VERSION);
    expectProvenance(ej.provenance, 'float32');
    expect(ej.accuracy).toBe(j.testAccuracy);
  }, 60_000);

  it('compare --json records it too, with its dtype', () => {
    const r = cli(['compare', '--hidden', '5', '--epochs', '1', '--limit', '300', '--test-limit', '100', '--eval-size', '100', '--dtype', 'float64', '--seed', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.schemaVersion).toBe(SCHEMA_VERSION);
    expectProvenance(j.provenance, 'float64');
    expect(j.provenance.seed).toBe(3);
    expect(j.provenance.options).toMatchObject({ hidden: [5], epochs: 1, limit: 300, activations: ['sigmoid', 'relu'], dtype: 'float64' });
  }, 60_000);

  it('the version comes from package.json', () => {
    expect(packageVersion()).toBe(pkg.version);
    expect(cli(['--version']).stdout.trim()).toBe(pkg.version);
  });

  it("reads library, version and core type from OpenBLAS's self-description", () => {
    expect(blasInfo('libopenblas.so.0 (OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64)')).toMatchObject({
      library: 'libopenblas.so.0',
      version: 'OpenBLAS 0.3.21',
      coreType: 'Cooperlake',
    });
    expect(blasInfo('libopenblas.so.0 (OpenBLAS 0.3.26 DYNAMIC_ARCH; core Haswell)').coreType).toBe('Haswell');
    expect(blasInfo('libblas.so.3')).toMatchObject({ library: 'libblas.so.3', version: undefined, coreType: undefined });
  });
});

describe('--dtype', () => {
  it('float64 trains with float64 weights, saved as F64, and evaluates to the same accuracy', () => {
    const d = mkdtempSync(join(tmpdir(), 'bp-f64-'));
    const nielsen = [...NIELSEN_CH1, '--epochs', '2', '--limit', '2000', '--test-limit', '500'];
    const f64 = cli(['train', ...nielsen, '--dtype', 'float64', '--json', '--save', join(d, 'm64.safetensors')]);
    const f32 = cli(['train', ...nielsen, '--json']);
    expect(f64.code, f64.stderr).toBe(0);
    const j64 = JSON.parse(f64.stdout),
      j32 = JSON.parse(f32.stdout);
    expect(j64.provenance.dtype).toBe('float64');
    expect(['blas', 'js']).toContain(j64.provenance.provider);
    // float32 rounding changes the numbers, not the learning
    expect(j64.epochs[0].loss).not.toBe(j32.epochs[0].loss);
    expect(Math.abs(j64.testAccuracy - j32.testAccuracy)).toBeLessThan(0.05);
    const bytes = readFileSync(join(d, 'm64.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    expect(JSON.parse(bytes.subarray(8, 8 + n).toString()).W1.dtype).toBe('F64');
    const e = cli(['evaluate', '--model', join(d, 'm64.safetensors'), '--test-limit', '500', '--json']);
    expect(JSON.parse(e.stdout)).toMatchObject({ accuracy: j64.testAccuracy });
    expect(JSON.parse(e.stdout).provenance.dtype).toBe('float64');
  }, 60_000);

  it('a float32-only provider asked for float64 falls back to one that computes float64, and says so on one line', async () => {
    const c = await providerFor('wasm', 'float64');
    expect(['blas', 'js']).toContain(c.provider.name);
    expect(c.fallback).toBe(`--backend wasm computes in float32 only: --dtype float64 runs on ${c.provider.name}`);
    expect((await providerFor('js', 'float64')).fallback).toBeUndefined();
    const r = cli(['train', ...quick, '--backend', 'wasm', '--dtype', 'float64', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(c.fallback);
    expect(JSON.parse(r.stdout).provenance.provider).toBe(c.provider.name);
  }, 60_000);

  it('an unknown --dtype is a one-line usage error', () => {
    const r = cli(['train', '--dtype', 'float16']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--dtype.*expected float32 or float64/);
  });

  it('the same seed, provider and dtype give byte-identical model files', () => {
    const d = mkdtempSync(join(tmpdir(), 'bp-same-'));
    for (const f of ['a', 'b']) expect(cli(['train', ...quick, '--dtype', 'float64', '--save', join(d, `${f}.safetensors`)]).code).toBe(0);
    expect(readFileSync(join(d, 'a.safetensors')).equals(readFileSync(join(d, 'b.safetensors')))).toBe(true);
  }, 60_000);
});

describe('every --json result carries schemaVersion and provenance', () => {
  for (const args of [['grad', 'x*y', '--at', 'x=1,y=2'], ['info'], ['datasets'], ['gradcheck', '--no-tfjs', '--layers', '784,5,10', '--batch-size', '2']])
    it(`${args[0]}: at least the version, Node and platform`, () => {
      const r = cli([...args, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.schemaVersion).toBe(SCHEMA_VERSION);
      expect(j.provenance).toMatchObject({ backprop: packageVersion(), node: process.version, platform: `${process.platform}-${process.arch}` });
    });
});
