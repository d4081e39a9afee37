#!/usr/bin/env node
// Our WebAssembly SIMD kernels, written as WebAssembly text and assembled
// with wabt into two modules (committed, ~1 KB each; test/linalg/wasm.test.ts
// checks that they are exactly what this script assembles):
//   assets/gemm.wasm      the GEMM, on a shared memory it imports (the wasm
//                         provider's main thread and workers all use it)
//   assets/relu.wasm      the ReLU passes, on a memory of its own that it
//                         exports (a Workspace's buffers live in it; not
//                         shared, since JS's fill() is 2x slower on shared memory)
//
//   node scripts/wasm-kernels.mjs          rewrites both
//   node scripts/wasm-kernels.mjs --wat    prints their text
//   node scripts/wasm-kernels.mjs --check  exits 1 unless both are what this assembles
//
// relu_forward(z, a, n), relu_bias_forward(z, a, n, b) (one row: z ← z + b
// first) and relu_backward(z, g, d, n) are the ReLU passes of
// src/nn/activations.ts on n float32 values, bit for bit the same as its js
// loops (which treat the floats' bits as int32):
//   forward   a = z & ~(z >> 31)      max(z, 0), −0 → +0
//   backward  d = g & (z > 0 ? ~0 : 0)  g ⊙ [z > 0]
// four values per v128 op, then the n mod 4 rest one at a time.
//
// The GEMM for the wasm provider (src/linalg/wasm.ts) is
// nn(m, n, k, a, ars, acs, b, ldb, c, ldc, alpha, beta):
//   C ← alpha·A·B + beta·C  (beta = 0: C is not read, as in BLAS)
// on float32 matrices in the imported shared memory: A(i, p) is at
// a + i·ars + p·acs (so a transposed A is read in place: swap the strides),
// B and C are row-major with leading dimensions ldb and ldc. Addresses and
// strides are in bytes. m must be a multiple of MR = 4 and n of NR = 8
// (src/linalg/wasm.ts pads the operands it copies in); k is any size.
// transpose(src, rows, cols, lds, dst, ldd) writes dst(j, i) = src(i, j)
// (4×4 blocks through i32x4 shuffles), for a transposed B.
//
// The micro-kernel keeps a 4×8 tile of C in eight f32x4 registers; for each
// k it loads 8 values of B's row k (two v128 loads) and broadcasts one value
// of each of A's 4 rows (v128.load32_splat: 12% faster here than f32.load +
// f32x4.splat; 5 or 6 rows, or unrolling k, measured slower), 8 multiplies
// and 8 adds. Nothing is
// packed: A's rows are read in place and B's row segments are contiguous, so
// a call costs no O(k·n) preparation (XNNPACK, through tfjs-backend-wasm's
// exports, repacks B on every call). Tiles sweep j inside i, so the 4 rows of
// A stay in L1 while B streams from L2.
//
// assets/gemm-fma.wasm is the same GEMM with each multiply and add replaced
// by one f32x4.relaxed_madd (relaxed SIMD, opcode 0xfd 0x105): V8 emits
// vfmadd231ps where the CPU has FMA3, so the step is 8 FMAs instead of 16
// operations. Measured on a 2-core AMD EPYC (Zen 4), gemm 256×784·784×128,
// median of 5 (src/cli/info.ts's measureGflops): 36 → 50 GFLOPS on one thread,
// 62 → 81 on two. A taller tile (MR_FMA = 5 or 6: 10 or 12 accumulators +
// 2 rows of B + the broadcast) measured 2× slower: V8 keeps 14 of x64's 16
// xmm registers for values, and the tile then spills.

