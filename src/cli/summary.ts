import { RUN_SETTINGS } from '../train/settings.js';
import type { InitFrom } from '../train/init-from.js';
import { Command } from 'commander';
import { loadModel, recordedOptions } from '../io/safetensors.js';
import type { Network } from '../nn/network.js';
import { table } from '../report/terminal.js';
import { Output, style } from './output.js';
import { examples } from './options.js';
import { QUOTE_LIMIT, safeText } from '../base/terminal-safe.js';

/**
 * The layers of a network as a table (Keras's model.summary()): W's and b's shapes, the activation and the parameters of each, and their total.
 * A batch normalisation has its own row under its layer, as Keras prints a BatchNormalization layer: its γ and β (running statistics are not parameters).
 */
export function layerTable(net: Network): string {
  const conv = net.arch.layers !== undefined;
  const rows: string[][] = [];
  for (const l of net.summary()) {
    const bn = net.norm[l.layer];
    const own = (l.parameters - (bn ? bn.params.length : 0)).toLocaleString('en-US');
    // a conv net: each layer's kind and output shape as Keras prints them, W as [out, in, kh, kw] (docs/guide/convolution.md)
    if (conv)
      rows.push([String(l.layer), l.kind.replace(' + batchnorm', ''), `(${l.shape.join(', ')})`, l.weightShape.join(' × '), bn ? 'unused' : String(net.biases[l.layer - 1].length), l.activation, own]);
    else rows.push([String(l.layer), `${l.units} × ${l.inputs}`, bn ? 'unused' : String(l.units), l.activation, own]);
    if (!bn) continue;
    const params = bn.params.length.toLocaleString('en-US');
    // Z → BN → f: the activation column stays on the layer's own row
    if (conv) rows.push(['', `batchnorm (γ, β: ${bn.features} each)`, '', '', '', '', params]);
    else rows.push(['', `batchnorm γ, β`, `${bn.features} each`, '', params]);
  }
  if (conv) {
    rows.push(['total', '', '', '', '', '', net.parameterCount.toLocaleString('en-US')]);
    return table(['layer', 'type', 'output shape', 'W', 'b', 'activation', 'parameters'], rows);
  }
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
      // --init-from: the model it was fine-tuned from, shown when the recorded value passes the setting's own check
      const from = options.value?.initFrom as InitFrom | undefined;
      if (from !== undefined && RUN_SETTINGS.initFrom.check(from) === undefined) {
        out.line(
          style.dim(
            `started from ${safeText(from.file, QUOTE_LIMIT)} (SHA-256 ${safeText(from.sha256.slice(0, 16), QUOTE_LIMIT)}…)${from.reinitOutput === true ? ', its output layer drawn afresh' : ''}`,
          ),
        );
      }
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
