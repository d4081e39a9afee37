import { describe, expect, it, vi } from 'vitest';
import { Matrix, jsKernels, loadProvider, PROVIDERS } from '../../src/linalg/index.js';
import { float32Block } from '../../src/linalg/simd.js';
import { backprop, feedforward, Gradients, sgdStep, Workspace, drawDropoutMasks } from '../../src/nn/backprop.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import {
  batchNormLayers,
  formatLayers,
  hasConv,
  layerGeometry,
  layerSpecs,
  outputShape,
  parseLayerList,
  parseLayerToken,
  workspaceBytes,
  type ConvGeometry,
  type LayerSpec,
} from '../../src/nn/layers.js';
import { Rng } from '../../src/base/rng.js';
import { col2im, convPasses, im2col, pool, rotateKernels, unpool, type ConvPasses } from '../../src/nn/conv.js';
import { numericalGradients } from '../../src/check/finite-diff.js';
import { compare } from '../../src/check/compare.js';
import type { ActivationName } from '../../src/nn/activations.js';
import { oneHot } from '../helpers.js';

/** A conv arch from a layer list (the output layer appended), on a c×h×w input. */
function convArch(list: string, input: [number, number, number], classes: number, activation: ActivationName = 'tanh'): Architecture {
  const layers: LayerSpec[] = [...layerSpecs(parseLayerList(list)), { kind: 'dense', units: classes }];
  const { sizes } = layerGeometry(input, layers);
  return { sizes, activation, outputActivation: 'softmax', cost: 'log-likelihood', input, layers };
}

function batch(rng: Rng, m: number, n: number, classes: number, dtype: 'float32' | 'float64' = 'float64') {
  const x = Matrix.zeros(m, n, dtype);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform();
  const y = oneHot(
    Array.from({ length: m }, () => rng.int(classes)),
    classes,
    dtype,
  );
  return { x, y };
}

describe('the layer syntax', () => {
  it('parses conv, padding, max and average pooling and dense sizes, and writes them back', () => {
    const specs = layerSpecs(parseLayerList('conv5x5x20,pool2,conv3x3x8p1,avgpool2,100'));
    expect(specs).toEqual([
      { kind: 'conv', kh: 5, kw: 5, channels: 20, padding: 0, pool: { kind: 'max', size: 2 } },
      { kind: 'conv', kh: 3, kw: 3, channels: 8, padding: 1, pool: { kind: 'avg', size: 2 } },
      { kind: 'dense', units: 100 },
    ]);
    expect(formatLayers(specs)).toBe('conv5x5x20,pool2,conv3x3x8p1,avgpool2,100');
    // 28 → 24 → 12 → (pad 1) 12 → 6: 20·12·12 = 2880, 8·6·6 = 288
    expect(layerGeometry([1, 28, 28], specs).sizes).toEqual([784, 2880, 288, 100]);
  });

  it('refuses with one line naming the token', () => {
    expect(() => parseLayerList('conv5x5,100')).toThrow(/^layer "conv5x5" is not a size/);
    expect(() => layerSpecs(parseLayerList('pool2,100'))).toThrow('layer "maxpool2" must follow a conv layer');
    expect(() => layerSpecs(parseLayerList('conv3x3x4,pool2,pool2'))).toThrow('follows another pooling');
    expect(() => layerSpecs(parseLayerList('100,conv3x3x4'))).toThrow('layer "conv3x3x4" follows a dense layer');
    expect(() => layerGeometry([1, 4, 4], layerSpecs(parseLayerList('conv5x5x2')))).toThrow('layer "conv5x5x2": a 5×5 kernel does not fit its 4×4 input');
    expect(() => layerGeometry([1, 4, 4], layerSpecs(parseLayerList('conv3x3x2,pool3')))).toThrow('smaller than one pooling window');
    expect(() => parseLayerList('conv0x3x2')).toThrow('layer "conv0x3x2"');
  });
});

