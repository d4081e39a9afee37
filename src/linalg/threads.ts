/**
 * The thread policy of a provider: how many threads one gemm runs on, chosen
 * from its size alone, m·n·k multiply-adds:
 *
 *   threads(m, n, k) = 1    when m·n·k < parallelWork
 *                    = max  otherwise
 *
 * Waking a second thread and splitting the product costs tens of µs; below
 * parallelWork one thread finishes first (docs/guide/performance.md has the
 * measurements behind the constants). The rule reads no clock, so a given
 * machine (max) and backprop version (parallelWork) always give the same
 * thread count for the same product, and so the same bytes: OpenBLAS's
 * result depends on its thread count (its split changes the order of the
 * sums), the wasm kernel's does not (each element of C is summed by one
 * thread, in one order). The policy is recorded in provenance.
 */
export interface ThreadPolicy {
  /** The most threads a product runs on (the machine's parallelism, or what the user asked). */
  max: number;
  /** The fewest multiply-adds m·n·k that run on `max` threads. */
  parallelWork: number;
}

export function threadsFor(p: ThreadPolicy, work: number): number {
  return work < p.parallelWork ? 1 : p.max;
}

/** The policy in words, for provenance and `backprop info`: "1 thread below 2^24 multiply-adds (m·n·k), 2 from there". */
export function describePolicy(p: ThreadPolicy): string {
  if (p.max === 1) return '1 thread';
  const pow = Math.log2(p.parallelWork);
  const work = Number.isInteger(pow) ? `2^${pow}` : String(p.parallelWork);
  return p.parallelWork <= 1 ? `${p.max} threads` : `1 thread below ${work} multiply-adds (m·n·k), ${p.max} from there`;
}

/**
 * parallelWork: $BACKPROP_PARALLEL_WORK (a whole number of multiply-adds, for
 * measuring the rule on another machine; 0 puts every product on all
 * threads), else the provider's measured default.
 */
export function parallelWork(fallback: number, env: NodeJS.ProcessEnv = process.env): { parallelWork: number } | { error: string } {
  const v = env.BACKPROP_PARALLEL_WORK;
  if (v === undefined || v === '') return { parallelWork: fallback };
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) return { error: `BACKPROP_PARALLEL_WORK=${v}: expected a whole number of multiply-adds (0 or more)` };
  return { parallelWork: n };
}
