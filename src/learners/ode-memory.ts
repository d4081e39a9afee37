import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Matrix, type Kernels } from '../linalg/index.js';
import { Rng } from '../base/rng.js';
import { OdeNet, type OdeGradient } from './ode.js';

export interface MemoryRow {
  steps: number;
  /** Peak growth of the process's ArrayBuffer memory during one gradient computation, in bytes. */
  adjointPeak: number;
  unrolledPeak: number;
  /** Bytes of stored solver stages (the unrolled gradient's tape; the adjoint keeps none). */
  unrolledTape: number;
  /** Evaluations of f (forward + backward; the adjoint's backward ones are of the augmented dynamics). */
  adjointEvaluations: number;
  unrolledEvaluations: number;
  /** Multiply-adds ×2 of the whole gradient computation. */
  adjointFlops: number;
  unrolledFlops: number;
}

/** The garbage collector, reachable without starting node with --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Measures the peak memory of one gradient computation of a neural ODE
 * (state D, f's hidden units K, a batch of m examples, float64, RK4) for each
 * number of solver steps, with the adjoint method and with backprop through
 * the stored steps. The peak is that of process.memoryUsage().arrayBuffers
 * (where every typed array's storage is counted), sampled at each evaluation
 * of f, above its value just before the computation, after a full garbage
 * collection.
 */
export async function gradientMemory(kernels: Kernels, stepsList: readonly number[], D = 32, K = 32, m = 64, inputs = 784): Promise<MemoryRow[]> {
  const gc = collector();
  const net = new OdeNet(inputs, D, K, 10, 'float64', kernels).init(new Rng(1));
  const rng = new Rng(2);
  const x = Matrix.zeros(m, inputs, 'float64');
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform();
  const labels = Array.from({ length: m }, (_, j) => j % 10);
  const grad = new Float64Array(net.theta.length);
  const measure = async (steps: number, method: OdeGradient) => {
    gc();
    await new Promise((r) => setTimeout(r, 50)); // freed backing stores are released by a concurrent sweeper: let it finish
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    const probe = () => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    };
    const flops = net.flops;
    const r = net.lossAndGradient(x, labels, { method: 'rk4', steps }, 1, method, grad, probe);
    return { peak: peak - base, tape: r.tapeBytes, evaluations: r.forward.nfe + r.backward.nfe, flops: net.flops - flops };
  };
  await measure(stepsList[0], 'adjoint'); // first calls allocate the batch's work buffers once: not part of any row
  await measure(stepsList[0], 'unrolled');
  const rows: MemoryRow[] = [];
  for (const steps of stepsList) {
    const adjoint = await measure(steps, 'adjoint'),
      unrolled = await measure(steps, 'unrolled');
    rows.push({
      steps,
      adjointPeak: adjoint.peak,
      unrolledPeak: unrolled.peak,
      unrolledTape: unrolled.tape,
      adjointEvaluations: adjoint.evaluations,
      unrolledEvaluations: unrolled.evaluations,
      adjointFlops: adjoint.flops,
      unrolledFlops: unrolled.flops,
    });
  }
  return rows;
}

/** The table as text, one row per step count. */
export function memoryTable(rows: MemoryRow[]): string {
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
  const mf = (f: number) => `${(f / 1e6).toFixed(1)} MFLOP`;
  const head = ['RK4 steps', 'adjoint peak', 'unrolled peak', 'unrolled tape', 'evals adjoint', 'evals unrolled', 'work adjoint', 'work unrolled'];
  const body = rows.map((r) => [
    String(r.steps),
    kb(r.adjointPeak),
    kb(r.unrolledPeak),
    kb(r.unrolledTape),
    String(r.adjointEvaluations),
    String(r.unrolledEvaluations),
    mf(r.adjointFlops),
    mf(r.unrolledFlops),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}
