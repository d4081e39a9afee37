import { Rng } from '../base/rng.js';
import { fillBatch, identity, type Examples } from '../data/dataset.js';
import { Matrix } from '../linalg/index.js';
import { Network, type Architecture, type InitName } from '../nn/network.js';
import type { GradcheckReport } from './gradcheck.js';
import type { ParityReport } from './parity.js';

/**
 * A new float64 network to check, from `seed`. A conv layer sees blank
 * patches of the image, where Z = b exactly: at ReLU's kink when b = 0 (he
 * and xavier init), where f′ does not exist and finite differences see half a
 * step. The check draws such biases from N(0, 0.1²) (seed + 1).
 */
export function checkNetwork(arch: Architecture, init: InitName, seed: number): Network {
  const net = Network.create(arch, init, new Rng(seed), 'float64');
  offKinks(net, seed);
  return net;
}

/**
 * The conv biases that are exactly 0 drawn from N(0, 0.1²) (seed + 1), as
 * checkNetwork does for a new network: a saved model that was never trained
 * (--epochs 0) has them too. Returns how many were drawn.
 */
export function offKinks(net: Network, seed: number): number {
  const biasRng = new Rng(seed + 1);
  let drawn = 0;
  net.geometry.forEach((g, l) => g && net.biases[l - 1].forEach((v, i, b) => v === 0 && ((b[i] = 0.1 * biasRng.normal()), drawn++)));
  return drawn;
}

/** A batch of `size` real examples, chosen by seed: inputs x (size × dim) and one-hot targets y (outputs × size), in float64. */
export function checkBatch(train: Examples, outputs: number, size: number, seed: number): { x: Matrix; y: Matrix } {
  const order = new Rng(seed ^ 0x5eed).shuffle(identity(train.count));
  const x = Matrix.zeros(size, train.dim, 'float64');
  const y = Matrix.zeros(outputs, size, 'float64');
  fillBatch(train, order, 0, x, y);
  return { x, y };
}

/** The checks that failed, by tensor and oracle (`W1 (finite differences)`, `b2 (tfjs)`, …), and the training parity. */
export function failedChecks(report: GradcheckReport, parity: ParityReport | undefined): string[] {
  const failed = report.tensors.flatMap((t) => [
    ...(t.finiteDifferences.pass ? [] : [`${t.name} (finite differences)`]),
    ...(t.tfjs && !t.tfjs.pass ? [`${t.name} (tfjs)`] : []),
    ...(!t.graph || t.graph.pass ? [] : [`${t.name} (graph)`]),
  ]);
  if (parity && !parity.pass) failed.push('training parity');
  return failed;
}
