import { jsKernels } from './js.js';
import type { Kernels } from './kernels.js';

export { Matrix } from './matrix.js';
export type { DType, Float } from './matrix.js';
export type { Kernels } from './kernels.js';
export { jsKernels } from './js.js';

export const BACKENDS = ['auto', 'js'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Chooses a kernel provider once; it is then passed down (DESIGN.md). */
export function getKernels(name: BackendName = 'auto'): Kernels {
  switch (name) {
    case 'auto':
    case 'js':
      return jsKernels;
  }
}
