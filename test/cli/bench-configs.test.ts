import { describe, expect, it } from 'vitest';
import { BENCH_CONFIGS, epochFlops } from '../../src/cli/bench.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';

describe('bench configurations', () => {
  it("C10 and C64 are Nielsen's ch. 6 ReLU net, with PyTorch's parameter count for the same layers", () => {
    for (const key of ['C10', 'C64']) {
      const net = Network.create(BENCH_CONFIGS[key].arch, BENCH_CONFIGS[key].init, new Rng(1));
      // Conv2d(1,20,5): 20·25 + 20; Conv2d(20,40,5): 40·500 + 40; Linear(640,100); Linear(100,10)
      const params = net.weights.reduce((s, w) => s + w.rows * w.cols, 0) + net.biases.reduce((s, b) => s + b.length, 0);
      expect(params).toBe(520 + 20040 + 64100 + 1010);
    }
    expect(BENCH_CONFIGS.C10.batchSize).toBe(10);
    expect(BENCH_CONFIGS.C64.batchSize).toBe(64);
  });

  it('counts an epoch by hand: forward, ∂C/∂W and Wᵀδ above layer 1, 2 flops per multiply-add', () => {
    // N, 784-30-10: forward 784·30 + 30·10 = 23,820 multiply-adds, recursion 300
    expect(epochFlops(BENCH_CONFIGS.N.arch, 1)).toBe(2 * (2 * 23_820 + 300));
    // conv net per example: conv1 20·25·(24·24) = 288,000; conv2 40·500·(8·8) = 1,280,000; 640·100 = 64,000; 100·10 = 1,000
    const all = 288_000 + 1_280_000 + 64_000 + 1_000;
    expect(epochFlops(BENCH_CONFIGS.C10.arch, 10_000)).toBe(10_000 * 2 * (2 * all + (all - 288_000)));
  });
});
