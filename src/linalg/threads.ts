/**
 * The thread policy of a provider: how many threads one gemm C (m × n) ← A
 * (m × k) · B (k × n) runs on, chosen from its shape alone:
 *
 *   threads(m, n, k) = max  when m·n·k ≥ parallelWork, m·n ≥ minOutput and k ≥ minInner
 *                    = 1    otherwise
 *
 * Waking a second thread and splitting the product costs tens of µs, so a
 * product needs enough multiply-adds (m·n·k) to pay for it. It also needs
 * enough of C to split: OpenBLAS gives each thread a block of C and the
 * threads meet once per block of k (it packs shared panels of B), so a small
 * C with a long k (a conv layer's ∂C/∂W = δ·cols(A)ᵀ, 20 × 25 summed over
 * 36,864 positions) is all meetings and little work; and a long enough k: with
 * a short one (k = 25 or 40) each thread streams its part of C through memory
 * and the second brings nothing. docs/guide/performance.md has the
 * measurements behind the constants. The rule reads no clock, so a given
 * machine (max) and backprop version (the constants) always give the same
 * thread count for the same product, and so the same bytes: OpenBLAS's result
 * depends on its thread count (its split changes the order of the sums), the
 * wasm kernel's does not (each element of C is summed by one thread, in one
 * order). The policy is recorded in provenance.
 */
export interface ThreadPolicy extends ThreadRule {
  /** The most threads a product runs on (the machine's parallelism, or what the user asked). */
  max: number;
}

/** The constants of the rule: a product runs on `max` threads only when it reaches all three. */
export interface ThreadRule {
  /** The fewest multiply-adds m·n·k. */
  parallelWork: number;
  /** The fewest outputs m·n (absent: any). */
  minOutput?: number;
  /** The shortest inner dimension k (absent: any). */
  minInner?: number;
}

/** Threads for C (m × n) ← A (m × k) · B (k × n). */
export function threadsFor(p: ThreadPolicy, m: number, n: number, k: number): number {
  return m * n * k < p.parallelWork || m * n < (p.minOutput ?? 0) || k < (p.minInner ?? 0) ? 1 : p.max;
}

const power = (x: number) => (Number.isInteger(Math.log2(x)) ? `2^${Math.log2(x)}` : String(x));

/**
 * The policy in words, for provenance and `backprop info`: "1 thread below
 * 2^24 multiply-adds (m·n·k), 2^15 outputs (m·n) or an inner dimension of
 * 2^7 (k), 2 from there".
 */
export function describePolicy(p: ThreadPolicy): string {
  if (p.max === 1) return '1 thread';
  if (p.parallelWork <= 1 && !p.minOutput && !p.minInner) return `${p.max} threads`;
  const below = [`${power(p.parallelWork)} multiply-adds (m·n·k)`];
  if (p.minOutput) below.push(`${power(p.minOutput)} outputs (m·n)`);
  if (p.minInner) below.push(`an inner dimension of ${power(p.minInner)} (k)`);
  const list = below.length > 1 ? `${below.slice(0, -1).join(', ')} or ${below[below.length - 1]}` : below[0];
  return `1 thread below ${list}, ${p.max} from there`;
}

/**
 * The rule: $BACKPROP_PARALLEL_WORK when set (a whole number of multiply-adds,
 * for measuring the rule on another machine; it replaces the whole rule, so 0
 * puts every product on all threads), else the provider's measured default.
 */
export function parallelWork(fallback: ThreadRule, env: NodeJS.ProcessEnv = process.env): ThreadRule | { error: string } {
  const v = env.BACKPROP_PARALLEL_WORK;
  if (v === undefined || v === '') return { ...fallback };
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) return { error: `BACKPROP_PARALLEL_WORK=${v}: expected a whole number of multiply-adds (0 or more)` };
  return { parallelWork: n };
}
