import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jsKernels, Matrix } from '../../src/linalg/index.js';
import { float32Block } from '../../src/linalg/simd.js';
import { sgdStep, Workspace } from '../../src/nn/backprop.js';
import { col2im, convPasses, im2col, pool, unpool, type ConvBuffers } from '../../src/nn/conv.js';
import { layerGeometry, layerSpecs, parseLayerList, type ConvGeometry, type LayerSpec } from '../../src/nn/layers.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { oneHot, ROOT } from '../helpers.js';

// assets/conv.wasm runs src/nn/conv.ts's loops as WebAssembly SIMD on a
// Workspace's float32 block; it must give the js loops' bits exactly.

/** The geometry of the first layer of `list` on a c×h×w input. */
function geometry(list: string, input: [number, number, number]): ConvGeometry {
  return layerGeometry(input, layerSpecs(parseLayerList(list))).geometry[1]!;
}

/** Values with ties, signed zeros and NaN (max-pooling's edge cases), else uniform in (−1, 1). */
function values(rng: Rng, n: number, special: boolean): Float32Array {
  const x = new Float32Array(n);
  const pick = [-1, -0, 0, 0.5, 1, NaN];
  for (let i = 0; i < n; i++) x[i] = special && rng.uniform() < 0.5 ? pick[rng.int(pick.length)] : 2 * rng.uniform() - 1;
  return x;
}