describe('the layer syntax, token by token', () => {
  it('reads whole tokens only (trimmed), sizes of several digits, and refuses 0 and anything around a token', () => {
    expect(parseLayerToken(' 30 ')).toBe(30);
    expect(parseLayerToken('conv12x13x14p10')).toEqual({ kind: 'conv', kh: 12, kw: 13, channels: 14, padding: 10 });
    expect(parseLayerToken('pool12')).toEqual({ kind: 'pool', pool: { kind: 'max', size: 12 } });
    expect(parseLayerToken('maxpool2')).toEqual({ kind: 'pool', pool: { kind: 'max', size: 2 } });
    expect(parseLayerToken('avgpool2')).toEqual({ kind: 'pool', pool: { kind: 'avg', size: 2 } });
    for (const bad of ['0', '30a', 'a30', '+30', '1e3', '0x10', 'xconv3x3x4', 'conv3x3x4y', 'xpool2', 'pool2x']) expect(() => parseLayerToken(bad), bad).toThrow(`layer "${bad}"`);
  });

  it('layerSpecs refuses a bn token; layerGeometry refuses a conv after a dense layer, a kernel or a pooling too big in either direction, a padding as large as the kernel', () => {
    expect(() => layerSpecs(parseLayerList('30,bn'))).toThrow(/^layer "bn" here: take the bn tokens out first \(batchNormLayers\)$/);
    const conv = (kh: number, kw: number, padding = 0, size?: number): LayerSpec => ({ kind: 'conv', kh, kw, channels: 2, padding, ...(size ? { pool: { kind: 'max' as const, size } } : {}) });
    const geometry =
      (input: [number, number, number], ...specs: LayerSpec[]) =>
      () =>
        layerGeometry(input, [...specs, { kind: 'dense', units: 3 }]);
    expect(geometry([1, 6, 6], { kind: 'dense', units: 5 }, conv(3, 3))).toThrow(/^layer "conv3x3x2" follows a dense layer: conv layers read images, so they come first$/);
    expect(geometry([1, 4, 4], conv(5, 2))).toThrow(/^layer "conv5x2x2": a 5×2 kernel does not fit its 4×4 input$/);
    expect(geometry([1, 4, 4], conv(2, 5))).toThrow(/^layer "conv2x5x2": a 2×5 kernel does not fit its 4×4 input$/);
    expect(geometry([1, 1, 1], conv(5, 5, 1))).toThrow(/^layer "conv5x5x2p1": a 5×5 kernel does not fit its 1×1 input padded by 1$/);
    expect(geometry([1, 4, 4], conv(2, 4))).not.toThrow(); // one column of positions
    expect(geometry([1, 6, 6], conv(3, 3, 3))).toThrow(/^layer "conv3x3x2p3": padding 3 must be smaller than the kernel$/);
    expect(geometry([1, 6, 6], conv(3, 1, 2))).not.toThrow(); // smaller than the larger side
    expect(geometry([1, 4, 6], conv(3, 1, 0, 4))).toThrow(/^layer "maxpool4": the 2×6 maps of "conv3x1x2" are smaller than one pooling window$/);
    expect(geometry([1, 6, 4], conv(1, 3, 0, 4))).toThrow(/^layer "maxpool4": the 6×2 maps of "conv1x3x2" are smaller than one pooling window$/);
  });
});

describe('a conv layer against a direct loop', () => {
  it('Z = W cols(A) + b is the cross-correlation Σ W(co,ci,i,j) x(ci, y+i−p, x+j−p) + b, then max- and average-pooling', () => {
    for (const [list, pad] of [
      ['conv3x2x3,pool2', 0],
      ['conv3x3x2p1,avgpool2', 1],
    ] as const) {
      const arch = convArch(list, [2, 6, 5], 3, 'linear');
      const net = Network.create(arch, 'xavier', new Rng(3), 'float64');
      const rng = new Rng(4);
      const m = 3;
      const { x } = batch(rng, m, arch.sizes[0], 3);
      const ws = new Workspace(net, m);
      ws.input.data.set(x.data);
      feedforward(net, ws, jsKernels);
      const g = net.geometry[1]!;
      const { kh, kw } = g.spec;
      const W = net.weights[0].data,
        b = net.biases[0];
      for (let e = 0; e < m; e++)
        for (let co = 0; co < g.cOut; co++)
          for (let qy = 0; qy < g.ph; qy++)
            for (let qx = 0; qx < g.pw; qx++) {
              const window: number[] = [];
              for (let dy = 0; dy < 2; dy++)
                for (let dx = 0; dx < 2; dx++) {
                  const oy = qy * 2 + dy,
                    ox = qx * 2 + dx;
                  let z = b[co];
                  for (let ci = 0; ci < g.cIn; ci++)
                    for (let i = 0; i < kh; i++)
                      for (let j = 0; j < kw; j++) {
                        const yy = oy + i - pad,
                          xx = ox + j - pad;
                        if (yy < 0 || yy >= 6 || xx < 0 || xx >= 5) continue;
                        z += W[((co * g.cIn + ci) * kh + i) * kw + j] * x.data[e * 60 + ci * 30 + yy * 5 + xx];
                      }
                  window.push(z);
                }
              const want = pad ? window.reduce((s, v) => s + v, 0) / 4 : Math.max(...window);
              expect(ws.conv[1]!.out.data[e * g.cOut * g.Q + co * g.Q + qy * g.pw + qx]).toBeCloseTo(want, 12);
            }
    }
  });
});