/** dst(j, i) = src(i, j) for a rows × cols float32 matrix; strides in bytes. */
export function transposeWat() {
  const get = (x) => `(local.get ${x})`;
  const lane = (L) => [0, 1, 2, 3].map((b) => 4 * L + b).join(' ');
  const shuffle = (x, y, lanes) => `(i8x16.shuffle ${lanes.map(lane).join(' ')} ${get(x)} ${get(y)})`;
  const at = (base, r, stride) => (r === 0 ? get(base) : `(i32.add ${get(base)} (i32.mul ${get(stride)} (i32.const ${r})))`);
  return `
  (func (export "transpose") (param $src i32) (param $rows i32) (param $cols i32) (param $lds i32) (param $dst i32) (param $ldd i32)
    (local $i i32) (local $j i32) (local $rows4 i32) (local $cols4 i32) (local $s i32) (local $d i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and ${get('$rows')} (i32.const -4)))
    (local.set $cols4 (i32.and ${get('$cols')} (i32.const -4)))
    ;; 4×4 blocks
    (block $bi_done (loop $bi
      (br_if $bi_done (i32.ge_u ${get('$i')} ${get('$rows4')}))
      (local.set $j (i32.const 0))
      (block $bj_done (loop $bj
        (br_if $bj_done (i32.ge_u ${get('$j')} ${get('$cols4')}))
        (local.set $s (i32.add (i32.add ${get('$src')} (i32.mul ${get('$i')} ${get('$lds')})) (i32.shl ${get('$j')} (i32.const 2))))
        (local.set $d (i32.add (i32.add ${get('$dst')} (i32.mul ${get('$j')} ${get('$ldd')})) (i32.shl ${get('$i')} (i32.const 2))))
        ${[0, 1, 2, 3].map((r) => `(local.set $r${r} (v128.load ${at('$s', r, '$lds')}))`).join('\n        ')}
        (local.set $t0 ${shuffle('$r0', '$r1', [0, 4, 1, 5])})
        (local.set $t1 ${shuffle('$r0', '$r1', [2, 6, 3, 7])})
        (local.set $t2 ${shuffle('$r2', '$r3', [0, 4, 1, 5])})
        (local.set $t3 ${shuffle('$r2', '$r3', [2, 6, 3, 7])})
        (v128.store ${at('$d', 0, '$ldd')} ${shuffle('$t0', '$t2', [0, 1, 4, 5])})
        (v128.store ${at('$d', 1, '$ldd')} ${shuffle('$t0', '$t2', [2, 3, 6, 7])})
        (v128.store ${at('$d', 2, '$ldd')} ${shuffle('$t1', '$t3', [0, 1, 4, 5])})
        (v128.store ${at('$d', 3, '$ldd')} ${shuffle('$t1', '$t3', [2, 3, 6, 7])})
        (local.set $j (i32.add ${get('$j')} (i32.const 4)))
        (br $bj)))
      (local.set $i (i32.add ${get('$i')} (i32.const 4)))
      (br $bi)))
    ;; the rest, one value at a time: columns cols4.. of rows ..rows4, then rows rows4.. whole
    (local.set $i (i32.const 0))
    (block $ei_done (loop $ei
      (br_if $ei_done (i32.ge_u ${get('$i')} ${get('$rows')}))
      (local.set $j (select (i32.const 0) ${get('$cols4')} (i32.ge_u ${get('$i')} ${get('$rows4')})))
      (block $ej_done (loop $ej
        (br_if $ej_done (i32.ge_u ${get('$j')} ${get('$cols')}))
        (f32.store
          (i32.add (i32.add ${get('$dst')} (i32.mul ${get('$j')} ${get('$ldd')})) (i32.shl ${get('$i')} (i32.const 2)))
          (f32.load (i32.add (i32.add ${get('$src')} (i32.mul ${get('$i')} ${get('$lds')})) (i32.shl ${get('$j')} (i32.const 2)))))
        (local.set $j (i32.add ${get('$j')} (i32.const 1)))
        (br $ej)))
      (local.set $i (i32.add ${get('$i')} (i32.const 1)))
      (br $ei))))`;
}
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MR = 4;
export const NR = 8;
/** Rows of the FMA kernel's register tile. */
export const MR_FMA = 4;

/** An element-wise pass over n int32 lanes: `vec` and `one` build the stored value from loaded ones. */
function elementwise(name, params, vec, one) {
  const get = (x) => `(local.get ${x})`;
  const ptrs = params.map((p) => `$${p}`);
  const out = ptrs[ptrs.length - 1];
  const bump = (by) => ptrs.map((p) => `(local.set ${p} (i32.add ${get(p)} (i32.const ${by})))`).join(' ');
  return `
  (func (export "${name}") ${ptrs.map((p) => `(param ${p} i32)`).join(' ')} (param $n i32)
    (local $end i32)
    (local.set $end (i32.add ${get(out)} (i32.shl (i32.and ${get('$n')} (i32.const -4)) (i32.const 2))))
    (block $v_done (loop $v
      (br_if $v_done (i32.ge_u ${get(out)} ${get('$end')}))
      (v128.store ${get(out)} ${vec((p) => `(v128.load ${get(`$${p}`)})`)})
      ${bump(16)}
      (br $v)))
    (local.set $end (i32.add ${get('$end')} (i32.shl (i32.and ${get('$n')} (i32.const 3)) (i32.const 2))))
    (block $s_done (loop $s
      (br_if $s_done (i32.ge_u ${get(out)} ${get('$end')}))
      (i32.store ${get(out)} ${one((p) => `(i32.load ${get(`$${p}`)})`)})
      ${bump(4)}
      (br $s))))`;
}

