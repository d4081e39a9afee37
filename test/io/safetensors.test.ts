import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadModel, ModelFileError, recordedOptions, saveModel } from '../../src/io/safetensors.js';
import { convArchitecture, Network } from '../../src/nn/network.js';
import { layerSpecs, parseLayerList } from '../../src/nn/layers.js';
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

// Each refusal of decodeSafetensors with its whole message, and the edges of each check (found by Stryker: a check
// that only a wrong-message or a crash would reveal). The expected messages are written out by hand.
describe('decodeSafetensors: each check at its edge, with its message', () => {
  /** 23 F32 parameters of the 4-3-2 net: 92 data bytes. */
  const DATA = 4 * (12 + 3 + 6 + 2);
  /** A file of a header given as JSON text and the data bytes. */
  const raw = (json: string, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
    const h = Buffer.from(json, 'utf8');
    const out = Buffer.alloc(8 + h.length + data.length);
    out.writeBigUInt64LE(BigInt(h.length));
    h.copy(out, 8);
    out.set(data, 8 + h.length);
    return out;
  };
  /** The net's file with its header edited and `extra` appended to its data. */
  const edited = (edit: (h: Record<string, any>) => void, extra: Uint8Array = new Uint8Array(0), n: Network = net()): Uint8Array => Buffer.concat([withHeader(encodeSafetensors(n), edit), extra]);
  const refusal = (bytes: Uint8Array): string => {
    try {
      decodeSafetensors(bytes, 'm.safetensors');
    } catch (e) {
      expect(e).toBeInstanceOf(ModelFileError);
      expect((e as Error).name).toBe('ModelFileError');
      return (e as Error).message;
    }
    throw new Error('decodeSafetensors accepted it');
  };
  const f64 = (...v: number[]) => new Uint8Array(Float64Array.from(v).buffer);

  it('the error is a ModelFileError by name too (the CLI prints it on one line)', () => {
    expect(new ModelFileError('x').name).toBe('ModelFileError');
  });

  it.each([
    ['8 zero bytes: a header of length 0, which is not JSON (not too short)', new Uint8Array(8), 'm.safetensors: header is not valid JSON'],
    [
      'a header length of exactly the 100 MB limit is allowed, then runs past the end',
      (() => {
        const b = Buffer.alloc(16);
        b.writeBigUInt64LE(100_000_000n);
        return b;
      })(),
      'm.safetensors: header length 100000000 runs past the end of the 16-byte file',
    ],
    [
      'a header that ends exactly at the end of the file: no data',
      encodeSafetensors(net()).subarray(0, 8 + Number(new DataView(encodeSafetensors(net()).buffer).getBigUint64(0, true))),
      'm.safetensors: tensor W1 data_offsets [0, 48] do not hold 12 F32 values inside 0 data bytes',
    ],
    ['a header of null', raw('null'), 'm.safetensors: header is not a JSON object'],
    ['a header of a number', raw('5'), 'm.safetensors: header is not a JSON object'],
    ['a header of a string', raw('"backprop"'), 'm.safetensors: header is not a JSON object'],
    ['a header of a list', raw('[{"__metadata__":{"format":"backprop"}}]'), 'm.safetensors: header is not a JSON object'],
  ])('%s', (_what, bytes, message) => {
    expect(refusal(bytes)).toBe(message);
  });

  const NOT_OURS = 'm.safetensors: not a backprop model (no __metadata__.format = "backprop")';
  it.each<[string, (h: Record<string, any>) => void, string]>([
    ['__metadata__ null', (h) => (h.__metadata__ = null), NOT_OURS],
    ['__metadata__ of another format', (h) => (h.__metadata__.format = 'pytorch'), NOT_OURS],
    [
      'a layer of exactly 2³¹ − 1 units passes the width check, then its tensor has the wrong shape',
      (h) => (h.__metadata__.sizes = '4,2147483647,2'),
      'm.safetensors: tensor W1 has shape [3,4], expected [2147483647,4] for sizes 4,2147483647,2',
    ],
    ['an input shape without layers is a conv net without its layers', (h) => (h.__metadata__.input = '1,2,2'), 'm.safetensors: __metadata__ has input but no layers: a conv net records both'],
    ['layers without an input shape', (h) => (h.__metadata__.layers = 'conv3x3x2'), 'm.safetensors: __metadata__ has layers but no input: a conv net records both'],
    [
      'a hidden softmax: the message without its flag',
      (h) => (h.__metadata__.activation = 'softmax'),
      'm.safetensors: __metadata__ describes a network train refuses: softmax normalises a whole layer into one distribution, it is an output activation; use --activation relu, sigmoid or tanh for hidden layers',
    ],
    [
      'log-likelihood after a sigmoid: a message that does not start with a flag is kept whole',
      (h) => (h.__metadata__.output_activation = 'sigmoid'),
      "m.safetensors: __metadata__ describes a network train refuses: --cost log-likelihood needs --output-activation softmax: with sigmoid it only raises the true class's output, so every output can go to 1 and the cost to 0 (use --cost cross-entropy for a sigmoid output)",
    ],
    ['a tensor entry that is a string', (h) => (h.W1 = 'x'), 'm.safetensors: tensor W1 is missing'],
    ['a tensor entry that is null', (h) => (h.W1 = null), 'm.safetensors: tensor W1 is missing'],
    ['a shape that is not a list', (h) => (h.W1.shape = 'x'), 'm.safetensors: tensor W1 has shape [x], expected [3,4] for sizes 4,3,2'],
    ['a shape that is a prefix of the right one', (h) => (h.W1.shape = [3]), 'm.safetensors: tensor W1 has shape [3], expected [3,4] for sizes 4,3,2'],
    ['a shape with one dimension wrong', (h) => (h.W1.shape = [3, 5]), 'm.safetensors: tensor W1 has shape [3,5], expected [3,4] for sizes 4,3,2'],
    ['data_offsets that are not a list', (h) => (h.W1.data_offsets = '0,48'), `m.safetensors: tensor W1 data_offsets [NaN, NaN] do not hold 12 F32 values inside ${DATA} data bytes`],
    ['data_offsets as strings', (h) => (h.W1.data_offsets = ['0', 48]), `m.safetensors: tensor W1 data_offsets [0, 48] do not hold 12 F32 values inside ${DATA} data bytes`],
    [
      'data_offsets that are fractions 48 bytes apart',
      (h) => (h.W1.data_offsets = [0.5, 48.5]),
      `m.safetensors: tensor W1 data_offsets [0.5, 48.5] do not hold 12 F32 values inside ${DATA} data bytes`,
    ],
    ['data_offsets that start before the data', (h) => (h.W1.data_offsets = [-4, 44]), `m.safetensors: tensor W1 data_offsets [-4, 44] do not hold 12 F32 values inside ${DATA} data bytes`],
    ['data_offsets 4 bytes too long', (h) => (h.W1.data_offsets = [0, 52]), `m.safetensors: tensor W1 data_offsets [0, 52] do not hold 12 F32 values inside ${DATA} data bytes`],
    ['two tensors that overlap, named in order', (h) => (h.b1.data_offsets = [0, 12]), 'm.safetensors: tensors W1 and b1 overlap'],
  ])('refuses %s', (_what, edit, message) => {
    expect(refusal(edited(edit))).toBe(message);
  });

  it.each([
    [NaN, 5, 'NaN'],
    [Infinity, 0, 'Infinity'],
    [-Infinity, 11, '-Infinity'],
  ])('refuses a weight of %s, naming the tensor and the index', (v, i, shown) => {
    const bytes = encodeSafetensors(net());
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    new DataView(bytes.buffer).setFloat32(8 + n + 4 * i, v, true);
    expect(refusal(bytes)).toBe(`m.safetensors: tensor W1 holds ${shown} at index ${i}: a model's weights must be finite`);
  });

  it('refuses tensors of both dtypes: one weight matrix in F64 among F32 tensors', () => {
    const bytes = edited((h) => (h.W1 = { dtype: 'F64', shape: [3, 4], data_offsets: [DATA, DATA + 96] }), f64(...Array.from({ length: 12 }, (_, i) => i / 8)));
    expect(refusal(bytes)).toBe('m.safetensors: tensors mix F32 and F64');
  });

  const bnNet = () => Network.create({ sizes: [4, 3, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood', batchNorm: [1] }, 'xavier', new Rng(9));

  it('refuses tensors of both dtypes: a running mean in F64 in a float32 net', () => {
    const a = bnNet();
    const size = DATA + 4 * 4 * 3; // γ, β, mean and variance of 3 features
    const bytes = edited((h) => (h['bn1.running_mean'] = { dtype: 'F64', shape: [3], data_offsets: [size, size + 24] }), f64(0.5, 0.25, 0), a);
    expect(refusal(bytes)).toBe('m.safetensors: tensors mix F32 and F64');
  });

  it('round-trips batch normalisation in float32; a running variance of 0 is kept, a negative one refused', () => {
    const a = bnNet();
    const n = a.norm[1]!;
    n.params.set([1.5, 2, 0.5, 0.25, -1, 0]);
    n.runningMean.set([0.5, -0.25, 3]);
    n.runningVar.set([2, 0, 0.125]);
    const b = decodeSafetensors(encodeSafetensors(a), 'm').network;
    expect(b.dtype).toBe('float32');
    expect(b.norm[1]!.params).toEqual(Float32Array.from([1.5, 2, 0.5, 0.25, -1, 0]));
    expect(b.norm[1]!.runningMean).toEqual(Float32Array.from([0.5, -0.25, 3]));
    expect(b.norm[1]!.runningVar).toEqual(Float32Array.from([2, 0, 0.125]));
    n.runningVar.set([2, -0.5, 0.125]); // one negative entry among others
    expect(refusal(encodeSafetensors(a))).toBe('m.safetensors: tensor bn1.running_var holds a negative variance');
  });

  // Every tensor of the file must be one the metadata describes (found by a hostile-input hunt: a model whose batch_norm
  // was deleted from its metadata kept its bn tensors and was evaluated as a network without them, 38% instead of 50%).
  it.each<[string, (h: Record<string, any>) => void, string]>([
    [
      'the bn tensors of a layer the metadata does not normalise',
      (h) => delete h.__metadata__.batch_norm,
      'm.safetensors: tensor bn1.weight (and 3 more) is not part of the network its __metadata__ describes (sizes 4,3,2, no batch_norm)',
    ],
    ['a weight matrix beyond the layers of the sizes', (h) => (h.W3 = { ...h.W2 }), 'm.safetensors: tensor W3 is not part of the network its __metadata__ describes (sizes 4,3,2, batch_norm 1)'],
    [
      'a key of another format, its name shown escaped',
      (h) => (h['\u001b[2Jextra'] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] }),
      'm.safetensors: tensor \\x1b[2Jextra is not part of the network its __metadata__ describes (sizes 4,3,2, batch_norm 1)',
    ],
  ])('refuses %s', (_what, edit, message) => {
    expect(refusal(edited(edit, undefined, bnNet()))).toBe(message);
  });

  it("a conv net's stray tensor: the refusal shows the layers its metadata describes", () => {
    const arch = { ...convArchitecture(parseLayerList('conv3x3x2,pool2'), [1, 6, 6], 2, { activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }), batchNorm: [1] };
    const conv = Network.create(arch, 'he', new Rng(4));
    expect(refusal(edited((h) => (h.W3 = { ...h.W2 }), undefined, conv))).toBe(
      'm.safetensors: tensor W3 is not part of the network its __metadata__ describes (sizes 36,8,2, layers conv3x3x2,pool2,2, batch_norm 1)',
    );
  });

  it('a net without hidden layers is not refused for its hidden activation (it has none)', () => {
    const a = Network.create({ sizes: [4, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(2));
    const { network } = decodeSafetensors(
      withHeader(encodeSafetensors(a), (h) => (h.__metadata__.activation = 'softmax')),
      'm',
    );
    expect(network.sizes).toEqual([4, 2]);
    expect(network.arch.activation).toBe('softmax');
    expect(Array.from(network.weights[0].data)).toEqual(Array.from(a.weights[0].data));
  });

  it('writes version "1", and an architecture with a layer list but no input shape as dense (as architectureGeometry reads it)', () => {
    const a = Network.create({ sizes: [4, 3, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood', layers: layerSpecs(parseLayerList('3,2')) }, 'xavier', new Rng(9));
    const bytes = encodeSafetensors(a);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const meta = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString()).__metadata__;
    expect(meta).toEqual({ format: 'backprop', version: '1', sizes: '4,3,2', activation: 'tanh', output_activation: 'softmax', cost: 'log-likelihood' });
  });

  it('loadModel names the flag and the file: a missing file, a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-st-'));
    expect(() => loadModel(join(dir, 'none.safetensors'))).toThrow(new ModelFileError(`--model ${join(dir, 'none.safetensors')}: cannot read (ENOENT)`));
    expect(() => loadModel(dir)).toThrow(new ModelFileError(`--model ${dir}: not a regular file (a directory)`));
  });
});

describe('recordedOptions: the training options a model records, or why not', () => {
  it.each<[string, Record<string, string>, ReturnType<typeof recordedOptions>]>([
    ['none recorded', {}, {}],
    ['an object', { options: '{"lr":0.1,"seed":3}' }, { value: { lr: 0.1, seed: 3 } }],
    ['not JSON', { options: '{lr' }, { problem: '__metadata__.options is not valid JSON (3 characters): the training options are not shown' }],
    ['null', { options: 'null' }, { problem: '__metadata__.options is null, not an object of training options: not shown' }],
    ['a list', { options: '[1]' }, { problem: '__metadata__.options is an array, not an object of training options: not shown' }],
    ['a number', { options: '5' }, { problem: '__metadata__.options is a number, not an object of training options: not shown' }],
    ['a string', { options: '"x"' }, { problem: '__metadata__.options is a string, not an object of training options: not shown' }],
  ])('%s', (_what, metadata, expected) => {
    expect(recordedOptions(metadata)).toStrictEqual(expected);
  });
});