describe('conv backprop against finite differences (float64)', () => {
  const cases: [string, [number, number, number], ActivationName][] = [
    ['conv3x3x4,pool2', [1, 8, 8], 'tanh'],
    ['conv3x3x3p1,avgpool2,6', [2, 6, 6], 'sigmoid'],
    ['conv3x3x3,conv2x2x4,pool2,5', [1, 7, 7], 'tanh'],
    ['conv2x3x2,maxpool2,conv2x2x3,avgpool2', [1, 9, 10], 'tanh'],
    ['conv3x3x4', [1, 5, 5], 'leaky-relu'],
  ];
  for (const [list, input, act] of cases)
    it(`${list} on ${input.join('×')}, ${act}: every W and b`, () => {
      const arch = convArch(list, input, 4, act);
      const net = Network.create(arch, 'xavier', new Rng(7), 'float64');
      for (const b of net.biases) for (let i = 0; i < b.length; i++) b[i] = 0.1 * (i % 3) - 0.1;
      const { x, y } = batch(new Rng(8), 3, arch.sizes[0], 4);
      const ws = new Workspace(net, 3);
      ws.input.data.set(x.data);
      const grads = new Gradients(net);
      backprop(net, ws, y, grads, jsKernels);
      const fd = numericalGradients(net, x, y, 1e-5);
      for (let l = 0; l < net.depth; l++) {
        expect(compare(grads.gradW[l].data, fd.gradW[l], 1e-6, 1e-9).violations, `W${l + 1}`).toBe(0);
        expect(compare(grads.gradB[l], fd.gradB[l], 1e-6, 1e-9).violations, `b${l + 1}`).toBe(0);
      }
    });

  it('the gradient check can fail: a kernel applied flipped gives a different gradient', () => {
    const arch = convArch('conv3x3x2,pool2', [1, 6, 6], 3);
    const net = Network.create(arch, 'xavier', new Rng(1), 'float64');
    const { x, y } = batch(new Rng(2), 2, 36, 3);
    const ws = new Workspace(net, 2);
    ws.input.data.set(x.data);
    const grads = new Gradients(net);
    backprop(net, ws, y, grads, jsKernels);
    const flipped = Float64Array.from(grads.gradW[0].data);
    for (let r = 0; r < 2; r++) flipped.subarray(r * 9, r * 9 + 9).reverse();
    const fd = numericalGradients(net, x, y, 1e-5);
    expect(compare(flipped, fd.gradW[0], 1e-6, 1e-9).violations).toBeGreaterThan(0);
  });
});

