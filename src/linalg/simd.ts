import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import type { Float } from './matrix.js';

/**
 * (module (func (param v128 v128 v128) (result v128)
 *   (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))
 * as assembled by wabt: relaxed_madd is the prefixed opcode 0xfd 0x85 0x02
 * (0x105, LEB128) of the relaxed SIMD proposal.
 */
const RELAXED_PROBE = Buffer.from('0061736d0100000001080160037b7b7b017b03020100070501016600000a0d010b00200020012002fd85020b', 'hex');

let relaxed: { available: boolean; how: string } | undefined;

/**
 * Whether this engine validates relaxed SIMD (f32x4.relaxed_madd), and how:
 * V8 12 (Node 22) has it on by default; V8 11 (Node 20, 21) has it behind
 * --experimental-wasm-relaxed-simd, which we then set with
 * v8.setFlagsFromString. That is sound: the flag only widens what the
 * validator accepts for modules compiled after it (the probe is validated
 * again to prove it took), it is process-wide so worker threads see it, and
 * it is set on this module's first import, before any of our modules is
 * compiled. Never assumed: where the probe does not validate, the kernel
 * without FMA runs.
 */
export function relaxedSimd(): { available: boolean; how: string } {
  if (relaxed) return relaxed;
  if (WebAssembly.validate(RELAXED_PROBE)) return (relaxed = { available: true, how: 'relaxed SIMD on by default in this engine' });
  const major = Number(process.versions.node.split('.')[0]);
  if (major === 20 || major === 21) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (WebAssembly.validate(RELAXED_PROBE)) return (relaxed = { available: true, how: 'relaxed SIMD enabled by --experimental-wasm-relaxed-simd' });
  }
  return (relaxed = { available: false, how: 'this engine does not validate relaxed SIMD' });
}
relaxedSimd();

/**
 * Our WebAssembly SIMD kernels, assembled from scripts/wasm-kernels.mjs:
 * assets/gemm.wasm (the wasm provider's GEMM, on a shared memory it imports),
 * assets/gemm-fma.wasm (the same with relaxed SIMD's fused multiply-add)
 * and assets/relu.wasm (the ReLU passes, on a memory of its own). Each is
 * compiled once per process; an error where this Node has no wasm SIMD or
 * shared memory (everything then runs on the js loops).
 */
const compiled = new Map<string, { module: WebAssembly.Module } | { error: string }>();
export function wasmModule(name: 'gemm.wasm' | 'gemm-fma.wasm' | 'relu.wasm' | 'conv.wasm'): { module: WebAssembly.Module } | { error: string } {
  let c = compiled.get(name);
  if (!c) {
    try {
      c = { module: new WebAssembly.Module(readFileSync(new URL(`../../assets/${name}`, import.meta.url))) };
    } catch (e) {
      c = { error: (e as Error).message.split('\n')[0] };
    }
    compiled.set(name, c);
  }
  return c;
}

interface Relu {
  memory: WebAssembly.Memory;
  relu_forward(z: number, a: number, n: number): void;
  relu_backward(z: number, g: number, d: number, n: number): void;
  relu_bias_forward(z: number, a: number, n: number, b: number): void;
}

/**
 * Element-wise passes as wasm SIMD, bound to the memory of one float32Block:
 * they run in place on that block's arrays only (the arrays are addressed by
 * their offsets in it). A Workspace hands its own to the activations
 * (Activation.forward/backward's last argument); with none, the js loops run.
 */
export interface ElementPasses {
  /** True when every array lives in this block, so that the passes below may take them. */
  holds(...arrays: Float[]): boolean;
  /** A ← max(Z, 0), four at a time; the bits of the js loop. */
  reluForward(Z: Float, A: Float): void;
  /** Z (rows × cols) ← Z + b 1ᵀ, then A ← max(Z, 0), a row at a time; the bits of the js loop. */
  reluBiasForward(Z: Float, b: ArrayLike<number>, A: Float, rows: number, cols: number): void;
  /** D ← G ⊙ [Z > 0] (D may alias G); the bits of the js loop. */
  reluBackward(Z: Float, G: Float, D: Float): void;
}

/**
 * Float32 arrays of the given lengths, 16-byte aligned, in one WebAssembly
 * memory of their own, and the element-wise passes bound to that memory. The
 * memory is sized once and never grows again (its views never detach); it
 * lives as long as any of the arrays. Plain arrays and no passes where the
 * kernels are unavailable.
 */
export function float32Block(lengths: number[]): { arrays: Float32Array[]; passes?: ElementPasses; memory?: WebAssembly.Memory } {
  const relu = wasmModule('relu.wasm');
  const offsets: number[] = [];
  let floats = 0;
  for (const n of lengths) {
    offsets.push(floats);
    floats += Math.ceil(n / 4) * 4;
  }
  if ('module' in relu && floats > 0) {
    try {
      const k = new WebAssembly.Instance(relu.module).exports as unknown as Relu;
      const pages = Math.ceil((floats * 4) / 65536);
      if (pages > 1) k.memory.grow(pages - 1);
      const buffer = k.memory.buffer;
      const passes: ElementPasses = {
        holds: (...arrays) => arrays.every((x) => x instanceof Float32Array && x.buffer === buffer),
        reluForward: (Z, A) => k.relu_forward(Z.byteOffset, A.byteOffset, Z.length),
        reluBackward: (Z, G, D) => k.relu_backward(Z.byteOffset, G.byteOffset, D.byteOffset, Z.length),
        reluBiasForward: (Z, b, A, rows, cols) => {
          for (let i = 0, at = 0; i < rows; i++, at += 4 * cols) k.relu_bias_forward(Z.byteOffset + at, A.byteOffset + at, cols, b[i]);
        },
      };
      return { arrays: lengths.map((n, i) => new Float32Array(buffer, offsets[i] * 4, n)), passes, memory: k.memory }; // memory: for conv.wasm's passes (src/nn/conv.ts)
    } catch {
      // no memory for it: plain arrays below
    }
  }
  return { arrays: lengths.map((n) => new Float32Array(n)) };
}
