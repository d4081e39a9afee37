import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/rng.js';

describe('Rng: the xoshiro128** stream of its seed (saved seeds and checkpoints replay it)', () => {
  // Known answers from an independent implementation of splitmix32 seeding and xoshiro128**.
  it('state and first outputs for seed 42', () => {
    const rng = new Rng(42);
    expect(Array.from(rng.state())).toEqual([939911724, 3948730756, 321366731, 3317318717]);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([2837322924, 544945897, 479756282, 3500138142]);
    const u = new Rng(42);
    expect([u.uniform(), u.uniform()]).toEqual([0.6606157208001621, 0.1117019639532224]);
    expect(new Rng(7).normal()).toBeCloseTo(-0.6925843705222114, 14);
    const r = new Rng(42);
    expect(Array.from(r.shuffle(Uint32Array.from({ length: 10 }, (_, i) => i)))).toEqual([8, 4, 2, 3, 9, 5, 7, 0, 1, 6]);
    expect(r.nextUint32()).toBe(2296110748); // nine draws, not ten
  });
  it('a restored state continues the stream; normal samples have mean 0 and variance 1', () => {
    const a = new Rng(3);
    a.uniform();
    const b = new Rng(a.state());
    expect([a.nextUint32(), a.nextUint32()]).toEqual([b.nextUint32(), b.nextUint32()]);
    const r = new Rng(11),
      n = 20000;
    let s = 0,
      s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.05);
  });
});