/**
 * relu_bias_forward(z, a, n, b): one row of a dense layer, the bias add fused
 * with the ReLU: z ← z + b (f32x4.add: the float32 sum, correctly rounded, as
 * js's float64 add then store), then a = z & ~(z >> 31) on the sum's bits.
 */
function reluBiasWat() {
  const get = (x) => `(local.get ${x})`;
  const bump = (by) => ['$z', '$a'].map((p) => `(local.set ${p} (i32.add ${get(p)} (i32.const ${by})))`).join(' ');
  return `
  (func (export "relu_bias_forward") (param $z i32) (param $a i32) (param $n i32) (param $b f32)
    (local $end i32) (local $bv v128) (local $v v128) (local $s i32)
    (local.set $bv (f32x4.splat ${get('$b')}))
    (local.set $end (i32.add ${get('$a')} (i32.shl (i32.and ${get('$n')} (i32.const -4)) (i32.const 2))))
    (block $v_done (loop $v
      (br_if $v_done (i32.ge_u ${get('$a')} ${get('$end')}))
      (local.set $v (f32x4.add (v128.load ${get('$z')}) ${get('$bv')}))
      (v128.store ${get('$z')} ${get('$v')})
      (v128.store ${get('$a')} (v128.andnot ${get('$v')} (i32x4.shr_s ${get('$v')} (i32.const 31))))
      ${bump(16)}
      (br $v)))
    (local.set $end (i32.add ${get('$end')} (i32.shl (i32.and ${get('$n')} (i32.const 3)) (i32.const 2))))
    (block $s_done (loop $s
      (br_if $s_done (i32.ge_u ${get('$a')} ${get('$end')}))
      (f32.store ${get('$z')} (f32.add (f32.load ${get('$z')}) ${get('$b')}))
      (local.set $s (i32.load ${get('$z')}))
      (i32.store ${get('$a')} (i32.and ${get('$s')} (i32.xor (i32.shr_s ${get('$s')} (i32.const 31)) (i32.const -1))))
      ${bump(4)}
      (br $s))))`;
}

export function reluWat() {
  return [
    // a = z & ~(z >> 31)
    elementwise(
      'relu_forward',
      ['z', 'a'],
      (load) => `(v128.andnot ${load('z')} (i32x4.shr_s ${load('z')} (i32.const 31)))`,
      (load) => `(i32.and ${load('z')} (i32.xor (i32.shr_s ${load('z')} (i32.const 31)) (i32.const -1)))`,
    ),
    reluBiasWat(),
    // d = g & -(z > 0)
    elementwise(
      'relu_backward',
      ['z', 'g', 'd'],
      (load) => `(v128.and ${load('g')} (i32x4.gt_s ${load('z')} (v128.const i32x4 0 0 0 0)))`,
      (load) => `(i32.and ${load('g')} (i32.sub (i32.const 0) (i32.gt_s ${load('z')} (i32.const 0))))`,
    ),
  ].join('');
}

/**
 * The GEMM's text. fma: each multiply-add is one f32x4.relaxed_madd (relaxed
 * SIMD: fused, one rounding, where the CPU has FMA; a multiply then an add
 * elsewhere), instead of f32x4.mul then f32x4.add (two roundings); mr: rows
 * of the register tile.
 */
