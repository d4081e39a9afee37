import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { float32Block, simdReluBackward, simdReluForward } from '../../src/linalg/simd.js';
import { relu } from '../../src/nn/activations.js';
import { Workspace } from '../../src/nn/backprop.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';

// The ReLU passes run as wasm SIMD on a Workspace's buffers and as js loops on
// any other float32 arrays: both must give the same bits.
const SPECIAL = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-45, -1e-45, 3.4e38, -3.4e38];

function values(n: number, rng: Rng): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = i < SPECIAL.length ? SPECIAL[i] : rng.normal();
  const bits = new Int32Array(v.buffer);
  bits[3] = 0xffc00000 | 0; // a NaN with the sign bit set
  return v;
}

describe('SIMD ReLU passes', () => {
  for (const n of [1, 3, 4, 17, 1000, 4099])
    it(`forward and backward give the js loops' bits (n = ${n}, with ±0, ±∞, NaNs and subnormals)`, () => {
      const rng = new Rng(n);
      const [z, a, g, d] = float32Block([n, n, n, n]);
      z.set(values(n, rng));
      g.set(values(n, rng).map((x, i) => (i % 2 ? x : rng.normal())));
      const zc = new Matrix(1, n, z.slice()),
        ac = new Matrix(1, n, new Float32Array(n));
      expect(simdReluForward(z, a)).toBe(true);
      relu.forward(zc, ac); // plain arrays: the js loop
      expect(new Int32Array(a.buffer, a.byteOffset, n)).toEqual(new Int32Array(ac.data.buffer));
      const dc = new Matrix(1, n, new Float32Array(n));
      expect(simdReluBackward(z, g, d)).toBe(true);
      relu.backward(zc, ac, new Matrix(1, n, g.slice()), dc);
      expect(new Int32Array(d.buffer, d.byteOffset, n)).toEqual(new Int32Array(dc.data.buffer));
      // in place (δ ← δ ⊙ f′), as backprop calls it
      expect(simdReluBackward(z, g, g)).toBe(true);
      expect(new Int32Array(g.buffer, g.byteOffset, n)).toEqual(new Int32Array(dc.data.buffer));
    });

  it('arrays outside one block fall back to the js loops', () => {
    const [z] = float32Block([8]),
      [a] = float32Block([8]);
    expect(simdReluForward(z, a)).toBe(false); // two different memories
    expect(simdReluForward(new Float32Array(8), new Float32Array(8))).toBe(false);
    expect(simdReluForward(new Float64Array(8), new Float64Array(8))).toBe(false);
  });

  it("a float32 Workspace's buffers share one block (so training takes the SIMD path); float64 ones are plain", () => {
    const arch = { sizes: [7, 5, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
    const ws = new Workspace(Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', new Rng(1)), 6);
    expect(simdReluForward(ws.z[1].data, ws.a[1].data)).toBe(true);
    expect(simdReluBackward(ws.z[1].data, ws.delta[1].data, ws.delta[1].data)).toBe(true);
    expect(ws.x.data.buffer).toBe(ws.z[1].data.buffer);
    const ws64 = new Workspace(Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', new Rng(1), 'float64'), 6);
    expect(ws64.z[1].data).toBeInstanceOf(Float64Array);
  });
});
