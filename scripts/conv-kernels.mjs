#!/usr/bin/env node
// The data movement of a conv layer (src/nn/conv.ts) as WebAssembly SIMD,
// written as WebAssembly text and assembled with wabt into assets/conv.wasm
// (committed; test/nn/conv-wasm.test.ts checks that it is exactly what this
// script assembles):
//
//   node scripts/conv-kernels.mjs          rewrites it
//   node scripts/conv-kernels.mjs --wat    prints its text
//   node scripts/conv-kernels.mjs --check  exits 1 unless it is what this assembles
//
// The module imports its memory: a Workspace's float32 block (src/linalg/simd.ts,
// the memory assets/relu.wasm exports), where the conv layer's Z, A, δ, the
// input batch X, cols(A), its gradient, the pooled output and the arg-max table
// all live, so every pass runs in place. Addresses are in bytes; sizes in
// values. The loops are those of src/nn/conv.ts's js functions, in the same
// order, so the results are the same bits:
//
//   im2col(src, cols, m, cIn, h, w, kh, kw, pad, oh, ow)
//     cols[k][e·P + oy·ow + ox] = src[e·n + ci·h·w + (oy + i − pad)·w + ox + j − pad]
//     (0 outside the image), k = (ci·kh + i)·kw + j; each row segment of a
//     patch row is one contiguous run, copied four values per v128.
//   col2im(dcols, dst, m, cIn, h, w, kh, kw, pad, oh, ow)
//     dst ← 0, then dst[pixel] += dcols[k][e·P + p] for every (k, p) that
//     read the pixel, in im2col's order: each pixel's sum is taken in the
//     same order as the js loop, four pixels per f32x4.add (an f32 add is
//     the js `+=` on a Float32Array: the double sum of two floats rounds to
//     the same float).
//   maxpool2(a, out, argmax, cOut, m, P, ow, ph, pw, Q)
//     2×2 max-pooling with stride 2: out = the window's max, argmax = which
//     entry of a won (the first of equal ones: a later entry replaces the
//     best only when greater, as in the js loop); four windows per step, the
//     window's even and odd columns split apart by i8x16.shuffle, f32x4.gt
//     and v128.bitselect in place of the js `if`.
//   unpool_max(grad, argmax, dA, count, length)
//     dA ← 0 (length values), then dA[argmax[o]] = grad[o] for o < count.
//
// bench/conv-passes.mjs times each pass against the js loop (docs/guide/performance.md,
// "Conv layers": 11–18× faster on a loaded 2-core AMD EPYC).

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assemble } from './wasm-kernels.mjs';

const get = (x) => `(local.get ${x})`;
const set = (x, v) => `(local.set ${x} ${v})`;
const add = (x, y) => `(i32.add ${x} ${y})`;
const mul = (x, y) => `(i32.mul ${x} ${y})`;
const c32 = (n) => `(i32.const ${n})`;
/** Bytes of a float index: 4·x. */
const bytes = (x) => `(i32.shl ${x} ${c32(2)})`;
/** for (x = from; x < to; x++) body, with a unique label. */
let labels = 0;
const loop = (x, from, to, body) => {
  const l = `$L${labels++}`;
  return `
    ${set(x, from)}
    (block ${l}_done (loop ${l}
      (br_if ${l}_done (i32.ge_s ${get(x)} ${to}))${body}
      ${set(x, add(get(x), c32(1)))}
      (br ${l})))`;
};

/**
 * A run of len values from byte address src to byte address dst: four at a
 * time, then the rest one at a time. `vec` and `one` make the stored value
 * from the loaded source and the destination's old value (copy: the source;
 * accumulate: their sum).
 */
function run(src, dst, len, vec, one) {
  const l = `$R${labels++}`;
  return `
      ${set('$p', src)}
      ${set('$q', dst)}
      ${set('$end', add(get('$q'), bytes(`(i32.and ${len} ${c32(-4)})`)))}
      (block ${l}v_done (loop ${l}v
        (br_if ${l}v_done (i32.ge_u ${get('$q')} ${get('$end')}))
        (v128.store ${get('$q')} ${vec(`(v128.load ${get('$p')})`, `(v128.load ${get('$q')})`)})
        ${set('$p', add(get('$p'), c32(16)))}
        ${set('$q', add(get('$q'), c32(16)))}
        (br ${l}v)))
      ${set('$end', add(get('$end'), bytes(`(i32.and ${len} ${c32(3)})`)))}
      (block ${l}s_done (loop ${l}s
        (br_if ${l}s_done (i32.ge_u ${get('$q')} ${get('$end')}))
        (f32.store ${get('$q')} ${one(`(f32.load ${get('$p')})`, `(f32.load ${get('$q')})`)})
        ${set('$p', add(get('$p'), c32(4)))}
        ${set('$q', add(get('$q'), c32(4)))}
        (br ${l}s)))`;
}