export function gemmWat({ fma = false, mr = MR } = {}) {
  const rows = [...Array(mr).keys()];
  const acc = (r, h) => `$c${r}${h}`;
  const accs = rows.flatMap((r) => [acc(r, 0), acc(r, 1)]);
  const get = (x) => `(local.get ${x})`;
  // x·y + z: fused (relaxed) or a multiply then an add
  const madd = (x, y, z) => (fma ? `(f32x4.relaxed_madd ${x} ${y} ${z})` : `(f32x4.add ${z} (f32x4.mul ${x} ${y}))`);
  const step = rows
    .map(
      (r) => `
            (local.set $s (v128.load32_splat ${r === 0 ? get('$ap') : `(i32.add ${get('$ap')} ${get(`$ars${r}`)})`}))
            ${[0, 1].map((h) => `(local.set ${acc(r, h)} ${madd(get('$s'), get(`$b${h}`), get(acc(r, h)))})`).join('\n            ')}`,
    )
    .join('');
  // C's tile: alpha·acc, plus beta·C when beta ≠ 0.
  const store = (withC) =>
    rows
      .map(
        (r) =>
          [0, 1]
            .map((h) => {
              const ax = `(f32x4.mul ${get('$va')} ${get(acc(r, h))})`;
              const value = withC ? `(f32x4.add ${ax} (f32x4.mul ${get('$vb')} (v128.load offset=${16 * h} ${get('$cp')})))` : ax;
              return `
          (v128.store offset=${16 * h} ${get('$cp')} ${value})`;
            })
            .join('') +
          `
          (local.set $cp (i32.add ${get('$cp')} ${get('$ldc')}))`,
      )
      .join('');
  return `
  (func (export "nn")
    (param $m i32) (param $n i32) (param $k i32)
    (param $a i32) (param $ars i32) (param $acs i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
    (param $alpha f32) (param $beta f32)
    (local $i i32) (local $j i32) (local $arow i32) (local $aend i32) (local $ap i32) (local $bp i32) (local $cp i32)
    ${rows
      .slice(1)
      .map((r) => `(local $ars${r} i32)`)
      .join(' ')}
    (local $va v128) (local $vb v128) (local $s v128) (local $b0 v128) (local $b1 v128)
    ${accs.map((x) => `(local ${x} v128)`).join(' ')}
    (local.set $va (f32x4.splat ${get('$alpha')}))
    (local.set $vb (f32x4.splat ${get('$beta')}))
    ${rows
      .slice(1)
      .map((r) => `(local.set $ars${r} (i32.mul ${get('$ars')} (i32.const ${r})))`)
      .join('\n    ')}
    (block $rows_done (loop $rows
      (br_if $rows_done (i32.ge_u ${get('$i')} ${get('$m')}))
      (local.set $arow (i32.add ${get('$a')} (i32.mul ${get('$i')} ${get('$ars')})))
      (local.set $aend (i32.add ${get('$arow')} (i32.mul ${get('$k')} ${get('$acs')})))
      (local.set $j (i32.const 0))
      (block $cols_done (loop $cols
        (br_if $cols_done (i32.ge_u ${get('$j')} ${get('$n')}))
        ${accs.map((x) => `(local.set ${x} (v128.const i32x4 0 0 0 0))`).join('\n        ')}
        (local.set $ap ${get('$arow')})
        (local.set $bp (i32.add ${get('$b')} (i32.shl ${get('$j')} (i32.const 2))))
        (block $k_done (loop $k
            (br_if $k_done (i32.ge_u ${get('$ap')} ${get('$aend')}))
            (local.set $b0 (v128.load ${get('$bp')}))
            (local.set $b1 (v128.load offset=16 ${get('$bp')}))${step}
            (local.set $ap (i32.add ${get('$ap')} ${get('$acs')}))
            (local.set $bp (i32.add ${get('$bp')} ${get('$ldb')}))
            (br $k)))
        (local.set $cp (i32.add (i32.add ${get('$c')} (i32.mul ${get('$i')} ${get('$ldc')})) (i32.shl ${get('$j')} (i32.const 2))))
        (if (f32.eq ${get('$beta')} (f32.const 0))
          (then${store(false)})
          (else${store(true)}))
        (local.set $j (i32.add ${get('$j')} (i32.const ${NR})))
        (br $cols)))
      (local.set $i (i32.add ${get('$i')} (i32.const ${mr})))
      (br $rows))))`;
}

/** The two modules' text, by file name under assets/. */
export function modulesWat() {
  return {
    'gemm.wasm': `(module
  (import "env" "memory" (memory 1 65536 shared))${gemmWat()}${transposeWat()})
`,
    // the same with fused multiply-adds, for engines with relaxed SIMD
    'gemm-fma.wasm': `(module
  (import "env" "memory" (memory 1 65536 shared))${gemmWat({ fma: true, mr: MR_FMA })}${transposeWat()})
`,
    'relu.wasm': `(module
  (memory (export "memory") 1 65536)${reluWat()})
`,
  };
}

/** A module's bytes, from its text. */
export async function assemble(wat) {
  const wabt = await (await import('wabt')).default();
  const mod = wabt.parseWat('kernels.wat', wat, { simd: true, threads: true, relaxed_simd: true });
  try {
    // (wabt's validate() ignores the threads feature; WebAssembly.compile validates instead)
    return Uint8Array.from(mod.toBinary({ write_debug_names: false }).buffer);
  } finally {
    mod.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let stale = 0;
  for (const [name, wat] of Object.entries(modulesWat())) {
    const out = fileURLToPath(new URL(`../assets/${name}`, import.meta.url));
    if (process.argv.includes('--wat')) {
      process.stdout.write(`;; assets/${name}\n${wat}`);
      continue;
    }
    const bytes = Buffer.from(await assemble(wat));
    if (process.argv.includes('--check')) {
      const same = bytes.equals(readFileSync(out));
      if (!same) stale++;
      console.log(same ? `${out} is up to date` : `${out} differs from scripts/wasm-kernels.mjs: run node scripts/wasm-kernels.mjs`);
    } else {
      writeFileSync(out, bytes);
      console.log(`${out}: ${bytes.length} bytes`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
