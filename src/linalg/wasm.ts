import type { Kernels } from './kernels.js';
import { tfjsKernels } from './tfjs-gemm.js';

/**
 * The wasm provider: @tensorflow/tfjs-backend-wasm (XNNPACK), whose .wasm
 * files ship inside the npm package, so it works offline.
 */
export async function loadWasm(): Promise<Kernels | { error: string }> {
  try {
    const tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-wasm');
    tf.env().set('PROD', true);
    if (!(await tf.setBackend('wasm'))) return { error: 'the tfjs wasm backend did not initialise' };
    return tfjsKernels(tf, 'wasm', 'wasm');
  } catch (e) {
    return { error: `@tensorflow/tfjs-backend-wasm does not load: ${(e as Error).message.split('\n')[0]}` };
  }
}
