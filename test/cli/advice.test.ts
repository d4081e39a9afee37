import { describe, expect, it } from 'vitest';
import type { LayerStats } from '../../src/analysis/layers.js';
import { stalledLayers } from '../../src/cli/advice.js';

describe('stalled layers', () => {
  const base: LayerStats = { layer: 3, hidden: true, activation: 'tanh', speed: 0.1, gradW: 0.1, meanAbsZ: 1 };
  it('warns above 90% saturated or dead, not at 90%', () => {
    expect(
      stalledLayers([
        { ...base, saturated: 0.9 },
        { ...base, activation: 'relu', dead: 0.9 },
      ]),
    ).toEqual([]);
    const w = stalledLayers([
      { ...base, saturated: 0.91 },
      { ...base, layer: 4, activation: 'relu', dead: 0.96 },
    ]);
    expect(w).toHaveLength(2);
    expect(w[0]).toMatch(/^layer 3 \(tanh\): 91% of its units are saturated/);
    expect(w[1]).toMatch(/^layer 4 \(relu\): 96% of its units are dead/);
  });
  it('says a layer diverges when its speed is not finite, and nothing while it is', () => {
    expect(stalledLayers([{ ...base, speed: Infinity }])).toEqual(['layer 3: the gradient is Infinity; the run is diverging']);
    expect(stalledLayers([{ ...base, speed: NaN }])).toEqual(['layer 3: the gradient is NaN; the run is diverging']);
    expect(stalledLayers([{ ...base, speed: 1e300 }])).toEqual([]);
  });
});
