import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { float32Block, wasmModule, type ElementPasses } from '../../src/linalg/simd.js';
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
        reluBiasForward: passes.reluBiasForward,
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

  for (const [rows, cols] of [
    [1, 1],
    [3, 5],
    [2, 17],
    [16, 128],
    [7, 1001],
  ])
    it(`the fused bias add and forward pass, z ← z + b then a = max(z, 0), gives the js loop's bits and those of the two passes it replaces (${rows} × ${cols})`, () => {
      const rng = new Rng(rows * cols);
      const n = rows * cols;
      const block = float32Block([n, n]);
      const passes = block.passes as ElementPasses;
      let ran = 0;
      const simd: ElementPasses = { ...passes, reluBiasForward: (...args) => (ran++, passes.reluBiasForward(...args)) };
      const [z, a] = block.arrays;
      z.set(values(n, rng));
      const b = Float32Array.from({ length: rows }, (_, i) => [0, -0, Infinity, NaN, 1e-45][i] ?? rng.normal());
      const z0 = z.slice();
      relu.forwardBias!(new Matrix(rows, cols, z), b, new Matrix(rows, cols, a), simd);
      expect(ran).toBe(1);
      const zc = new Matrix(rows, cols, z0.slice()),
        ac = new Matrix(rows, cols, new Float32Array(n));
      relu.forwardBias!(zc, b, ac); // plain arrays: the js loop
      expect(new Int32Array(z.buffer, z.byteOffset, n)).toEqual(new Int32Array(zc.data.buffer));
      expect(new Int32Array(a.buffer, a.byteOffset, n)).toEqual(new Int32Array(ac.data.buffer));
      // the passes it fuses: Z ← Z + b 1ᵀ (float64 add, rounded on the store), then A ← f(Z)
      const zr = z0.map((v, k) => v + b[Math.floor(k / cols)]),
        ar = new Matrix(rows, cols, new Float32Array(n));
      relu.forward(new Matrix(rows, cols, zr), ar);
      expect(new Int32Array(a.buffer, a.byteOffset, n)).toEqual(new Int32Array(ar.data.buffer));
      expect(new Int32Array(z.buffer, z.byteOffset, n)).toEqual(new Int32Array(zr.buffer));
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

  // Written against the mutants Stryker left alive in src/linalg/simd.ts (npm run test:mutation with vitest.stryker-kernels.config.mjs).
  it('lays the arrays out one after the other, each at a 16-byte boundary, in a memory of just enough 64 KiB pages', () => {
    const block = float32Block([3, 5, 1, 16384]);
    expect(block.arrays.map((x) => [x.byteOffset, x.length])).toEqual([
      [0, 3],
      [16, 5],
      [48, 1],
      [64, 16384],
    ]);
    const buffer = block.arrays[0].buffer;
    expect(block.arrays.every((x) => x.buffer === buffer)).toBe(true);
    expect(buffer.byteLength).toBe(2 * 65536); // 64 + 65536 bytes: two pages
    expect(float32Block([4]).arrays[0].buffer.byteLength).toBe(65536); // one page, as the module starts
    // entries written to one array are not seen in the others
    block.arrays.forEach((x, i) => x.fill(i + 1));
    expect(block.arrays.map((x) => [x[0], x[x.length - 1]])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
    ]);
  });

  it('an empty block (no floats at all) is plain empty arrays, with no passes', () => {
    const block = float32Block([0, 0]);
    expect(block.passes).toBeUndefined();
    expect(block.arrays.map((x) => [x instanceof Float32Array, x.length])).toEqual([
      [true, 0],
      [true, 0],
    ]);
    expect(float32Block([]).arrays).toEqual([]);
  });

  it('each kernel is compiled once per process; a file that does not load gives the first line of its error', () => {
    expect(wasmModule('relu.wasm')).toBe(wasmModule('relu.wasm'));
    expect('module' in wasmModule('relu.wasm')).toBe(true);
    const missing = wasmModule('missing.wasm' as 'relu.wasm');
    expect(missing).toEqual({ error: expect.stringMatching(/^ENOENT: no such file or directory, open '.*missing\.wasm'$/) as unknown });
    expect(wasmModule('missing.wasm' as 'relu.wasm')).toBe(missing);
  });
});
