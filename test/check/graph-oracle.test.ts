import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { relu, type Activation, type ActivationName } from '../../src/nn/activations.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { graphGradients } from '../../src/check/graph-oracle.js';

describe('graph oracle', () => {
  const net = Network.create({ sizes: [2, 3, 1], activation: 'relu', outputActivation: 'sigmoid', cost: 'quadratic' }, 'he', new Rng(1), 'float64');
  const x = Matrix.from(2, 2, [0.5, -1, 0.25, 2], 'float64'); // one example per row
  const y = Matrix.from(1, 2, [1, 0], 'float64');

  it('differentiates the network it is given', () => {
    expect(Number.isFinite(graphGradients(net, x, y).loss)).toBe(true);
  });

  it('refuses an activation it has no op for, rather than treating it as linear', () => {
    const swish: Activation = { ...relu, name: 'swish' as ActivationName };
    const odd = Network.create({ sizes: [2, 3, 1], activation: 'relu', outputActivation: 'sigmoid', cost: 'quadratic' }, 'he', new Rng(1), 'float64');
    odd.activations[0] = swish;
    expect(() => graphGradients(odd, x, y)).toThrow(/no op for the activation "swish"/);
  });
});
