import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/data/dataset.js';
import { decodeIdx, parseIdx } from '../../src/data/idx.js';
import { decodeSafetensors, encodeSafetensors, ModelFileError } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { idxFile } from '../helpers.js';

// Random corruptions of valid files: the readers never crash with anything but
// their typed error, never hang, and return either the original or a
// structurally valid result.

function idx(): Uint8Array {
  const body = Buffer.from(Array.from({ length: 240 }, (_, i) => (i * 37) % 256));
  return new Uint8Array(idxFile(0x08, [12, 5, 4], body));
}

/** A corruption: flip bytes, truncate, insert, or overwrite a run. */
const corruption = (len: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.array(fc.nat(len - 1), { minLength: 1, maxLength: 4 }), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), to: fc.nat(len) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(len), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(len - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  );

type Corruption =
  { kind: 'flip'; at: number[]; mask: number } | { kind: 'truncate'; to: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'overwrite'; at: number; bytes: Uint8Array };

function corrupt(buf: Uint8Array, c: Corruption): Uint8Array {
  const b = Uint8Array.from(buf);
  switch (c.kind) {
    case 'flip':
      for (const i of c.at) b[i] ^= c.mask;
      return b;
    case 'truncate':
      return b.subarray(0, c.to);
    case 'insert':
      return Uint8Array.from([...b.subarray(0, c.at), ...c.bytes, ...b.subarray(c.at)]);
    case 'overwrite':
      b.set(c.bytes.subarray(0, b.length - c.at), c.at);
      return b;
  }
}

/** Runs f; its only allowed exception is `typed`. Returns the result or undefined. */
function typedOrValue<T>(f: () => T, typed: new (...a: never[]) => Error): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof typed)) throw e;
    expect((e as Error).message.split('\n')).toHaveLength(1);
    return undefined;
  }
}

const RUNS = { numRuns: 400, interruptAfterTimeLimit: 20_000 };

describe('fuzzing the IDX reader', () => {
  const raw = idx();
  const original = parseIdx(raw, 'x');

  it('raw: a DataError or a well-formed array (shape × type size = data)', () => {
    fc.assert(
      fc.property(corruption(raw.length), (c) => {
        const r = typedOrValue(() => parseIdx(corrupt(raw, c), 'x'), DataError);
        if (r) expect(r.data.length).toBe(r.shape.reduce((p, d) => p * d, 1));
      }),
      RUNS,
    );
  });

  it('gzip: the original array or a DataError (the CRC catches what the format cannot)', () => {
    const gz = new Uint8Array(gzipSync(raw));
    fc.assert(
      fc.property(corruption(gz.length), (c) => {
        const r = typedOrValue(() => decodeIdx(corrupt(gz, c), 'x.gz'), DataError);
        if (r) {
          expect(r.shape).toEqual(original.shape);
          expect(Array.from(r.data)).toEqual(Array.from(original.data));
        }
      }),
      RUNS,
    );
  });
});

describe('fuzzing the safetensors reader', () => {
  const net = Network.create({ sizes: [6, 4, 3], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(2));
  const bytes = encodeSafetensors(net);
  const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));

  it('a ModelFileError, or a network whose tensors match its own metadata', () => {
    fc.assert(
      fc.property(corruption(bytes.length), (c) => {
        const r = typedOrValue(() => decodeSafetensors(corrupt(bytes, c), 'm.safetensors'), ModelFileError);
        if (r) {
          const n = r.network;
          n.weights.forEach((w, l) => expect([w.rows, w.cols]).toEqual([n.sizes[l + 1], n.sizes[l]]));
          n.biases.forEach((b, l) => expect(b.length).toBe(n.sizes[l + 1]));
        }
      }),
      RUNS,
    );
  });

  it('corruptions that leave the header alone give back the original architecture', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: headerEnd, max: bytes.length - 1 }), { minLength: 1, maxLength: 5 }), (at) => {
        const r = decodeSafetensors(corrupt(bytes, { kind: 'flip', at, mask: 0x55 }), 'm');
        expect(r.network.arch).toEqual(net.arch);
      }),
      { numRuns: 100 },
    );
  });
});