describe('the training step on a conv net', () => {
  it('sgdStep is backprop followed by W ← (1 − ηλ)W − η∂C/∂W, b ← b − η∂C/∂b', () => {
    const arch = convArch('conv3x3x4,pool2,8', [1, 8, 8], 3, 'relu');
    const net = Network.create(arch, 'he', new Rng(5), 'float64');
    const other = net.clone();
    const { x, y } = batch(new Rng(6), 4, 64, 3);
    const [lr, wd] = [0.3, 0.01];
    const ws = new Workspace(net, 4);
    ws.input.data.set(x.data);
    const grads = new Gradients(net);
    const t1 = backprop(net, ws, y, grads, jsKernels);
    const ws2 = new Workspace(other, 4);
    ws2.input.data.set(x.data);
    const t2 = sgdStep(other, ws2, y, lr, wd, jsKernels);
    expect(t2).toBe(t1);
    for (let l = 0; l < net.depth; l++) {
      const W = net.weights[l].data;
      for (let i = 0; i < W.length; i++) expect(other.weights[l].data[i]).toBeCloseTo((1 - lr * wd) * W[i] - lr * grads.gradW[l].data[i], 14);
      for (let i = 0; i < net.biases[l].length; i++) expect(other.biases[l][i]).toBeCloseTo(net.biases[l][i] - lr * grads.gradB[l][i], 14);
    }
  });

  it('dropout drops units of the dense layers only (a conv layer has no mask), and finite differences agree under a fixed mask', () => {
    const arch = convArch('conv3x3x2,pool2,6', [1, 6, 6], 3, 'tanh');
    const net = Network.create(arch, 'xavier', new Rng(9), 'float64');
    const { x, y } = batch(new Rng(10), 2, 36, 3);
    const ws = new Workspace(net, 2);
    ws.enableDropout();
    ws.input.data.set(x.data);
    const rng = new Rng(11);
    drawDropoutMasks(ws, 0.5, () => rng.uniform());
    expect(ws.mask![1].data.length).toBe(0);
    expect(ws.mask![2].data.length).toBe(12);
    const grads = new Gradients(net);
    backprop(net, ws, y, grads, jsKernels);
    // C as a function of θ with the mask held fixed, differenced by hand
    const cost = () => {
      feedforward(net, ws, jsKernels);
      let c = 0;
      for (let j = 0; j < 2; j++) for (let i = 0; i < 3; i++) if (y.data[i * 2 + j] === 1) c -= Math.log(ws.output.data[i * 2 + j]);
      return c / 2;
    };
    for (const [l, i] of [
      [0, 4],
      [1, 17],
      [2, 5],
    ]) {
      const W = net.weights[l].data,
        saved = W[i];
      W[i] = saved + 1e-5;
      const plus = cost();
      W[i] = saved - 1e-5;
      const minus = cost();
      W[i] = saved;
      expect(grads.gradW[l].data[i]).toBeCloseTo((plus - minus) / 2e-5, 8);
    }
  });

  it('the gradient of cols(A) is in the float32 block for a conv layer above another, and absent for layer 1 (the input has no gradient)', () => {
    // conv3x3x2 on 1×7×7 → 2×5×5; conv2x2x3 on it → 3×4×4, pool2 → 3×2×2: layer 2's K = 2·2·2 = 8, P = 16
    const net = Network.create(convArch('conv3x3x2,conv2x2x3,pool2', [1, 7, 7], 3, 'relu'), 'he', new Rng(3), 'float32');
    const ws = new Workspace(net, 2);
    expect(ws.conv[1]!.dCols).toBeUndefined();
    const d = ws.conv[2]!.dCols!;
    expect([d.rows, d.cols, d.data.length]).toEqual([8, 2 * 16, 8 * 32]);
    expect(d.data).toBeInstanceOf(Float32Array);
    // where wasm runs, the same memory as z, a, δ and X (the SIMD col2im takes it); without wasm, plain arrays
    expect(d.data.buffer === ws.x.data.buffer).toBe(ws.conv[2]!.wasm !== undefined);
    // float64: no block, the first backward pass allocates it (none at all for a forward-only workspace)
    const ws64 = new Workspace(Network.create(convArch('conv3x3x2,conv2x2x3,pool2', [1, 7, 7], 3, 'relu'), 'he', new Rng(3), 'float64'), 2);
    expect(ws64.conv.map((c) => c?.dCols)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('workspaceBytes by hand: a dense layer 5·n·m + 3·n·n_in + 3·n values, a conv layer 3·c·m·P + 2·n·m + 2·K·m·P + 3·c·(K + 1) and n·m int32', () => {
    // dense 7 → 5 → 3, m = 2: input 2·7 = 14; layer 1: 5·5·2 + 3·5·7 + 3·5 = 50 + 105 + 15 = 170; layer 2: 5·3·2 + 3·3·5 + 3·3 = 30 + 45 + 9 = 84
    expect(workspaceBytes([7, 5, 3], [undefined, undefined, undefined], 2, 4)).toBe((14 + 170 + 84) * 4);
    expect(workspaceBytes([7, 5, 3], [undefined, undefined, undefined], 2, 8)).toBe((14 + 170 + 84) * 8);
    // conv3x3x2,pool2 on 1×6×6 (c = 2, K = 9, P = 16, n = 2·2·2 = 8), then dense 3; m = 3: input 3·36 = 108;
    // layer 1: 3·2·3·16 + 2·8·3 + 2·9·3·16 + 3·2·10 = 288 + 48 + 864 + 60 = 1260, and 8·3 = 24 int32; layer 2: 5·3·3 + 3·3·8 + 3·3 = 45 + 72 + 9 = 126
    const arch = convArch('conv3x3x2,pool2', [1, 6, 6], 3);
    const { geometry } = layerGeometry(arch.input!, arch.layers!);
    expect(arch.sizes).toEqual([36, 8, 3]);
    expect(workspaceBytes(arch.sizes, geometry, 3, 8)).toBe((108 + 1260 + 126) * 8 + 24 * 4);
    expect(outputShape(geometry[1], 8)).toEqual([2, 2, 2]);
    expect(outputShape(undefined, 8)).toEqual([8]);
  });

  it('hasConv: a conv layer among the tokens (sizes and bn are not)', () => {
    expect(hasConv(parseLayerList('conv3x3x4,pool2,10'))).toBe(true);
    expect(hasConv(parseLayerList('100,bn,50'))).toBe(false);
    expect(hasConv(parseLayerList('30'))).toBe(false);
    expect(hasConv([])).toBe(false);
  });

  it('a bn token first: the message says after what, the input size when the list counts it', () => {
    expect(() => batchNormLayers(parseLayerList('bn,100'), 0)).toThrow('layer "bn" must follow a layer it normalises (a size or a convolution, after the input size)');
    expect(() => batchNormLayers(parseLayerList('bn,100'), 1)).toThrow(/^layer "bn" must follow a layer it normalises \(a size or a convolution\)$/);
  });

  it('estimates the im2col buffers in the memory a workspace needs', () => {
    const arch = convArch('conv5x5x20,pool2,conv5x5x40,pool2,100', [1, 28, 28], 10, 'relu');
    const { geometry } = layerGeometry(arch.input!, arch.layers!);
    // layer 1: K = 25, P = 576; layer 2: K = 500, P = 64; per example cols(A) alone is 25·576 + 500·64 = 46,400 values, twice with its gradient
    const perExample = workspaceBytes(arch.sizes, geometry, 2, 4) - workspaceBytes(arch.sizes, geometry, 1, 4);
    expect(perExample).toBeGreaterThan(2 * 46_400 * 4);
    expect(perExample).toBeLessThan(4 * 46_400 * 4);
  });
});

const loaded = await Promise.all(PROVIDERS.filter((p) => p !== 'js').map((p) => loadProvider(p)));
describe('every provider that loads runs conv nets as js does (float32)', () => {
  for (const r of loaded)
    it(`${r.name}`, (ctx) => {
      if (!('kernels' in r)) return ctx.skip(`${r.name} cannot load here: ${r.error}`);
      const arch = convArch('conv5x5x6,pool2,conv3x3x8,avgpool2,20', [1, 16, 16], 10, 'relu');
      const base = Network.create(arch, 'he', new Rng(12), 'float32');
      const { x, y } = batch(new Rng(13), 7, 256, 10, 'float32');
      const run = (k: typeof jsKernels) => {
        const net = base.clone();
        const ws = new Workspace(net, 7);
        ws.input.data.set(x.data);
        const grads = new Gradients(net);
        backprop(net, ws, y, grads, k);
        sgdStep(net, ws, y, 0.1, 0, k);
        return { grads, net };
      };
      const js = run(jsKernels),
        other = run(r.kernels);
      for (let l = 0; l < base.depth; l++) {
        expect(compare(other.grads.gradW[l].data, js.grads.gradW[l].data, 1e-4, 1e-6).violations, `∂C/∂W${l + 1}`).toBe(0);
        expect(compare(other.grads.gradB[l], js.grads.gradB[l], 1e-4, 1e-6).violations, `∂C/∂b${l + 1}`).toBe(0);
        expect(compare(other.net.weights[l].data, js.net.weights[l].data, 1e-4, 1e-6).violations, `W${l + 1} after a step`).toBe(0);
      }
    });
});

// The data movement of src/nn/conv.ts, function by function, against loops written from the layouts in its doc
// comment (cols[k][e·P + p], k = (ci·kh + i)·kw + j, p = oy·ow + ox; out[e][c·Q + qy·pw + qx]), on float64 arrays
// (the js loops). Every output buffer starts full of NaN: an entry a function forgets to write shows.
const geometryOf = (input: [number, number, number], kh: number, kw: number, padding: number, pool?: { kind: 'max' | 'avg'; size: number }): ConvGeometry =>
  layerGeometry(input, [
    { kind: 'conv', kh, kw, channels: 3, padding, ...(pool ? { pool } : {}) },
    { kind: 'dense', units: 2 },
  ]).geometry[1]!;
const nan = (n: number) => new Float64Array(n).fill(NaN);
/** Small whole numbers (many ties, exact sums): from −3 to 3. */
const expectClose = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  expect(x.length).toBe(y.length);
  for (let i = 0; i < x.length; i++) expect(x[i], `entry ${i}`).toBeCloseTo(y[i], 12);
};
const ints = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.int(7) - 3);

function refIm2col(g: ConvGeometry, src: Float64Array, m: number): Float64Array {
  const { kh, kw, padding: pad } = g.spec;
  const cols = new Float64Array(g.K * m * g.P);
  for (let ci = 0; ci < g.cIn; ci++)
    for (let i = 0; i < kh; i++)
      for (let j = 0; j < kw; j++)
        for (let e = 0; e < m; e++)
          for (let oy = 0; oy < g.oh; oy++)
            for (let ox = 0; ox < g.ow; ox++) {
              const y = oy + i - pad,
                x = ox + j - pad;
              const inside = y >= 0 && y < g.h && x >= 0 && x < g.w;
              cols[((ci * kh + i) * kw + j) * m * g.P + e * g.P + oy * g.ow + ox] = inside ? src[e * g.cIn * g.h * g.w + ci * g.h * g.w + y * g.w + x] : 0;
            }
  return cols;
}

/** col2im by its definition: each pixel, the sum of the entries of dcols whose column read it. */
function refCol2im(g: ConvGeometry, dcols: Float64Array, m: number): Float64Array {
  const { kh, kw, padding: pad } = g.spec;
  const dst = new Float64Array(m * g.cIn * g.h * g.w);
  for (let e = 0; e < m; e++)
    for (let ci = 0; ci < g.cIn; ci++)
      for (let y = 0; y < g.h; y++)
        for (let x = 0; x < g.w; x++) {
          let s = 0;
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              const oy = y - i + pad,
                ox = x - j + pad;
              if (oy >= 0 && oy < g.oh && ox >= 0 && ox < g.ow) s += dcols[((ci * kh + i) * kw + j) * m * g.P + e * g.P + oy * g.ow + ox];
            }
          dst[e * g.cIn * g.h * g.w + ci * g.h * g.w + y * g.w + x] = s;
        }
  return dst;
}

