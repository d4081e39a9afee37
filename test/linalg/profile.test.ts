import { describe, expect, it } from 'vitest';
import { jsKernels, type Kernels } from '../../src/linalg/index.js';
import { KernelProfile } from '../../src/linalg/profile.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { SgdTrainer } from '../../src/train/sgd.js';
import { initialState, runTraining } from '../../src/train/session.js';
import { examples } from '../../src/data/dataset.js';

/** 120 examples of a 20-16-8-3 net, batch 40: 3 steps. */
async function train(k: Kernels): Promise<number[]> {
  const rng = new Rng(4);
  const f = new Float32Array(120 * 20).map(() => rng.uniform());
  const l = new Uint8Array(120).map((_, i) => i % 3);
  const r2 = new Rng(6);
  const net = Network.create({ sizes: [20, 16, 8, 3], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', r2);
  await runTraining(new SgdTrainer(net, { lr: 0.1, batchSize: 40, weightDecay: 0 }, k), examples(f, l, 20), r2, initialState(120), { epochs: 1, evaluate: false });
  return net.weights.flatMap((w) => Array.from(w.data));
}

describe('KernelProfile', () => {
  it('times every kernel call and every gap by phase, and computes what the kernels compute', async () => {
    const prof = new KernelProfile();
    expect(await train(prof.wrap(jsKernels))).toEqual(await train(jsKernels));
    const calls = (phase: string) => prof.seconds.get(phase)?.calls;
    // per step of 3 layers: 3 forward gemms (the softmax layer's with its bias in C), 2 of Wᵀδ, 3 rowSums, 3 updates; 3 steps
    expect(calls('gemm Z ← W·A 16×40')).toBe(3);
    expect(calls('gemm Z ← W·A + Z 3×40')).toBe(3);
    expect(calls('gemm Wᵀ·δ 16×40')).toBe(3);
    expect(calls('gemm W ← W − η/m δ·Aᵀ 16×20')).toBe(3);
    expect(calls('rowSums s = δ·1')).toBe(9);
    expect(calls('bias add and f(Z + b) in one pass, next bias fill if softmax')).toBe(6);
    expect(calls('output activation, cost, δ^L')).toBe(3);
    expect(calls("f'(Z) ⊙ (δ recursion)")).toBe(3);
    expect(calls("f'(Z) ⊙ (δ^1)")).toBe(3);
    expect(calls('row sums loop')).toBe(6);
    expect(calls('finiteness check of the row sums')).toBe(3);
    expect(calls('bias step b ← b − (η/m) s')).toBe(6);
    expect(calls('between steps: last bias step, batch fill, trainer')).toBe(2);
    for (const [, e] of prof.seconds) expect(e.s).toBeGreaterThanOrEqual(0);
    prof.reset();
    expect(prof.seconds.size).toBe(0);
  });
});