/** len zeros from byte address at (nothing when len ≤ 0). */
const zeros = (at, len) => `
      (if (i32.gt_s ${len} ${c32(0)}) (then (memory.fill ${at} ${c32(0)} ${bytes(len)})))`;

/**
 * im2col, or col2im when `adjoint`: the same loops over (ci, i, j), examples
 * and output rows as the js functions. Within a patch row k and an example,
 * output row oy reads image row y = oy + i − pad: the pointers step by one
 * image row (4·w bytes) and one output row (4·ow bytes). A valid convolution
 * (pad = 0) reads every row whole, columns [0, ow); with padding, columns
 * [lo, hi) read inside the image and the others are 0 (im2col writes the
 * zeros, col2im has nothing to add back from them).
 */
function patches(adjoint) {
  const [from, to] = adjoint ? ['$dcols', '$dst'] : ['$src', '$cols'];
  const image = adjoint ? '$dst' : '$src',
    column = adjoint ? '$dcols' : '$cols';
  // $pi walks the image (pixel (ci, y, j − pad) of example e), $pc the columns (cols[k][e·P + oy·ow])
  const move = (len, offset) => {
    const at = (x) => (offset ? add(get(x), bytes(offset)) : get(x));
    return adjoint
      ? run(
          at('$pc'),
          at('$pi'),
          len,
          (src, dst) => `(f32x4.add ${dst} ${src})`,
          (src, dst) => `(f32.add ${dst} ${src})`,
        )
      : run(
          at('$pi'),
          at('$pc'),
          len,
          (src) => src,
          (src) => src,
        );
  };
  const step = `
      ${set('$pi', add(get('$pi'), bytes(get('$w'))))}
      ${set('$pc', add(get('$pc'), bytes(get('$ow'))))}`;
  const start = (y0) => `
      ${set('$pc', add(get(column), bytes(add(get('$row'), mul(get('$e'), get('$P'))))))}
      ${set('$pi', add(get(image), bytes(`(i32.sub ${add(add(add(mul(get('$e'), get('$n')), mul(get('$ci'), get('$hw'))), mul(y0, get('$w'))), get('$j'))} ${get('$pad')})`)))}`;
  const valid = loop('$e', c32(0), get('$m'), start(get('$i')) + loop('$oy', c32(0), get('$oh'), move(get('$ow')) + step));
  const len = `(i32.sub ${get('$hi')} ${get('$lo')})`;
  const inside = adjoint
    ? `
      (if (i32.and (i32.ge_s ${get('$y')} ${c32(0)}) (i32.lt_s ${get('$y')} ${get('$h')}))
        (then (if (i32.lt_s ${get('$lo')} ${get('$hi')}) (then ${move(len, get('$lo'))}))))`
    : `
      (if (i32.or (i32.lt_s ${get('$y')} ${c32(0)}) (i32.ge_s ${get('$y')} ${get('$h')}))
        (then ${zeros(get('$pc'), get('$ow'))})
        (else
          ${zeros(get('$pc'), `(select ${get('$lo')} ${get('$ow')} (i32.lt_s ${get('$lo')} ${get('$ow')}))`)}
          (if (i32.lt_s ${get('$lo')} ${get('$hi')}) (then ${move(len, get('$lo'))}))
          ${set('$t', `(select ${get('$lo')} ${get('$hi')} (i32.gt_s ${get('$lo')} ${get('$hi')}))`)}
          ${zeros(add(get('$pc'), bytes(get('$t'))), `(i32.sub ${get('$ow')} ${get('$t')})`)}))`;
  const padded = loop(
    '$e',
    c32(0),
    get('$m'),
    start(`(i32.sub ${get('$i')} ${get('$pad')})`) +
      `
      ${set('$y', `(i32.sub ${get('$i')} ${get('$pad')})`)}` +
      loop(
        '$oy',
        c32(0),
        get('$oh'),
        inside +
          step +
          `
      ${set('$y', add(get('$y'), c32(1)))}`,
      ),
  );
  const body = loop(
    '$ci',
    c32(0),
    get('$cin'),
    loop(
      '$i',
      c32(0),
      get('$kh'),
      loop(
        '$j',
        c32(0),
        get('$kw'),
        `
      ;; row k = (ci·kh + i)·kw + j starts at k·m·P; columns [lo, hi) of each output row read inside the image
      ${set('$row', mul(add(mul(add(mul(get('$ci'), get('$kh')), get('$i')), get('$kw')), get('$j')), get('$mP')))}
      ${set('$lo', `(i32.sub ${get('$pad')} ${get('$j')})`)}
      (if (i32.lt_s ${get('$lo')} ${c32(0)}) (then ${set('$lo', c32(0))}))
      ${set('$hi', `(i32.sub ${add(get('$w'), get('$pad'))} ${get('$j')})`)}
      (if (i32.gt_s ${get('$hi')} ${get('$ow')}) (then ${set('$hi', get('$ow'))}))
      (if (i32.eqz ${get('$pad')}) (then ${valid}) (else ${padded}))`,
      ),
    ),
  );
  const name = adjoint ? 'col2im' : 'im2col';
  return `
  (func (export "${name}") (param ${from} i32) (param ${to} i32) (param $m i32) (param $cin i32) (param $h i32) (param $w i32)
    (param $kh i32) (param $kw i32) (param $pad i32) (param $oh i32) (param $ow i32)
    (local $P i32) (local $hw i32) (local $n i32) (local $mP i32) (local $ci i32) (local $i i32) (local $j i32) (local $e i32) (local $oy i32)
    (local $row i32) (local $lo i32) (local $hi i32) (local $y i32) (local $t i32) (local $pi i32) (local $pc i32) (local $p i32) (local $q i32) (local $end i32)
    ${set('$P', mul(get('$oh'), get('$ow')))}
    ${set('$hw', mul(get('$h'), get('$w')))}
    ${set('$n', mul(get('$cin'), get('$hw')))}
    ${set('$mP', mul(get('$m'), get('$P')))}${adjoint ? `\n    (memory.fill ${get('$dst')} ${c32(0)} ${bytes(mul(get('$m'), get('$n')))})` : ''}${body})`;
}

