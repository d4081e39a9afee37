import { loadData } from '../data/load.js';
import { safeText } from '../base/terminal-safe.js';
import { Command } from 'commander';
import { loadModel } from '../io/safetensors.js';
import { evaluate, type Evaluation } from '../train/metrics.js';
import { worstMistakes, type Mistake } from '../analysis/mistakes.js';
import { DataError, type Examples } from '../data/dataset.js';
import { Output, percent, style } from './output.js';
import { addBackendOption, addDataOptions, choiceOption, examples, oneOf, positiveInt, type DataOptions } from './options.js';
import { addDtypeOption, providerForDtype } from './precision.js';
import { refuseOtherClasses } from './predict.js';
import { jsonProvenance, provenance } from '../io/provenance.js';
import { asciiRow } from '../report/ascii.js';
import type { BackendName, DType } from '../linalg/index.js';

interface EvaluateOptions extends DataOptions {
  misclassified?: number;
  model: string;
  split: 'train' | 'test';
  json: boolean;
  backend: BackendName;
  dtype?: DType;
}

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('accuracy and confusion matrix of a saved model');
  cmd.requiredOption('--model <file>', 'a model saved by `backprop train --save`');
  addDataOptions(cmd);
  cmd
    .addOption(choiceOption('--split <name>', 'which examples', ['test', 'train'], oneOf(['test', 'train'] as const), 'test'))
    .option('--misclassified <n>', 'show the n worst mistakes (lowest output for the true class) as images', positiveInt)
    .option('--json', 'print one JSON result on stdout', false);
  addBackendOption(cmd);
  addDtypeOption(cmd, "number type of the arithmetic: float32 or float64 (default: the model file's)");
  cmd.addHelpText(
    'after',
    examples([
      ['accuracy, mean cost and confusion matrix on the test examples', 'backprop evaluate --model model.safetensors'],
      ['the same, and the 8 worst mistakes drawn as text', 'backprop evaluate --model model.safetensors --misclassified 8'],
      ['on the training examples, as JSON', 'backprop evaluate --model model.safetensors --split train --json'],
    ]),
  );
  return cmd.action((opts: EvaluateOptions) => runEvaluate(opts));
}

async function runEvaluate(opts: EvaluateOptions): Promise<void> {
  const out = new Output(opts.json);
  const { network: loaded, metadata } = loadModel(opts.model);
  const net = opts.dtype && opts.dtype !== loaded.dtype ? loaded.clone(opts.dtype) : loaded;
  const ds = loadData({ ...opts, seed: 0 });
  const ex = opts.split === 'train' ? ds.train : ds.test;
  if (ex.dim !== net.sizes[0]) {
    throw new DataError(`--model ${opts.model} expects ${net.sizes[0]} inputs but ${ds.name} has ${ex.dim} values per example`);
  }
  refuseOtherClasses(`--model ${opts.model}`, metadata.data, ds);
  const classes = net.sizes[net.depth];
  for (const l of ex.labels) {
    if (l >= classes) throw new DataError(`${ds.name} has label ${l} but --model ${opts.model} has only ${classes} outputs`);
  }
  if (ds.classNames && classes !== ds.classNames.length) {
    throw new DataError(`--model ${opts.model} has ${classes} outputs but ${ds.name} has ${ds.classNames.length} classes: the model was trained on other data`);
  }
  const provider = await providerForDtype(opts, net.dtype, out);
  const r = evaluate(net, ex, provider.kernels);
  const names = ds.classNames ?? Array.from({ length: classes }, (_, i) => String(i));
  out.line(`${style.bold('accuracy')} ${percent(r.accuracy)} (${r.correct}/${r.count}) · mean cost ${r.loss.toFixed(4)} on ${safeText(ds.name)} ${opts.split}`);
  printConfusion(out, r, names);
  // The worst mistakes: the wrong predictions that gave the true class the lowest output.
  const worst = opts.misclassified ? worstMistakes(r, net, ex, provider.kernels, opts.misclassified) : [];
  if (opts.misclassified) printMistakes(out, worst, r, ex, names, ds.shape?.[1] ?? Math.round(Math.sqrt(ex.dim)));
  out.result({
    misclassified: opts.misclassified ? worst : undefined,
    command: 'evaluate',
    model: opts.model,
    data: ds.name,
    split: opts.split,
    accuracy: r.accuracy,
    correct: r.correct,
    count: r.count,
    loss: r.loss,
    classNames: names,
    confusion: r.confusion,
    ...jsonProvenance(
      provenance(provider, net.dtype, undefined, {
        model: opts.model,
        data: opts.data,
        limit: opts.limit,
        testLimit: opts.testLimit,
        split: opts.split,
        misclassified: opts.misclassified,
        backend: opts.backend,
        dtype: net.dtype,
      }),
    ),
  });
}

/** The confusion matrix (rows: true class, columns: predicted) with each class's recall. */
function printConfusion(out: Output, r: Evaluation, names: readonly string[]): void {
  out.line('');
  out.line('confusion matrix (rows: true class, columns: predicted)');
  const w = Math.max(5, ...r.confusion.flat().map((c) => String(c).length + 1));
  const label = Math.max(4, ...names.map((n) => n.length));
  out.line('true'.padStart(label) + ' ' + names.map((_, i) => String(i).padStart(w)).join('') + '   recall');
  r.confusion.forEach((row, i) => {
    const n = row.reduce((a, b) => a + b, 0);
    const cells = row.map((c, j) => (i === j ? style.good(String(c).padStart(w)) : c ? style.warn(String(c).padStart(w)) : style.dim(String(c).padStart(w))));
    out.line(`${names[i].padStart(label)} ${cells.join('')}   ${n ? percent(row[i] / n, 1) : '-'}`);
  });
}

/** --misclassified: the worst mistakes as images, four to a row, each with its index, true and predicted class. */
function printMistakes(out: Output, worst: Mistake[], r: Evaluation, ex: Examples, names: readonly string[], side: number): void {
  out.line('');
  out.line(`the ${worst.length} worst mistakes of ${r.count - r.correct} (lowest output for the true class):`);
  for (let s = 0; s < worst.length; s += 4) {
    out.line('');
    out.line(
      asciiRow(
        worst.slice(s, s + 4).map((w) => ({
          pixels: ex.features.subarray(w.index * ex.dim, (w.index + 1) * ex.dim),
          caption: `#${w.index} true ${names[w.trueLabel]} → ${names[w.predicted]} (${percent(w.predictedOutput, 0)})`,
        })),
        side,
      ),
    );
  }
}
