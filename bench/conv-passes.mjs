#!/usr/bin/env node
// Times the data movement of one training step of bench's conv net (Nielsen's
// ch. 6: conv5x5x20,pool2,conv5x5x40,pool2,100,10) at m = 10 and 64, each pass
// as the js loop and as WebAssembly SIMD (assets/conv.wasm, src/nn/conv.ts),
// alternated round by round so that drift in a shared machine's load hits
// both alike. Prints the minimum and the median µs per step of each.
//
//   npm run build && node bench/conv-passes.mjs [--rounds 9] [--m 10,64]
import { Network, convArchitecture } from '../dist/nn/network.js';
import { parseLayerList } from '../dist/nn/layers.js';
import { Workspace } from '../dist/nn/backprop.js';
import * as simdConv from '../dist/nn/conv.js';
import { Rng } from '../dist/base/rng.js';

const arg = (name, d) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : d);
const rounds = Number(arg('--rounds', 9));
const arch = convArchitecture(parseLayerList('conv5x5x20,pool2,conv5x5x40,pool2,100'), [1, 28, 28], 10, {
  activation: 'relu',
  outputActivation: 'softmax',
  cost: 'log-likelihood',
});
// a second instance of src/nn/conv.ts for the js loops, so that each instance's functions see one path only (as in training)
const jsConv = await import('../dist/nn/conv.js?js');
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

for (const m of arg('--m', '10,64').split(',').map(Number)) {
  const net = Network.create(arch, 'he', new Rng(1));
  const ws = new Workspace(net, m);
  const rng = new Rng(2);
  const fill = (x, f) => x.forEach((_, i) => (x[i] = f()));
  fill(ws.x.data, () => rng.uniform());
  const [c1, c2] = [ws.conv[1], ws.conv[2]];
  for (const l of [1, 2]) fill(ws.a[l].data, () => Math.max(0, rng.uniform() - 0.5));
  fill(c2.dCols.data, () => rng.uniform() - 0.5);
  fill(c1.dOut.data, () => rng.uniform() - 0.5);
  fill(c2.dOut.data, () => rng.uniform() - 0.5);
  // the passes of a step, in its order; `w`: the SIMD passes, else the js loop
  const passes = {
    'im2col, layer 1': (w) => (w ? simdConv : jsConv).im2col(c1.g, ws.x.data, m, c1.cols.data, w ? c1.wasm : undefined),
    'max-pool, layer 1': (w) => (w ? simdConv : jsConv).pool(c1.g, ws.a[1].data, m, c1.out.data, c1.argmax, w ? c1.wasm : undefined),
    'im2col, layer 2': (w) => (w ? simdConv : jsConv).im2col(c2.g, c1.out.data, m, c2.cols.data, w ? c2.wasm : undefined),
    'max-pool, layer 2': (w) => (w ? simdConv : jsConv).pool(c2.g, ws.a[2].data, m, c2.out.data, c2.argmax, w ? c2.wasm : undefined),
    'unpool, layer 2': (w) => (w ? simdConv : jsConv).unpool(c2.g, c2.dOut.data, m, c2.argmax, ws.delta[2].data, w ? c2.wasm : undefined),
    'col2im, layer 2': (w) => (w ? simdConv : jsConv).col2im(c2.g, c2.dCols.data, m, c1.dOut.data, w ? c2.wasm : undefined),
    'unpool, layer 1': (w) => (w ? simdConv : jsConv).unpool(c1.g, c1.dOut.data, m, c1.argmax, ws.delta[1].data, w ? c1.wasm : undefined),
  };
  const reps = Math.max(10, Math.round(1000 / m));
  const times = {};
  for (let r = 0; r < rounds; r++)
    for (const [name, f] of Object.entries(passes))
      for (const w of [false, true]) {
        f(w);
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) f(w);
        (times[name] ??= [[], []])[+w].push(((performance.now() - t0) * 1000) / reps);
      }
  console.log(`m = ${m}: µs per step, min / median of ${rounds} alternating rounds`);
  console.log('pass'.padEnd(20) + 'js'.padStart(16) + 'SIMD'.padStart(16) + 'js/SIMD (min)'.padStart(16));
  const sum = [0, 0];
  for (const [name, [js, simd]] of Object.entries(times)) {
    sum[0] += Math.min(...js);
    sum[1] += Math.min(...simd);
    const cell = (t) => `${Math.min(...t).toFixed(0)} / ${med(t).toFixed(0)}`.padStart(16);
    console.log(name.padEnd(20) + cell(js) + cell(simd) + (Math.min(...js) / Math.min(...simd)).toFixed(1).padStart(16));
  }
  console.log('all'.padEnd(20) + sum[0].toFixed(0).padStart(16) + sum[1].toFixed(0).padStart(16) + (sum[0] / sum[1]).toFixed(1).padStart(16));
}