/** 2×2 max-pooling with stride 2, four windows per step; the last pw mod 4 windows of a row one at a time. */
function maxpool2() {
  const lanes = (ls) => ls.flatMap((L) => [0, 1, 2, 3].map((b) => 4 * L + b)).join(' ');
  const even = (x, y) => `(i8x16.shuffle ${lanes([0, 2, 4, 6])} ${get(x)} ${get(y)})`,
    odd = (x, y) => `(i8x16.shuffle ${lanes([1, 3, 5, 7])} ${get(x)} ${get(y)})`;
  // a later entry replaces the best one only when greater (NaN never is): the first of equal ones stays
  const better = (value, index) => `
        ${set('$x', value)}
        ${set('$gt', `(f32x4.gt ${get('$x')} ${get('$v')})`)}
        ${set('$v', `(v128.bitselect ${get('$x')} ${get('$v')} ${get('$gt')})`)}
        ${set('$best', `(v128.bitselect ${index} ${get('$best')} ${get('$gt')})`)}`;
  const at = (i) => add(get('$a'), bytes(i));
  const betterOne = (index) => `
        ${set('$xs', `(f32.load ${at(index)})`)}
        (if (f32.gt ${get('$xs')} ${get('$vs')}) (then ${set('$vs', get('$xs'))} ${set('$bs', index)}))`;
  const vectors = `
        ${set('$i0', add(get('$r'), mul(c32(2), get('$qx'))))}
        ${set('$a0', `(v128.load ${at(get('$i0'))})`)}
        ${set('$a1', `(v128.load offset=16 ${at(get('$i0'))})`)}
        ${set('$b0', `(v128.load ${at(add(get('$i0'), get('$ow')))})`)}
        ${set('$b1', `(v128.load offset=16 ${at(add(get('$i0'), get('$ow')))})`)}
        ${set('$idx', `(i32x4.add (i32x4.splat ${get('$i0')}) (v128.const i32x4 0 2 4 6))`)}
        ${set('$v', even('$a0', '$a1'))}
        ${set('$best', get('$idx'))}${better(odd('$a0', '$a1'), `(i32x4.add ${get('$idx')} (i32x4.splat ${c32(1)}))`)}${better(even('$b0', '$b1'), `(i32x4.add ${get('$idx')} (i32x4.splat ${get('$ow')}))`)}${better(odd('$b0', '$b1'), `(i32x4.add ${get('$idx')} (i32x4.splat ${add(get('$ow'), c32(1))}))`)}
        (v128.store ${add(get('$out'), bytes(add(get('$o'), get('$qx'))))} ${get('$v')})
        (v128.store ${add(get('$argmax'), bytes(add(get('$o'), get('$qx'))))} ${get('$best')})
        ${set('$qx', add(get('$qx'), c32(4)))}`;
  const one = `
        ${set('$i0', add(get('$r'), mul(c32(2), get('$qx'))))}
        ${set('$bs', get('$i0'))}
        ${set('$vs', `(f32.load ${at(get('$i0'))})`)}${betterOne(add(get('$i0'), c32(1)))}${betterOne(add(get('$i0'), get('$ow')))}${betterOne(add(add(get('$i0'), get('$ow')), c32(1)))}
        (f32.store ${add(get('$out'), bytes(add(get('$o'), get('$qx'))))} ${get('$vs')})
        (i32.store ${add(get('$argmax'), bytes(add(get('$o'), get('$qx'))))} ${get('$bs')})
        ${set('$qx', add(get('$qx'), c32(1)))}`;
  const rowBody = `
      ${set('$r', add(get('$base'), mul(mul(c32(2), get('$qy')), get('$ow'))))}
      ${set('$o', add(add(mul(mul(get('$e'), get('$cout')), get('$Q')), mul(get('$c'), get('$Q'))), mul(get('$qy'), get('$pw'))))}
      ${set('$qx', c32(0))}
      (block $v_done (loop $v4
        (br_if $v_done (i32.gt_s ${add(get('$qx'), c32(4))} ${get('$pw')}))${vectors}
        (br $v4)))
      (block $s_done (loop $s1
        (br_if $s_done (i32.ge_s ${get('$qx')} ${get('$pw')}))${one}
        (br $s1)))`;
  return `
  (func (export "maxpool2") (param $a i32) (param $out i32) (param $argmax i32) (param $cout i32) (param $m i32) (param $P i32) (param $ow i32)
    (param $ph i32) (param $pw i32) (param $Q i32)
    (local $c i32) (local $e i32) (local $qy i32) (local $qx i32) (local $base i32) (local $r i32) (local $o i32) (local $i0 i32) (local $bs i32)
    (local $vs f32) (local $xs f32)
    (local $a0 v128) (local $a1 v128) (local $b0 v128) (local $b1 v128) (local $idx v128) (local $v v128) (local $best v128) (local $x v128) (local $gt v128)${loop(
      '$c',
      c32(0),
      get('$cout'),
      loop(
        '$e',
        c32(0),
        get('$m'),
        `
      ${set('$base', add(mul(mul(get('$c'), get('$m')), get('$P')), mul(get('$e'), get('$P'))))}` + loop('$qy', c32(0), get('$ph'), rowBody),
      ),
    )})`;
}

