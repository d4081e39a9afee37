import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadModel, ModelFileError, saveModel } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { withHeader } from '../helpers.js';

const net = () => Network.create({ sizes: [4, 3, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(9));

describe('safetensors model files', () => {
  it('round-trips weights, biases and architecture exactly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-st-'));
    const a = net();
    saveModel(join(dir, 'm.safetensors'), a, { seed: '9' });
    const { network: b, metadata } = loadModel(join(dir, 'm.safetensors'));
    expect(b.arch).toEqual(a.arch);
    expect(metadata.seed).toBe('9');
    a.weights.forEach((w, l) => expect(Array.from(b.weights[l].data)).toEqual(Array.from(w.data)));
    a.biases.forEach((x, l) => expect(Array.from(b.biases[l])).toEqual(Array.from(x)));
  });

  it('follows the format: u64 LE header length, 8-byte aligned data, F32 little-endian tensors W1, b1, ...', () => {
    const a = net();
    const bytes = encodeSafetensors(a);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const h = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    expect(h.W1).toEqual({ dtype: 'F32', shape: [3, 4], data_offsets: [0, 48] });
    expect(h.b1).toEqual({ dtype: 'F32', shape: [3], data_offsets: [48, 60] });
    expect(h.__metadata__.sizes).toBe('4,3,2');
    expect(new DataView(bytes.buffer).getFloat32(8 + n, true)).toBe(a.weights[0].data[0]);
    expect(bytes.length).toBe(8 + n + 4 * a.parameterCount);
  });

  const corruptions: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
    ['too short', (b) => b.subarray(0, 5), /too short/],
    [
      'huge header length',
      (b) => {
        const c = b.slice();
        new DataView(c.buffer).setBigUint64(0, 1n << 40n, true);
        return c;
      },
      /larger than/,
    ],
    [
      'header past the end',
      (b) => {
        const c = b.slice();
        new DataView(c.buffer).setBigUint64(0, BigInt(b.length), true);
        return c;
      },
      /runs past the end/,
    ],
    [
      'header not JSON',
      (b) => {
        const c = b.slice();
        c[8] = 0x41;
        return c;
      },
      /not valid JSON/,
    ],
    ['not ours', (b) => withHeader(b, (h) => delete h.__metadata__), /not a backprop model/],
    ['missing tensor', (b) => withHeader(b, (h) => delete h.b2), /tensor b2 is missing/],
    ['wrong shape', (b) => withHeader(b, (h) => (h.W1.shape = [4, 3])), /W1 has shape \[4,3\], expected \[3,4\]/],
    ['bad dtype', (b) => withHeader(b, (h) => (h.W1.dtype = 'I8')), /dtype I8/],
    ['offsets outside the file', (b) => withHeader(b, (h) => (h.b2.data_offsets = [1000, 1008])), /data_offsets \[1000, 1008\]/],
    ['overlapping tensors', (b) => withHeader(b, (h) => (h.b1.data_offsets = [0, 12])), /overlap/],
    ['truncated data', (b) => b.subarray(0, b.length - 4), /data_offsets/],
    ['unknown activation', (b) => withHeader(b, (h) => (h.__metadata__.activation = 'swish')), /activation "swish"/],
  ];
  for (const [what, corrupt, msg] of corruptions)
    it(`rejects ${what}`, () => {
      const bytes = corrupt(encodeSafetensors(net()));
      expect(() => decodeSafetensors(bytes, 'm.safetensors')).toThrow(ModelFileError);
      expect(() => decodeSafetensors(bytes, 'm.safetensors')).toThrow(msg);
    });

  it('writes atomically: no temporary file is left behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-st-'));
    saveModel(join(dir, 'x.safetensors'), net());
    expect(readFileSync(join(dir, 'x.safetensors')).length).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(['x.safetensors']);
  });
});
