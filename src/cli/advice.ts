import { stalls, type LayerStats, type Stall } from '../analysis/layers.js';

/** What a stalled layer means for the run and what to try, in the words the CLI prints. */
export function adviceFor(s: Stall): string {
  switch (s.kind) {
    case 'saturated':
      return `layer ${s.layer} (${s.activation}): ${(100 * s.fraction).toFixed(0)}% of its units are saturated (f'(z) < 1% of max), so its δ ≈ 0 and it has stopped learning; try --init xavier, a smaller --lr, or --activation relu`;
    case 'dead':
      return `layer ${s.layer} (${s.activation}): ${(100 * s.fraction).toFixed(0)}% of its units are dead (z ≤ 0 on every example), so they get no gradient; try a smaller --lr, --init he, or --activation leaky-relu`;
    case 'diverging':
      return `layer ${s.layer}: the gradient is ${s.speed}; the run is diverging`;
  }
}

/** Warnings for layers that have stopped learning, one line each. */
export function stalledLayers(stats: LayerStats[]): string[] {
  return stalls(stats).map(adviceFor);
}
