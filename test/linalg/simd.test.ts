import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { float32Block, type ElementPasses } from '../../src/linalg/simd.js';
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
      const block = float32Block([n, n, n, n]);
      const passes = block.passes as ElementPasses;
      expect(passes).toBeDefined();
      // Counted, so that the test knows the SIMD passes ran (their bits and the loops' are meant to be the same).
      let ran = 0;
      const simd: ElementPasses = {
        holds: passes.holds,
        reluForward: (...args) => (ran++, passes.reluForward(...args)),
        reluBackward: (...args) => (ran++, passes.reluBackward(...args)),
      };
      const [z, a, g, d] = block.arrays;
      expect(simd.holds(z, a, g, d)).toBe(true);
      z.set(values(n, rng));
      g.set(values(n, rng).map((x, i) => (i % 2 ? x : rng.normal())));
      const zc = new Matrix(1, n, z.slice()),
        ac = new Matrix(1, n, new Float32Array(n));
      relu.forward(new Matrix(1, n, z), new Matrix(1, n, a), simd);
      relu.forward(zc, ac, simd); // plain arrays, which the block does not hold: the js loop
      expect(new Int32Array(a.buffer, a.byteOffset, n)).toEqual(new Int32Array(ac.data.buffer));
      const dc = new Matrix(1, n, new Float32Array(n));
      relu.backward(new Matrix(1, n, z), new Matrix(1, n, a), new Matrix(1, n, g), new Matrix(1, n, d), simd);
      relu.backward(zc, ac, new Matrix(1, n, g.slice()), dc);
      expect(new Int32Array(d.buffer, d.byteOffset, n)).toEqual(new Int32Array(dc.data.buffer));
      // in place (δ ← δ ⊙ f′), as backprop calls it
      relu.backward(new Matrix(1, n, z), new Matrix(1, n, a), new Matrix(1, n, g), new Matrix(1, n, g), simd);
      expect(new Int32Array(g.buffer, g.byteOffset, n)).toEqual(new Int32Array(dc.data.buffer));
      expect(ran).toBe(3);
    });

  it('a block holds only its own float32 arrays (others take the js loops)', () => {
    const one = float32Block([8]),
      two = float32Block([8]);
    const simd = one.passes as ElementPasses;
    expect(simd.holds(one.arrays[0], two.arrays[0])).toBe(false); // two different memories
    expect(simd.holds(new Float32Array(8))).toBe(false);
    expect(simd.holds(new Float64Array(8))).toBe(false);
    // and a pass that does run on them does not write outside the arrays it was given
    const z = Float32Array.from([-1, 2, -3, 4, -5, 6, -7, 8]);
    const [a] = one.arrays;
    a.fill(9);
    relu.forward(new Matrix(1, 8, z), new Matrix(1, 8, a), simd);
    expect(Array.from(a)).toEqual([0, 2, 0, 4, 0, 6, 0, 8]);
  });

  it("a float32 Workspace's buffers share one block (so training takes the SIMD path); float64 ones are plain", () => {
    const arch = { sizes: [7, 5, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
    const ws = new Workspace(Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', new Rng(1)), 6);
    expect(ws.simd?.holds(ws.z[1].data, ws.a[1].data, ws.delta[1].data, ws.x.data)).toBe(true);
    const ws64 = new Workspace(Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', new Rng(1), 'float64'), 6);
    expect(ws64.z[1].data).toBeInstanceOf(Float64Array);
    expect(ws64.simd).toBeUndefined();
  });
});
