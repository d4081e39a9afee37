import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Kernels } from './kernels.js';
import { acceleratedKernels } from './accelerated.js';

/** Below this many multiply-adds the tensor round trip costs more than the js loops. */
export const TFJS_MIN_WORK = 32_768;

/**
 * The tensorflow provider: @tensorflow/tfjs-node (libtensorflow), an optional
 * dependency that is absent where its install script could not download
 * libtensorflow. Never required.
 */
export async function loadTensorflow(): Promise<Kernels | { error: string }> {
  try {
    const name = '@tensorflow/tfjs-node'; // a variable: the package may be absent at build time too
    // Where its install script could not download libtensorflow the package is there without its
    // native binding: importing it would load all of tfjs (~0.8 s) only to fail. Look first.
    const missing = missingBinding(name);
    if (missing) return { error: missing };
    const tf = (await import(name)) as typeof TF;
    tf.env().set('PROD', true);
    if (!(await tf.setBackend('tensorflow'))) return { error: 'the tfjs-node backend did not initialise' };
    return tensorflowKernels(tf);
  } catch (e) {
    return { error: `@tensorflow/tfjs-node is not installed or does not load (${(e as Error).message.split('\n')[0]})` };
  }
}

/** Why the installed tfjs-node cannot load (not installed, or no native binding under lib/), or undefined. */
function missingBinding(name: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    return `${name} is not installed (an optional dependency)`;
  }
  const lib = join(dir, 'lib');
  const found = existsSync(lib) && readdirSync(lib).some((d) => existsSync(join(lib, d, 'tfjs_binding.node')));
  return found ? undefined : `${name} is installed without its native binding (its install script downloads libtensorflow, which failed or did not run)`;
}

/**
 * gemm is tf.matMul (transposes included, done by libtensorflow) on tensors
 * made from our buffers, float32 only (tfjs has no float64 matmul), so
 * float64 and tiny products stay on the js loops.
 */
function tensorflowKernels(tf: typeof TF): Kernels {
  return acceleratedKernels('tensorflow', { minWork: TFJS_MIN_WORK, float64: false }, (transA, transB, alpha, a, b, beta, c) => {
    if (tf.getBackend() !== 'tensorflow') void tf.setBackend('tensorflow'); // another user of tfjs may have switched it
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(a.data as Float32Array, [a.rows, a.cols]), tf.tensor2d(b.data as Float32Array, [b.rows, b.cols]), transA, transB));
    const P = product.dataSync();
    product.dispose();
    const C = c.data;
    if (beta === 0) for (let i = 0; i < C.length; i++) C[i] = alpha * P[i];
    else for (let i = 0; i < C.length; i++) C[i] = alpha * P[i] + beta * C[i];
  });
}