const bits = (x: Float32Array | Int32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

// valid and padded convolutions, non-square kernels, maps whose pooling drops a row or a column,
// pooled rows of 4k + r windows (the SIMD pooling's rest), padding wider than the output row
const CASES: [string, [number, number, number], number][] = [
  ['conv5x5x4,pool2', [1, 28, 28], 3],
  ['conv5x5x3,pool2', [2, 12, 12], 2],
  ['conv3x2x3,pool2', [2, 7, 5], 3],
  ['conv3x3x2p1,pool2', [2, 6, 9], 2],
  ['conv5x5x2,pool2', [1, 23, 23], 2],
  ['conv4x4x2p2,avgpool2', [3, 5, 6], 2],
  ['conv5x5x2p3', [1, 1, 1], 2],
  ['conv2x3x2p1,pool3', [1, 8, 9], 2],
];

describe('the conv passes in WebAssembly SIMD (assets/conv.wasm)', () => {
  it('assets/conv.wasm is exactly what scripts/conv-kernels.mjs assembles', () => {
    const r = spawnSync(process.execPath, ['scripts/conv-kernels.mjs', '--check'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  for (const [list, input, m] of CASES)
    it(`im2col, col2im, pool and unpool give the js loops' bits: ${list} on ${input.join('×')}, m = ${m}`, () => {
      const g = geometry(list, input);
      const n = g.cIn * g.h * g.w,
        nOut = g.cOut * g.Q,
        cols = g.K * m * g.P,
        a = g.cOut * m * g.P;
      // one block as a Workspace lays it out: input, cols, dCols, A, out, dOut, argmax, dA, then what the js loops write
      const block = float32Block([m * n, cols, cols, a, m * nOut, m * nOut, m * nOut, a, m * n]);
      const wasm = convPasses(block.memory!);
      expect(wasm).toBeDefined();
      const [src, wCols, dCols, A, out, dOut, argmaxF, dA, dSrc] = block.arrays;
      const argmax = new Int32Array(argmaxF.buffer, argmaxF.byteOffset, argmaxF.length);
      const rng = new Rng(7);
      src.set(values(rng, src.length, false));
      dCols.set(values(rng, cols, false));
      A.set(values(rng, a, true));
      dOut.set(values(rng, dOut.length, false));
      wCols.fill(NaN); // every entry is written (the padding's zeros too)
      out.fill(NaN);

      const js = { cols: new Float32Array(cols).fill(NaN), src: new Float32Array(m * n), out: new Float32Array(m * nOut), argmax: new Int32Array(m * nOut), dA: new Float32Array(a) };
      im2col(g, src, m, js.cols);
      im2col(g, src, m, wCols, wasm);
      expect(bits(wCols)).toEqual(bits(js.cols));

      col2im(g, dCols, m, js.src);
      dSrc.fill(NaN); // col2im zeroes its output first
      col2im(g, dCols, m, dSrc, wasm);
      expect(bits(dSrc)).toEqual(bits(js.src));

      pool(g, A, m, js.out, js.argmax);
      pool(g, A, m, out, argmax, wasm);
      expect(bits(out)).toEqual(bits(js.out));
      expect(Array.from(argmax)).toEqual(Array.from(js.argmax));

      unpool(g, dOut, m, js.argmax, js.dA);
      dA.fill(NaN);
      unpool(g, dOut, m, argmax, dA, wasm);
      expect(bits(dA)).toEqual(bits(js.dA));
    });

  it('the passes take arrays in their own memory only; others run the js loops', () => {
    const g = geometry('conv3x3x2,pool2', [1, 6, 6]);
    const block = float32Block([36, g.K * g.P]);
    const wasm = convPasses(block.memory!)!;
    const [src, cols] = block.arrays;
    expect(wasm.holds(src, cols)).toBe(true);
    expect(wasm.holds(src, new Float32Array(4))).toBe(false);
    expect(wasm.holds(new Float64Array(4))).toBe(false);
    src.set(values(new Rng(1), 36, false));
    const plain = new Float32Array(g.K * g.P);
    im2col(g, src, 1, plain, wasm); // plain is not in the memory: the js loop
    im2col(g, src, 1, cols, wasm);
    expect(bits(plain)).toEqual(bits(cols));
  });

  it('a float32 Workspace keeps every conv buffer in its block, so training takes the SIMD passes; float64 ones run the js loops', () => {
    const layers: LayerSpec[] = [...layerSpecs(parseLayerList('conv5x5x4,pool2,conv3x3x6p1,pool2,20')), { kind: 'dense', units: 10 }];
    const input: [number, number, number] = [1, 16, 16];
    const arch = { sizes: layerGeometry(input, layers).sizes, activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood', input, layers } as const;
    const ws = new Workspace(Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', new Rng(1)), 5);
    for (const l of [1, 2]) {
      const c = ws.conv[l]!;
      expect(c.wasm?.holds(c.cols.data, c.out.data, c.dOut.data, c.argmax, ws.z[l].data, ws.a[l].data, ws.delta[l].data, ws.x.data)).toBe(true);
    }
    expect(ws.conv[2]!.wasm?.holds(ws.conv[2]!.dCols!.data)).toBe(true);
    expect(ws.conv[1]!.dCols).toBeUndefined(); // the first layer hands no gradient down
    const ws64 = new Workspace(Network.create({ ...arch, sizes: [...arch.sizes] }, 'he', new Rng(1), 'float64'), 5);
    expect(ws64.conv[1]!.wasm).toBeUndefined();
    expect(ws64.conv[1]!.dCols).toBeUndefined(); // allocated by the first backward pass
  });

  it('SGD steps with the SIMD passes give the same bytes as with the js loops', () => {
    const layers: LayerSpec[] = [...layerSpecs(parseLayerList('conv5x5x4,pool2,conv3x3x6p1,pool2,20')), { kind: 'dense', units: 10 }];
    const input: [number, number, number] = [1, 16, 16];
    const sizes = layerGeometry(input, layers).sizes;
    const arch = { sizes, activation: 'relu' as const, outputActivation: 'softmax' as const, cost: 'log-likelihood' as const, input, layers };
    const rng = new Rng(3);
    const m = 6;
    const x = Float32Array.from({ length: m * sizes[0] }, () => rng.uniform());
    const y = oneHot(
      Array.from({ length: m }, () => rng.int(10)),
      10,
      'float32',
    );
    const trained = (simd: boolean) => {
      const net = Network.create(arch, 'he', new Rng(1));
      const ws = new Workspace(net, m);
      if (!simd) for (const c of ws.conv) if (c) (c as { wasm?: ConvBuffers['wasm'] }).wasm = undefined;
      for (let step = 0; step < 3; step++) {
        ws.input.data.set(x);
        expect(Number.isFinite(sgdStep(net, ws, y, 0.1, 0, jsKernels))).toBe(true);
      }
      return net.weights.map((W: Matrix) => bits(W.data as Float32Array));
    };
    expect(trained(true)).toEqual(trained(false));
  });
});
