import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadModel, ModelFileError, saveModel } from '../../src/io/safetensors.js';
import { convArchitecture, Network } from '../../src/nn/network.js';
import { parseLayerList } from '../../src/nn/layers.js';
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
    ['unknown output activation', (b) => withHeader(b, (h) => (h.__metadata__.output_activation = 'gelu')), /: __metadata__\.output_activation "gelu" is not a known activation$/],
    ['unknown cost', (b) => withHeader(b, (h) => (h.__metadata__.cost = 'hinge')), /: __metadata__\.cost "hinge" is not a known cost$/],
    ['sizes with a word', (b) => withHeader(b, (h) => (h.__metadata__.sizes = '4,x,2')), /: __metadata__\.sizes "4,x,2" is not a list of positive integers$/],
    ['one size', (b) => withHeader(b, (h) => (h.__metadata__.sizes = '4')), /: __metadata__\.sizes "4" is not a list of positive integers$/],
    ['a size 0', (b) => withHeader(b, (h) => (h.__metadata__.sizes = '4,0,2')), /: __metadata__\.sizes "4,0,2" is not a list of positive integers$/],
    ['no sizes', (b) => withHeader(b, (h) => delete h.__metadata__.sizes), /: __metadata__\.sizes "undefined" is not a list of positive integers$/],
    ['a layer wider than an array', (b) => withHeader(b, (h) => (h.__metadata__.sizes = '4,2147483648,2')), /: __metadata__\.sizes holds 2147483648, more units than a layer can have \(2147483647\)$/],
    ['a conv input of two numbers', (b) => withHeader(b, (h) => ((h.__metadata__.input = '1,2'), (h.__metadata__.layers = 'conv3x3x2'))), /: __metadata__\.input "1,2" is not channels,rows,cols$/],
    ['a conv input of 0 rows', (b) => withHeader(b, (h) => ((h.__metadata__.input = '1,0,2'), (h.__metadata__.layers = 'conv3x3x2'))), /: __metadata__\.input "1,0,2" is not channels,rows,cols$/],
    ['layers that do not parse', (b) => withHeader(b, (h) => ((h.__metadata__.input = '1,2,2'), (h.__metadata__.layers = 'conv3'))), /: __metadata__\.layers "conv3" is refused: /],
    ['layers that do not give the sizes', (b) => withHeader(b, (h) => ((h.__metadata__.input = '1,2,2'), (h.__metadata__.layers = '5'))), /: __metadata__\.layers "5" does not give the sizes 4,3,2$/],
    ['batch_norm of the input layer', (b) => withHeader(b, (h) => (h.__metadata__.batch_norm = '0')), /: __metadata__\.batch_norm "0" is not an ascending list of hidden layers 1\.\.1$/],
    ['batch_norm of the output layer', (b) => withHeader(b, (h) => (h.__metadata__.batch_norm = '2')), /: __metadata__\.batch_norm "2" is not an ascending list of hidden layers 1\.\.1$/],
    ['batch_norm repeated', (b) => withHeader(b, (h) => (h.__metadata__.batch_norm = '1,1')), /: __metadata__\.batch_norm "1,1" is not an ascending list/],
    ['batch_norm a word', (b) => withHeader(b, (h) => (h.__metadata__.batch_norm = 'x')), /: __metadata__\.batch_norm "x" is not an ascending list/],
    ['a hidden softmax', (b) => withHeader(b, (h) => (h.__metadata__.activation = 'softmax')), /: __metadata__ describes a network train refuses: /],
    ['header an array', (b) => withHeader(b, (h) => Object.keys(h).forEach((k) => delete h[k])), /: not a backprop model/],
  ];
  for (const [what, corrupt, msg] of corruptions)
    it(`rejects ${what}`, () => {
      const bytes = corrupt(encodeSafetensors(net()));
      expect(() => decodeSafetensors(bytes, 'm.safetensors')).toThrow(ModelFileError);
      expect(() => decodeSafetensors(bytes, 'm.safetensors')).toThrow(msg);
    });

  it('round-trips a conv net with batch normalisation (γ, β and the running statistics), in float64, bit for bit', () => {
    const arch = { ...convArchitecture(parseLayerList('conv3x3x2p1,avgpool2,5'), [1, 6, 6], 3, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }), batchNorm: [1, 2] };
    const a = Network.create(arch, 'he', new Rng(4), 'float64');
    a.norm.forEach((n, l) => n && [n.params, n.runningMean, n.runningVar].forEach((v, k) => v.forEach((_, i, x) => (x[i] = 0.1 * (l + k + i) + 0.5))));
    const b = decodeSafetensors(encodeSafetensors(a), 'm').network;
    expect(b.dtype).toBe('float64');
    expect(b.arch).toEqual(a.arch);
    a.weights.forEach((W, l) => expect(Array.from(b.weights[l].data)).toEqual(Array.from(W.data)));
    a.biases.forEach((x, l) => expect(Array.from(b.biases[l])).toEqual(Array.from(x)));
    a.norm.forEach((n, l) => {
      if (!n) return expect(b.norm[l]).toBeFalsy();
      expect([Array.from(b.norm[l]!.params), Array.from(b.norm[l]!.runningMean), Array.from(b.norm[l]!.runningVar)]).toEqual([
        Array.from(n.params),
        Array.from(n.runningMean),
        Array.from(n.runningVar),
      ]);
    });
  });

  it('writes atomically: no temporary file is left behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-st-'));
    saveModel(join(dir, 'x.safetensors'), net());
    expect(readFileSync(join(dir, 'x.safetensors')).length).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(['x.safetensors']);
  });
});
