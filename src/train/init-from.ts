import { layersFlag, type Architecture, type Network } from '../nn/network.js';

/** Where a fine-tuned run's weights came from (`train --init-from`), as its record keeps it. */
export interface InitFrom {
  /** The model file, as given. */
  file: string;
  /** SHA-256 of its bytes (hex), so that the record names the exact weights even if the file changes later. */
  sha256: string;
  /** --reinit-output: the output layer is drawn afresh from the seed (a dataset with other classes). */
  reinitOutput?: boolean;
}

/** The layers below the output, as --layers writes them (the input size and batch normalisation included; a conv net's image shape too). */
function body(a: Architecture): string {
  return a.layers ? `${a.input?.join('×')} image, ${layersFlag(a)}` : layersFlag({ ...a, sizes: a.sizes.slice(0, -1) });
}

/** The layers as --layers gives them (a conv net's between its input image and its output of n units). */
const shown = (a: Architecture) => (a.layers ? `${layersFlag(a)} (on ${a.input?.join('×')} images, ${a.sizes.at(-1)} outputs)` : layersFlag(a));

/**
 * Why `model` cannot start a run of architecture `wanted`, as the rest of a
 * sentence after "--init-from FILE: ", or undefined when it can: every layer
 * below the output the same (sizes, kinds, batch normalisation, the hidden
 * activation) and, unless the output layer is drawn afresh, the output layer
 * too (its units, activation and cost).
 */
export function initFromMismatch(model: Architecture, wanted: Architecture, reinitOutput: boolean): string | undefined {
  const hint = `give --layers ${layersFlag(model)} to train the model's own layers`;
  if (body(model) !== body(wanted)) return `the model's layers are ${shown(model)}, but the run asks for ${shown(wanted)} (${hint})`;
  if (model.sizes.length > 2 && model.activation !== wanted.activation)
    return `the model's hidden activation is ${model.activation}, but the run asks for ${wanted.activation} (give --activation ${model.activation})`;
  if (reinitOutput) return undefined;
  const fresh = 'or add --reinit-output to start a new output layer from the seed';
  const [m, w] = [model.sizes.at(-1), wanted.sizes.at(-1)];
  if (m !== w) return `the model's output layer has ${m} units, but the run's has ${w} (the data's classes or --layers); ${fresh}`;
  if (model.outputActivation !== wanted.outputActivation)
    return `the model's output activation is ${model.outputActivation}, but the run asks for ${wanted.outputActivation} (give --output-activation ${model.outputActivation}, ${fresh})`;
  if (model.cost !== wanted.cost) return `the model was trained with --cost ${model.cost}, but the run asks for ${wanted.cost} (give --cost ${model.cost}, ${fresh})`;
  return undefined;
}

/**
 * Fine-tuning's start: `net` (freshly initialised from the seed) takes
 * `model`'s W^l and b^l, batch normalisation's γ, β and running statistics,
 * converted to net's precision; with `reinitOutput`, W^L and b^L stay as the
 * seed drew them. The architectures must agree (initFromMismatch).
 */
export function copyInitialWeights(model: Network, net: Network, reinitOutput: boolean): void {
  const L = net.depth;
  for (let i = 0; i < net.weights.length; i++) {
    if (reinitOutput && i === L - 1) continue; // W^L, b^L: the seed's
    net.weights[i].data.set(model.weights[i].data);
    net.biases[i].set(model.biases[i]); // for i ≥ L: a batch normalisation's [γ; β]
  }
  const from = model.running();
  net.running().forEach((r, k) => (r.mean.set(from[k].mean), r.variance.set(from[k].variance)));
}
