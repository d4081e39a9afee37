import { Command } from 'commander';
import { safeText } from '../base/terminal-safe.js';
import { loadModel } from '../io/safetensors.js';
import { exportTfjs } from '../io/tfjs-export.js';
import { join } from 'node:path';
import { checkOutputDir, checkOutputFile, ioReason, WriteFailedError } from '../base/atomic.js';
import { Output } from './output.js';
import { choiceOption, examples, oneOf } from './options.js';

export function exportCommand(): Command {
  return new Command('export')
    .description('write a saved model in another format: tfjs (TensorFlow.js Layers model.json + weights)')
    .requiredOption('--model <file>', 'a model saved by `backprop train --save`')
    .addOption(choiceOption('--format <name>', 'the format to write', ['tfjs'], oneOf(['tfjs'] as const), 'tfjs'))
    .requiredOption('--out <dir>', 'directory for model.json and weights.bin')
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['a TensorFlow.js Layers model: web-model/model.json and web-model/weights.bin', 'backprop export --model model.safetensors --out web-model'],
        ['the same, with the paths as JSON on stdout', 'backprop export --model model.safetensors --out web-model --json'],
      ]),
    )
    .action(async (opts: { model: string; format: 'tfjs'; out: string; json: boolean }) => {
      const out = new Output(opts.json);
      if (checkOutputDir(opts.out, '--out')) for (const f of ['model.json', 'weights.bin']) checkOutputFile(join(opts.out, f), '--out');
      const { network } = loadModel(opts.model);
      let files;
      try {
        files = await exportTfjs(network.clone('float32'), opts.out);
      } catch (e) {
        if (!(e as NodeJS.ErrnoException).code) throw e;
        throw new WriteFailedError(`--out ${opts.out}: cannot write (${ioReason(e)}); nothing was written (the model ${opts.model} is unchanged)`);
      }
      out.line(`wrote ${safeText(files.modelJson)} and ${safeText(files.weights)}: a TensorFlow.js Layers model (tf.loadLayersModel('file://${safeText(files.modelJson)}') in tfjs-node)`);
      out.result({ command: 'export', format: opts.format, model: opts.model, ...files });
    });
}
