import { loadData } from '../data/load.js';
import { safeText } from '../base/terminal-safe.js';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import type { BackendName } from '../linalg/index.js';
import { outputs } from '../train/metrics.js';
import { loadModel } from '../io/safetensors.js';
import { catalogEntry } from '../data/catalog.js';
import { DataError, type Dataset } from '../data/dataset.js';
import { readImage, toMnist } from '../data/image.js';
import { asciiImage } from '../report/ascii.js';
import { softmax } from '../nn/activations.js';
import { addBackendOption, examples, kernels } from './options.js';
import { Output, percent, style } from './output.js';

interface PredictOptions {
  model: string;
  show?: boolean;
  json: boolean;
  backend: BackendName;
}

/**
 * Throws (one line naming `what`, exit 2) when the model was trained on a
 * catalogued dataset (its metadata's `data`) whose classes are not those of
 * `ds`: a digit scored by a clothing model would be named 'Coat', and a
 * digits model scored on Fashion-MNIST would give a meaningless accuracy.
 * predict and evaluate both ask this.
 */
export function refuseOtherClasses(what: string, modelData: string | undefined, ds: Pick<Dataset, 'name' | 'classNames'>): void {
  const modelClasses = catalogEntry(modelData ?? '')?.classes;
  const dataClasses = ds.classNames ?? catalogEntry(ds.name)?.classes;
  if (modelClasses && dataClasses && modelClasses.join('\u0000') !== dataClasses.join('\u0000')) {
    throw new DataError(`${what}: the model was trained on ${modelData}, whose classes (${modelClasses.slice(0, 3).join(', ')}, …) are not ${ds.name}'s (${dataClasses.slice(0, 3).join(', ')}, …)`);
  }
}

/** An input: an image file, or SPEC:index / SPEC:train:index into a dataset (SPEC = embedded, a name or an IDX directory). */
function readInput(input: string, dim: number, modelData?: string): { pixels: Float32Array; label?: number; source: string } {
  if (existsSync(input)) {
    const pixels = toMnist(readImage(input), input);
    if (pixels.length !== dim) throw new DataError(`${input}: images become 784 pixels but the model expects ${dim} inputs`);
    return { pixels, source: 'image' };
  }
  const m = /^(.*?)(?::(train|test))?:(\d+)$/.exec(input);
  if (!m || m[1] === '') throw new DataError(`${input}: no such file, and not SPEC:index (e.g. embedded:0, fashion-mnist:42, DIR:train:7)`);
  const ds = loadData({ data: m[1], seed: 0, split: m[2] === 'train' ? 'train' : 'test' });
  const ex = m[2] === 'train' ? ds.train : ds.test;
  const i = Number(m[3]);
  if (i >= ex.count) throw new DataError(`${input}: index ${i} is past the ${ex.count} ${m[2] ?? 'test'} examples of ${ds.name}`);
  if (ex.dim !== dim) throw new DataError(`${input}: ${ds.name} has ${ex.dim} values per example but the model expects ${dim}`);
  refuseOtherClasses(input, modelData, ds);
  return { pixels: ex.features.slice(i * ex.dim, (i + 1) * ex.dim), label: ex.labels[i], source: ds.name };
}

export function predictCommand(): Command {
  const cmd = new Command('predict')
    .description('classify images (PNG or PGM) or dataset examples with a saved model')
    .requiredOption('--model <file>', 'a model saved by `backprop train --save`')
    .argument('<input...>', 'image files, or SPEC:index (embedded:0, fashion-mnist:42, DIR:train:7)')
    .option('--show', 'draw each 28×28 input as text (the default on a terminal)')
    .option('--no-show', 'do not draw the inputs')
    .option('--json', 'print one JSON result on stdout', false);
  addBackendOption(cmd);
  cmd.addHelpText(
    'after',
    examples([
      ['an image file (PNG or PGM, any size: it is scaled to 28×28 like MNIST)', 'backprop predict --model model.safetensors test/fixtures/digit-7.png'],
      ['test examples 0 and 1 of the embedded digits, without drawing them', 'backprop predict --model model.safetensors embedded:0 embedded:1 --no-show'],
      ['a training example of the embedded digits, as JSON', 'backprop predict --model model.safetensors embedded:train:42 --json'],
    ]),
  );
  return cmd.action(async (inputs: string[], opts: PredictOptions) => {
    const out = new Output(opts.json);
    const { network: net, metadata } = loadModel(opts.model);
    const k = await kernels(opts);
    const classes = net.sizes[net.depth];
    const modelClasses = catalogEntry(metadata.data ?? '')?.classes;
    const names = modelClasses ?? Array.from({ length: classes }, (_, i) => String(i));
    const probabilities = net.activations[net.depth - 1] === softmax;
    const show = opts.show ?? Boolean(process.stdout.isTTY);
    const results = [];
    for (const input of inputs) {
      const { pixels, label, source } = readInput(input, net.sizes[0], metadata.data);
      const a = outputs(net, pixels, k);
      const best = a.indexOf(Math.max(...a));
      results.push({
        input,
        source,
        label: best,
        className: names[best],
        ...(label !== undefined ? { trueLabel: label, correct: label === best } : {}),
        [probabilities ? 'probabilities' : 'outputs']: a,
      });
      out.line(
        `${style.bold(safeText(input))} → ${style.bold(names[best] ?? String(best))}` +
          (probabilities ? ` (${percent(a[best], 1)})` : '') +
          (label !== undefined ? (label === best ? style.good(`  ✓ true ${names[label]}`) : style.bad(`  ✗ true ${names[label]}`)) : ''),
      );
      const order = a.map((v, i) => [v, i] as const).sort((x, y) => y[0] - x[0]);
      for (const [v, i] of order.slice(0, Math.min(classes, 10))) {
        const bar = '█'.repeat(Math.round(20 * Math.max(0, Math.min(1, v))));
        out.line(`  ${(names[i] ?? String(i)).padStart(12)} ${probabilities ? percent(v, 1).padStart(6) : v.toFixed(3).padStart(7)} ${style.dim(bar)}`);
      }
      if (show && net.sizes[0] === 784) out.line(asciiImage(pixels, 28));
    }
    out.result({ command: 'predict', model: opts.model, classNames: names, predictions: results });
  });
}