function unpoolMax() {
  return `
  (func (export "unpool_max") (param $grad i32) (param $argmax i32) (param $dA i32) (param $count i32) (param $length i32)
    (local $o i32)
    (memory.fill ${get('$dA')} ${c32(0)} ${bytes(get('$length'))})${loop(
      '$o',
      c32(0),
      get('$count'),
      `
      (i32.store ${add(get('$dA'), bytes(`(i32.load ${add(get('$argmax'), bytes(get('$o')))})`))} (i32.load ${add(get('$grad'), bytes(get('$o')))}))`,
    )})`;
}

/** The module's text. */
export function convWat() {
  labels = 0;
  return `(module
  (import "env" "memory" (memory 1 65536))${patches(false)}${patches(true)}${maxpool2()}${unpoolMax()})
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = fileURLToPath(new URL('../assets/conv.wasm', import.meta.url));
  const wat = convWat();
  if (process.argv.includes('--wat')) process.stdout.write(`;; assets/conv.wasm\n${wat}`);
  else {
    const bytes = Buffer.from(await assemble(wat));
    if (process.argv.includes('--check')) {
      const same = bytes.equals(readFileSync(out));
      console.log(same ? `${out} is up to date` : `${out} differs from scripts/conv-kernels.mjs: run node scripts/conv-kernels.mjs`);
      process.exitCode = same ? 0 : 1;
    } else {
      writeFileSync(out, bytes);
      console.log(`${out}: ${bytes.length} bytes`);
    }
  }
}
