import type * as TF from '@tensorflow/tfjs';
import type { Kernels } from './kernels.js';
import { tfjsKernels } from './tfjs-gemm.js';

/**
 * The tensorflow provider: @tensorflow/tfjs-node (libtensorflow), an optional
 * dependency that is absent where its install script could not download
 * libtensorflow. Never required.
 */
export async function loadTensorflow(): Promise<Kernels | { error: string }> {
  try {
    const name = '@tensorflow/tfjs-node'; // a variable: the package may be absent at build time too
    const tf = (await import(name)) as typeof TF;
    tf.env().set('PROD', true);
    if (!(await tf.setBackend('tensorflow'))) return { error: 'the tfjs-node backend did not initialise' };
    return tfjsKernels(tf, 'tensorflow', 'tensorflow');
  } catch (e) {
    return { error: `@tensorflow/tfjs-node is not installed or does not load (${(e as Error).message.split('\n')[0]})` };
  }
}
