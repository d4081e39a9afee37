import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint, resumeNotice, writeCheckpoint } from '../../src/io/checkpoint.js';
import { ModelFileError } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { initialState } from '../../src/train/session.js';
import { newRecord } from '../../src/train/settings.js';

// What computed a checkpoint's weights (provider, thread policy), and what a resume says when that changes.

const TWO = '1 thread below 2^24 multiply-adds (m·n·k), 2 from there';
const blas = { provider: 'blas', providerDetail: 'libopenblas.so.0 (OpenBLAS 0.3.21 Cooperlake)', threads: TWO };

describe('resumeNotice', () => {
  it('nothing for the same provider and policy, or for a checkpoint that predates the record', () => {
    expect(resumeNotice(blas, { ...blas })).toBeUndefined();
    expect(resumeNotice(undefined, blas)).toBeUndefined();
  });

  it('OpenBLAS under another policy (core count, BACKPROP_PARALLEL_WORK): one line saying so', () => {
    expect(resumeNotice(blas, { ...blas, threads: '1 thread' })).toBe(
      `the thread policy differs from the checkpoint's: blas ran with "${TWO}", now "1 thread" (its sums depend on the thread count): the result is not guaranteed to be byte-identical to an uninterrupted run's`,
    );
  });

  it('wasm under another policy: nothing (each element of C is summed by one thread, in one order)', () => {
    const wasm = { provider: 'wasm', threads: TWO };
    expect(resumeNotice(wasm, { ...wasm, threads: '2 threads' })).toBeUndefined();
  });

  it('another provider: says both; what the file says is neutralised for the terminal', () => {
    expect(resumeNotice({ provider: 'js' }, blas)).toBe(
      `the checkpoint was computed on js (its own threads), this run on blas (${TWO}): the result is not guaranteed to be byte-identical to an uninterrupted run's`,
    );
    const n = resumeNotice({ provider: 'wasm\x1b]0;pwned\x07', threads: '\r$ rm -rf ~' }, blas)!;
    expect(n).not.toMatch(/[\x00-\x1f]/);
    expect(n).toContain('wasm\\x1b]0;pwned\\x07');
  });
});

describe('checkpoint kernels record', () => {
  const write = () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-ck-'));
    const net = Network.create({ sizes: [4, 3, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(1));
    const record = newRecord({ data: 'x', lr: 0.5, batchSize: 2, epochs: 1, weightDecay: 0, seed: 1, init: 'normal', backend: 'blas' }, { data: 'x', arch: net.arch });
    writeCheckpoint(dir, net, new Rng(2).state(), initialState(8), record, undefined, blas);
    return dir;
  };

  it('is written to state.json and read back', () => {
    const dir = write();
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).kernels).toEqual(blas);
    expect(readCheckpoint(dir).kernels).toEqual(blas);
  });

  it('a kernels field that is not strings is a ModelFileError naming it', () => {
    const dir = write();
    const path = join(dir, 'state.json');
    const file = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...file, kernels: { provider: 3 } }));
    expect(() => readCheckpoint(dir)).toThrow(ModelFileError);
    expect(() => readCheckpoint(dir)).toThrow(/state\.json: kernels must give the provider/);
  });
});