/** Pooling by its definition: the window's first largest entry (and its index in a), or its mean. */
function refPool(g: ConvGeometry, a: Float64Array, m: number) {
  const out = new Float64Array(m * g.cOut * g.Q),
    argmax = new Int32Array(m * g.cOut * g.Q);
  for (let e = 0; e < m; e++)
    for (let c = 0; c < g.cOut; c++)
      for (let qy = 0; qy < g.ph; qy++)
        for (let qx = 0; qx < g.pw; qx++) {
          const at: number[] = [];
          for (let dy = 0; dy < g.s; dy++) for (let dx = 0; dx < g.s; dx++) at.push(c * m * g.P + e * g.P + (qy * g.s + dy) * g.ow + qx * g.s + dx);
          const values = at.map((i) => a[i]);
          const o = e * g.cOut * g.Q + c * g.Q + qy * g.pw + qx;
          argmax[o] = at[values.indexOf(Math.max(...values))];
          out[o] = g.spec.pool?.kind === 'avg' ? values.reduce((s, v) => s + v, 0) / values.length : Math.max(...values);
        }
  return { out, argmax };
}

describe('im2col, col2im, pooling and its backward pass, against loops from their definitions (js, float64)', () => {
  // valid; padding 1 (a zero column on either side); padding 2 (two zero columns, so a row's zeros come before
  // its pixels); a 1-pixel-wide image under a 5-wide kernel with padding 2 (columns that read nothing at all)
  const shapes: [string, [number, number, number], number, number, number][] = [
    ['valid 3×2 on 2×5×6', [2, 5, 6], 3, 2, 0],
    ['3×3 padded by 1 on 2×4×5', [2, 4, 5], 3, 3, 1],
    ['3×3 padded by 2 on 1×4×5', [1, 4, 5], 3, 3, 2],
    ['3×5 padded by 2 on 2×3×1', [2, 3, 1], 3, 5, 2],
  ];
  const m = 3;
  for (const [name, input, kh, kw, pad] of shapes) {
    it(`im2col and col2im, ${name}`, () => {
      const g = geometryOf(input, kh, kw, pad);
      const rng = new Rng(21);
      const src = ints(rng, m * g.cIn * g.h * g.w).map((v) => v + 10); // no pixel is 0: a padding read as a pixel shows
      const cols = nan(g.K * m * g.P);
      im2col(g, src, m, cols);
      expect(cols).toEqual(refIm2col(g, src, m));
      // col2im adds into a dst it first clears; whole numbers, so the order of the sums does not matter
      const dcols = ints(rng, g.K * m * g.P);
      const dst = nan(m * g.cIn * g.h * g.w);
      col2im(g, dcols, m, dst);
      expect(dst).toEqual(refCol2im(g, dcols, m));
    });
  }

  const pools: [string, [number, number, number], number, number, number, 'max' | 'avg', number][] = [
    ['max 2×2 (the window written out)', [2, 6, 7], 2, 2, 0, 'max', 2], // 5×6 maps: the last row is left out
    ['max 3×3 (the general loop)', [1, 8, 9], 2, 2, 0, 'max', 3], // 7×8 maps → 2×2, 7 not a multiple of 3
    ['average 2×2', [2, 6, 7], 2, 2, 0, 'avg', 2],
    ['average 3×3', [1, 8, 9], 2, 2, 0, 'avg', 3],
  ];
  for (const [name, input, kh, kw, pad, kind, size] of pools)
    it(`pool and unpool, ${name}${kind === 'max' ? ': the first of equal largest entries is the arg-max and takes the gradient' : ''}`, () => {
      const g = geometryOf(input, kh, kw, pad, { kind, size });
      const rng = new Rng(22);
      const a = ints(rng, g.cOut * m * g.P); // seven values over windows of 4 or 9: ties in most windows
      const out = nan(m * g.cOut * g.Q),
        argmax = new Int32Array(m * g.cOut * g.Q).fill(-1);
      pool(g, a, m, out, argmax);
      const want = refPool(g, a, m);
      expectClose(out, want.out); // a mean: the sum times 1/s² or divided by s², within a rounding
      if (kind === 'max') expect(argmax).toEqual(want.argmax);
      // backward: max routes each gradient to its arg-max, average spreads g/s² over the window; 0 elsewhere
      const grad = ints(rng, m * g.cOut * g.Q).map((v) => v + 10);
      const dA = nan(g.cOut * m * g.P);
      unpool(g, grad, m, want.argmax, dA);
      const wantDA = new Float64Array(g.cOut * m * g.P);
      for (let o = 0; o < grad.length; o++) {
        if (kind === 'max') wantDA[want.argmax[o]] = grad[o];
        else {
          const e = Math.floor(o / (g.cOut * g.Q)),
            c = Math.floor((o % (g.cOut * g.Q)) / g.Q),
            qy = Math.floor((o % g.Q) / g.pw),
            qx = o % g.pw;
          for (let dy = 0; dy < g.s; dy++) for (let dx = 0; dx < g.s; dx++) wantDA[c * m * g.P + e * g.P + (qy * g.s + dy) * g.ow + qx * g.s + dx] = grad[o] / (g.s * g.s);
        }
      }
      expectClose(dA, wantDA);
    });

  it('rotateKernels turns each kernel of W (c_out × c_in·kh·kw) by 180°: W(co, ci, i, j) ← W(co, ci, kh−1−i, kw−1−j)', () => {
    for (const [kh, kw] of [
      [2, 3], // an even count: the middle pair is swapped once
      [3, 3], // an odd one: the centre stays
    ]) {
      const g = geometryOf([2, 5, 5], kh, kw, 0); // c_out = 3, c_in = 2
      const W = Float64Array.from({ length: 3 * 2 * kh * kw }, (_, i) => i);
      rotateKernels(g, W);
      for (let co = 0; co < 3; co++)
        for (let ci = 0; ci < 2; ci++)
          for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) expect(W[((co * 2 + ci) * kh + i) * kw + j]).toBe(((co * 2 + ci) * kh + (kh - 1 - i)) * kw + (kw - 1 - j));
    }
  });
});

