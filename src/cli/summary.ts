import { Command } from 'commander';
import { loadModel, recordedOptions } from '../io/safetensors.js';
import type { Network } from '../nn/network.js';
import { table } from '../report/terminal.js';
import { Output, style } from './output.js';
import { examples } from './options.js';
import { QUOTE_LIMIT, safeText } from '../base/terminal-safe.js';

/** The layers of a network as a table (Keras's model.summary()): W's and b's shapes, the activation and the parameters of each, and their total. */
export function layerTable(net: Network): string {
  if (net.arch.layers) {
    // a conv net: each layer's kind and output shape as Keras prints them, W as [out, in, kh, kw] (docs/guide/convolution.md)
    const rows = net
      .summary()
      .map((l) => [String(l.layer), l.kind, `(${l.shape.join(', ')})`, l.weightShape.join(' × '), String(net.biases[l.layer - 1].length), l.activation, l.parameters.toLocaleString('en-US')]);
    rows.push(['total', '', '', '', '', '', net.parameterCount.toLocaleString('en-US')]);
    return table(['layer', 'type', 'output shape', 'W', 'b', 'activation', 'parameters'], rows);
  }
  const rows = net.summary().map((l) => [String(l.layer), `${l.units} × ${l.inputs}`, String(l.units), l.activation, l.parameters.toLocaleString('en-US')]);
  rows.push(['total', '', '', '', net.parameterCount.toLocaleString('en-US')]);
  return table(['layer', 'W', 'b', 'activation', 'parameters'], rows);
}

export function summaryCommand(): Command {
  return new Command('summary')
    .description("a saved model's layers (shapes, activations, parameter counts), its cost and how it was trained")
    .requiredOption('--model <file>', 'a model saved by `backprop train --save`')
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['the layers of a model and the run that trained it', 'backprop summary --model model.safetensors'],
        ['the same as JSON', 'backprop summary --model model.safetensors --json'],
      ]),
    )
    .action((opts: { model: string; json: boolean }) => {
      const out = new Output(opts.json);
      const { network: net, metadata: m } = loadModel(opts.model);
      const a = net.arch;
      const bytes = net.parameterCount * (net.dtype === 'float64' ? 8 : 4);
      // Metadata is whatever the file says: shown with its controls as escapes and long values cut (src/base/terminal-safe.ts).
      const meta = (key: string): string | undefined => (m[key] === undefined || m[key] === '' ? undefined : safeText(m[key], QUOTE_LIMIT));
      out.line(style.bold(safeText(opts.model)) + `: ${net.sizes.join('-')} ${a.activation}→${a.outputActivation}, ${a.cost} cost · ${net.dtype} (${(bytes / 1024).toFixed(1)} KB of parameters)`);
      out.line(layerTable(net));
      const optimizer = meta('optimizer');
      const trained = [
        meta('data') && `on ${meta('data')}`,
        meta('epochs') && `${meta('epochs')} epochs`,
        optimizer && optimizer !== 'sgd' ? optimizer : undefined,
        meta('lr') && `η=${meta('lr')}`,
        meta('batch_size') && `m=${meta('batch_size')}`,
        meta('seed') && `seed ${meta('seed')}`,
        meta('provider') && `${meta('provider')} kernels`,
        meta('backprop_version') && `backprop ${meta('backprop_version')}`,
      ].filter(Boolean);
      const accuracy = m.test_accuracy === undefined ? undefined : Number(m.test_accuracy);
      const shownAccuracy = accuracy !== undefined && Number.isFinite(accuracy) && accuracy >= 0 && accuracy <= 1 ? accuracy : undefined;
      if (trained.length) out.line(style.dim(`trained ${trained.join(' · ')}`) + (shownAccuracy !== undefined ? ` · test accuracy ${(100 * shownAccuracy).toFixed(2)}%` : ''));
      const options = recordedOptions(m);
      if (options.problem) out.note(style.warn(`note: ${options.problem}`));
      out.result({
        command: 'summary',
        model: opts.model,
        architecture: a,
        dtype: net.dtype,
        layers: net.summary(),
        parameters: net.parameterCount,
        trained: options.value,
        ...(options.problem ? { trainedProblem: options.problem } : {}),
        testAccuracy: shownAccuracy,
      });
    });
}
