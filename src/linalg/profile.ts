import type { Kernels, Trans } from './kernels.js';
import type { Matrix } from './matrix.js';

/** One kernel call as the profiler names it: the kind of call, from gemm's flags and alpha, beta. */
export type CallKind = 'forward' | 'delta' | 'update' | 'rowSums';

/**
 * What the training step of src/nn/backprop.ts does between two kernel calls,
 * named from the calls either side (sgdStep's order: per layer the gemm
 * Z ← W A, then one pass z ← z + b, A ← f(Z) (a softmax layer's bias goes in
 * first, as gemm's C); the cost's δ^L; per layer gemm Wᵀδ, then f' ⊙; per
 * layer rowSums s = δ 1; the finiteness check of the sums; per layer the
 * update gemm, then b ← b − (η/m) s).
 */
const BETWEEN: Record<string, { phase: string; kind: 'element-wise' | 'other' }> = {
  'forward→forward': { phase: 'bias add and f(Z + b) in one pass, next bias fill if softmax', kind: 'element-wise' },
  'forward→delta': { phase: 'output activation, cost, δ^L', kind: 'element-wise' },
  'forward→rowSums': { phase: 'output activation, cost, δ^L', kind: 'element-wise' },
  'forward→update': { phase: 'output activation, cost, δ^L', kind: 'element-wise' },
  'delta→delta': { phase: "f'(Z) ⊙ (δ recursion)", kind: 'element-wise' },
  'delta→rowSums': { phase: "f'(Z) ⊙ (δ^1)", kind: 'element-wise' },
  'delta→update': { phase: "f'(Z) ⊙ (δ^1)", kind: 'element-wise' },
  'rowSums→rowSums': { phase: 'row sums loop', kind: 'other' },
  'rowSums→update': { phase: 'finiteness check of the row sums', kind: 'element-wise' },
  'update→update': { phase: 'bias step b ← b − (η/m) s', kind: 'element-wise' },
  'update→forward': { phase: 'between steps: last bias step, batch fill, trainer', kind: 'other' },
  // backprop() then an optimizer (not plain SGD): gradient gemm and rowSums per layer, then the optimizer's step
  'update→rowSums': { phase: 'gradient loop', kind: 'other' },
  'rowSums→forward': { phase: 'between steps: optimizer step, batch fill, trainer', kind: 'other' },
};

/**
 * Wall-clock seconds per phase of a training loop, by wrapping the kernels:
 * each call is timed, and so is each gap between two calls (what src/nn does
 * there: element-wise passes, the cost, the trainer's own work), named by
 * BETWEEN. No edit of src/nn is needed, and the kernels compute as before.
 */
export class KernelProfile {
  readonly seconds = new Map<string, { kind: 'gemm' | 'element-wise' | 'other'; s: number; calls: number }>();
  private last: CallKind | undefined;
  private lastEnd = 0;

  private add(phase: string, kind: 'gemm' | 'element-wise' | 'other', ms: number): void {
    const e = this.seconds.get(phase) ?? { kind, s: 0, calls: 0 };
    e.s += ms / 1000;
    e.calls++;
    this.seconds.set(phase, e);
  }

  private call(kind: CallKind, label: string, gemm: boolean, run: () => void): void {
    const t0 = performance.now();
    if (this.last) {
      const key = `${this.last}→${kind}`;
      const b = BETWEEN[key] ?? { phase: `between ${key}`, kind: 'other' as const };
      this.add(b.phase, b.kind, t0 - this.lastEnd);
    }
    run();
    this.lastEnd = performance.now();
    this.add(label, gemm ? 'gemm' : 'element-wise', this.lastEnd - t0);
    this.last = kind;
  }

  /** Forgets what was timed, and the last call: the next gap starts at the next call. */
  reset(): void {
    this.seconds.clear();
    this.last = undefined;
  }

  /** The kernels, timed. */
  wrap(k: Kernels): Kernels {
    return {
      name: k.name,
      gemm: (transA: Trans, transB: Trans, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix) => {
        // forward: Z ← 1·W A (+ 1·Z where the bias went in first); δ recursion: Wᵀ δ (A transposed); update: step·δ Aᵀ + (1 − ηλ)·W
        const kind: CallKind = transA ? 'delta' : alpha === 1 ? 'forward' : 'update';
        const name = { forward: beta === 1 ? 'gemm Z ← W·A + Z' : 'gemm Z ← W·A', delta: 'gemm Wᵀ·δ', update: 'gemm W ← W − η/m δ·Aᵀ' }[kind];
        this.call(kind, `${name} ${c.rows}×${c.cols}`, true, () => k.gemm(transA, transB, alpha, a, b, beta, c));
      },
      rowSums: (x, alpha, beta, out) => this.call('rowSums', 'rowSums s = δ·1', false, () => k.rowSums(x, alpha, beta, out)),
    };
  }
}