describe('the SIMD passes (assets/conv.wasm): which arrays they take, when they run', () => {
  it('holds: every array a float32 or int32 view of their memory (not a float64 one, not another buffer)', (ctx) => {
    const { arrays, memory } = float32Block([8, 8, 8]); // a Workspace's block: the memory of relu.wasm
    const passes = memory && convPasses(memory);
    if (!memory || !passes) return ctx.skip('no wasm block or assets/conv.wasm here');
    const f32 = arrays[0],
      i32 = new Int32Array(memory.buffer, arrays[1].byteOffset, 8);
    expect(passes.holds(f32, i32)).toBe(true);
    expect(passes.holds(f32)).toBe(true);
    expect(passes.holds(new Float64Array(memory.buffer, arrays[2].byteOffset, 4))).toBe(false);
    expect(passes.holds(f32, new Float64Array(memory.buffer, arrays[2].byteOffset, 4))).toBe(false);
    expect(passes.holds(f32, new Float32Array(8))).toBe(false);
    expect(passes.holds(new Float32Array(8), i32)).toBe(false);
  });

  it('where assets/conv.wasm does not compile (a Node without wasm SIMD), there are no passes: the js loops run', async () => {
    vi.resetModules();
    vi.doMock('../../src/linalg/simd.js', async (original) => ({ ...(await original<typeof import('../../src/linalg/simd.js')>()), wasmModule: () => ({ error: 'no wasm SIMD here' }) }));
    try {
      const { convPasses: without } = await import('../../src/nn/conv.js');
      expect(without(new WebAssembly.Memory({ initial: 1 }))).toBeUndefined();
    } finally {
      vi.doUnmock('../../src/linalg/simd.js');
      vi.resetModules();
    }
  });

  it('the passes themselves give the values of the definitions (float32 in a block, whole numbers: exact), ties to the first, nothing written outside their arrays', (ctx) => {
    for (const [input, kh, kw, pad, pooling] of [
      [[2, 6, 7], 3, 2, 1, { kind: 'max', size: 2 }],
      [[1, 4, 5], 3, 3, 2, { kind: 'max', size: 2 }],
      [[2, 5, 1], 3, 5, 2, undefined], // columns reading nothing at all (lo > hi)
    ] as const) {
      const g = geometryOf(input as [number, number, number], kh, kw, pad, pooling);
      const m = 3,
        n = m * g.cIn * g.h * g.w,
        K = g.K * m * g.P,
        A = g.cOut * m * g.P,
        O = m * g.cOut * g.Q;
      // a guard array after each, full of 7s: a pass that writes past its array shows there
      const sizes = [n, 8, K, 8, A, 8, O, 8, O, 8, A, 8, n, 8];
      const { arrays, memory } = float32Block(sizes);
      const passes = memory && convPasses(memory);
      if (!memory || !passes) return ctx.skip('no wasm block or assets/conv.wasm here');
      const [src, , cols, , a, , out, , table, , dA, , dst] = arrays;
      for (let i = 1; i < arrays.length; i += 2) arrays[i].fill(7);
      const rng = new Rng(28);
      src.set(ints(rng, n).map((v) => v + 10));
      a.set(ints(rng, A));
      cols.fill(NaN);
      im2col(g, src, m, cols, passes);
      expect(Array.from(cols)).toEqual(Array.from(refIm2col(g, Float64Array.from(src), m)));
      const dcols = ints(rng, K);
      cols.set(dcols);
      dst.fill(NaN);
      col2im(g, cols, m, dst, passes);
      expect(Array.from(dst)).toEqual(Array.from(refCol2im(g, dcols, m)));
      const argmax = new Int32Array(memory.buffer, table.byteOffset, O);
      const want = refPool(g, Float64Array.from(a), m);
      out.fill(NaN);
      pool(g, a, m, out, argmax, passes);
      expect(Array.from(out)).toEqual(Array.from(want.out));
      expect(Array.from(argmax)).toEqual(Array.from(want.argmax));
      dA.fill(NaN);
      unpool(g, out, m, argmax, dA, passes);
      const wantDA = new Float64Array(A);
      for (let o = 0; o < O; o++) wantDA[want.argmax[o]] = want.out[o];
      expect(Array.from(dA)).toEqual(Array.from(wantDA));
      for (let i = 1; i < arrays.length; i += 2) expect(Array.from(arrays[i]), `the guard after array ${(i - 1) / 2}`).toEqual(new Array(8).fill(7));
    }
  });

  it('each function hands its arrays to its pass when the passes hold them (by byte offsets, with the geometry), and runs the js loop when not; average unpooling never goes to unpool_max', () => {
    const g = geometryOf([2, 6, 7], 2, 2, 1, { kind: 'max', size: 2 }); // oh = 7, ow = 8 → 3×4
    const gAvg = geometryOf([2, 6, 7], 2, 2, 1, { kind: 'avg', size: 2 });
    const m = 2;
    const calls: unknown[][] = [];
    const record =
      (name: string) =>
      (...args: number[]) =>
        void calls.push([name, ...args]);
    const passes = (holds: boolean): ConvPasses => ({
      holds: () => holds,
      k: { im2col: record('im2col'), col2im: record('col2im'), maxpool2: record('maxpool2'), unpool_max: record('unpool_max') },
    });
    const src = ints(new Rng(23), m * g.cIn * g.h * g.w),
      cols = nan(g.K * m * g.P),
      a = ints(new Rng(24), g.cOut * m * g.P),
      out = nan(m * g.cOut * g.Q),
      argmax = new Int32Array(m * g.cOut * g.Q),
      dA = nan(g.cOut * m * g.P);
    im2col(g, src, m, cols, passes(true));
    col2im(g, cols, m, src, passes(true));
    pool(g, a, m, out, argmax, passes(true));
    unpool(g, out, m, argmax, dA, passes(true));
    expect(calls).toEqual([
      ['im2col', src.byteOffset, cols.byteOffset, m, 2, 6, 7, 2, 2, 1, 7, 8],
      ['col2im', cols.byteOffset, src.byteOffset, m, 2, 6, 7, 2, 2, 1, 7, 8],
      ['maxpool2', a.byteOffset, out.byteOffset, argmax.byteOffset, 3, m, 56, 8, 3, 4, 12],
      ['unpool_max', out.byteOffset, argmax.byteOffset, dA.byteOffset, argmax.length, dA.length],
    ]);
    // the passes ran in place of the loops: nothing written by js
    expect([cols, out, dA].every((x) => x.every(Number.isNaN))).toBe(true);
    // average pooling: its backward pass is not unpool_max's, whatever the passes hold
    const grad = ints(new Rng(25), m * gAvg.cOut * gAvg.Q);
    unpool(gAvg, grad, m, argmax, dA, passes(true));
    expect(calls).toHaveLength(4);
    expect(dA[0]).toBe(grad[0] / 4);
    // passes that hold nothing: the js loops
    im2col(g, src, m, cols, passes(false));
    pool(g, a, m, out, argmax, passes(false));
    expect(calls).toHaveLength(4);
    expect(cols).toEqual(refIm2col(g, src, m));
    expect(out).toEqual(refPool(g, a, m).out);
  });

  it('a float32 workspace keeps the arg-max tables in its wasm memory (where the SIMD pooling writes them) and gets the gradients of float64, average and max pooling, a conv layer above another', () => {
    const arch = convArch('conv3x3x3p1,avgpool2,conv2x2x4,pool2,5', [2, 8, 9], 3, 'tanh');
    const net64 = Network.create(arch, 'xavier', new Rng(26), 'float64');
    const net32 = new Network(
      arch,
      net64.weights.map((W) => Matrix.from(W.rows, W.cols, Array.from(W.data), 'float32')),
      net64.biases.map((b) => Float32Array.from(b)),
    );
    // the float32 weights, exactly, in both nets
    for (let l = 0; l < net64.depth; l++) {
      net64.weights[l].data.set(net32.weights[l].data);
      net64.biases[l].set(net32.biases[l]);
    }
    const m = 3;
    const { x, y } = batch(new Rng(27), m, arch.sizes[0], 3, 'float64');
    const run = (net: Network) => {
      const ws = new Workspace(net, m);
      ws.input.data.set(x.data);
      const grads = new Gradients(net);
      const yy = Matrix.from(y.rows, y.cols, Array.from(y.data), net.dtype);
      backprop(net, ws, yy, grads, jsKernels);
      return { ws, grads };
    };
    const r32 = run(net32),
      r64 = run(net64);
    for (const l of [1, 2]) {
      const c = r32.ws.conv[l]!;
      expect(c.argmax.length).toBe(m * arch.sizes[l]);
      expect(c.argmax.buffer === r32.ws.x.data.buffer, `layer ${l}'s arg-max table in the block`).toBe(c.wasm !== undefined);
    }
    for (let l = 0; l < net64.depth; l++) {
      expect(compare(r32.grads.gradW[l].data, r64.grads.gradW[l].data, 1e-4, 1e-6).violations, `∂C/∂W${l + 1}`).toBe(0);
      expect(compare(r32.grads.gradB[l], r64.grads.gradB[l], 1e-4, 1e-6).violations, `∂C/∂b${l + 1}`).toBe(0);
    }
  });
});
