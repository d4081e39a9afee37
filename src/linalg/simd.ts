import { readFileSync } from 'node:fs';
import type { Float } from './matrix.js';

/**
 * Our WebAssembly SIMD kernels, assembled from scripts/wasm-kernels.mjs:
 * assets/gemm.wasm (the wasm provider's GEMM, on a shared memory it imports)
 * and assets/relu.wasm (the ReLU passes, on a memory of its own). Each is
 * compiled once per process; an error where this Node has no wasm SIMD or
 * shared memory (everything then runs on the js loops).
 */
const compiled = new Map<string, { module: WebAssembly.Module } | { error: string }>();
export function wasmModule(name: 'gemm.wasm' | 'relu.wasm'): { module: WebAssembly.Module } | { error: string } {
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
}

/** The ReLU kernels of each memory handed out by float32Block. */
const instances = new WeakMap<ArrayBufferLike, Relu>();

/**
 * Float32 arrays of the given lengths, 16-byte aligned, in one WebAssembly
 * memory of their own with the ReLU kernels bound to it, so that those passes
 * run as SIMD on them in place. The memory is sized once and never grows
 * again (its views never detach); it lives as long as any of the arrays.
 * Plain arrays where the kernels are unavailable.
 */
export function float32Block(lengths: number[]): Float32Array[] {
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
      instances.set(k.memory.buffer, k);
      return lengths.map((n, i) => new Float32Array(k.memory.buffer, offsets[i] * 4, n));
    } catch {
      // no memory for it: plain arrays below
    }
  }
  return lengths.map((n) => new Float32Array(n));
}

/** The kernels bound to the memory holding all of `arrays`, if they are float32 arrays of one block. */
function boundTo(...arrays: Float[]): Relu | undefined {
  const buffer = arrays[0].buffer;
  for (const x of arrays) if (!(x instanceof Float32Array) || x.buffer !== buffer) return undefined;
  return instances.get(buffer);
}

/** A ← max(Z, 0) as SIMD when both live in one float32Block; false if not (use the js loop). */
export function simdReluForward(Z: Float, A: Float): boolean {
  const k = boundTo(Z, A);
  if (!k) return false;
  k.relu_forward(Z.byteOffset, A.byteOffset, Z.length);
  return true;
}

/** D ← G ⊙ [Z > 0] as SIMD when all three live in one float32Block; false if not. */
export function simdReluBackward(Z: Float, G: Float, D: Float): boolean {
  const k = boundTo(Z, G, D);
  if (!k) return false;
  k.relu_backward(Z.byteOffset, G.byteOffset, D.byteOffset, Z.length);
  return true;
}
