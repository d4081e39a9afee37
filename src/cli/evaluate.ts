import { createHash } from 'node:crypto';
import type { Network } from '../nn/network.js';
import { loadData } from '../data/load.js';
import { safeText } from '../base/terminal-safe.js';
import { Command } from 'commander';
import { loadModel } from '../io/safetensors.js';
import { evaluate, type Evaluation } from '../train/metrics.js';
import { worstMistakes, type Mistake } from '../analysis/mistakes.js';
import { DataError, type Dataset, type Examples } from '../data/dataset.js';
import { Output, percent, style } from './output.js';
import { addBackendOption, addDataOptions, choiceOption, examples, oneOf, positiveInt, type DataOptions } from './options.js';
import { addDtypeOption, providerForDtype } from './precision.js';
import { refuseOtherClasses } from './predict.js';
import { jsonProvenance, provenance } from '../io/provenance.js';
import { asciiRow } from '../report/ascii.js';
import type { BackendName, DType } from '../linalg/index.js';

interface EvaluateOptions extends DataOptions {
  misclassified?: number;
  /** One model, or several: an ensemble whose output is the mean of theirs. */
  model: string[];
  split: 'train' | 'test';
  json: boolean;
  backend: BackendName;
  dtype?: DType;
}

export function evaluateCommand(): Command {
  const cmd = new Command('evaluate').description('accuracy and confusion matrix of a saved model');
  cmd.requiredOption('--model <file>', "a model saved by `backprop train --save`; given more than once, the ensemble: the mean of the models' outputs", (v: string, prev: string[] = []) => [
    ...prev,
    v,
  ]);
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
      ['three models voting with their mean output (an ensemble), as JSON', 'backprop evaluate --model a.safetensors --model b.safetensors --model c.safetensors --json'],
    ]),
  );
  return cmd.action((opts: EvaluateOptions) => runEvaluate(opts));
}

async function runEvaluate(opts: EvaluateOptions): Promise<void> {
  const out = new Output(opts.json);
  const loaded = opts.model.map((file) => ({ file, ...loadModel(file) }));
  const dtype = opts.dtype ?? loaded[0].network.dtype;
  const nets = loaded.map(({ network }) => (network.dtype !== dtype ? network.clone(dtype) : network));
  const other = opts.dtype ? undefined : loaded.find(({ network }) => network.dtype !== dtype);
  if (other) out.note(style.warn(`note: --model ${safeText(other.file)} is ${other.network.dtype}: scored in ${dtype}, as --model ${safeText(loaded[0].file)} is (--dtype chooses)`));
  const ds = loadData({ ...opts, seed: 0 });
  const ex = opts.split === 'train' ? ds.train : ds.test;
  const classes = nets[0].sizes[nets[0].depth];
  checkMembers(loaded, nets, ds, ex);
  const provider = await providerForDtype(opts, dtype, out);
  const r = evaluate(nets, ex, provider.kernels);
  const members = (r.members ?? []).map((m, k) => ({ model: opts.model[k], ...m }));
  const names = ds.classNames ?? Array.from({ length: classes }, (_, i) => String(i));
  for (const m of members) out.line(`${style.dim('member')} ${safeText(m.model)}: ${percent(m.accuracy)} (${m.correct}/${m.count}) · mean cost ${m.loss.toFixed(4)}`);
  const what = members.length ? `${style.bold('ensemble accuracy')} (mean output of ${members.length} models)` : style.bold('accuracy');
  out.line(`${what} ${percent(r.accuracy)} (${r.correct}/${r.count}) · mean cost ${r.loss.toFixed(4)}${members.length ? " (the members' mean)" : ''} on ${safeText(ds.name)} ${opts.split}`);
  printConfusion(out, r, names);
  // The worst mistakes: the wrong predictions that gave the true class the lowest output.
  const worst = opts.misclassified ? worstMistakes(r, ex, opts.misclassified) : [];
  if (opts.misclassified) printMistakes(out, worst, r, ex, names, ds.shape?.[1] ?? Math.round(Math.sqrt(ex.dim)));
  out.result({
    misclassified: opts.misclassified ? worst : undefined,
    command: 'evaluate',
    model: opts.model.length === 1 ? opts.model[0] : undefined,
    ensemble: members.length ? members.map((m) => ({ model: m.model, accuracy: m.accuracy, correct: m.correct, loss: m.loss })) : undefined,
    data: ds.name,
    split: opts.split,
    accuracy: r.accuracy,
    correct: r.correct,
    count: r.count,
    loss: r.loss,
    classNames: names,
    confusion: r.confusion,
    ...jsonProvenance(
      provenance(provider, dtype, undefined, {
        model: opts.model.length === 1 ? opts.model[0] : opts.model,
        data: opts.data,
        limit: opts.limit,
        testLimit: opts.testLimit,
        split: opts.split,
        misclassified: opts.misclassified,
        backend: opts.backend,
        dtype,
      }),
    ),
  });
}

/** Each model against the data (inputs, classes, labels) and, for an ensemble, against the first model (checkEnsemble). */
function checkMembers(loaded: { file: string; network: Network; metadata: { data?: string } }[], nets: Network[], ds: Dataset, ex: Examples): void {
  const classes = nets[0].sizes[nets[0].depth];
  checkEnsemble(loaded);
  for (const [k, { file, metadata }] of loaded.entries()) {
    const net = nets[k];
    if (ex.dim !== net.sizes[0]) {
      throw new DataError(`--model ${file} expects ${net.sizes[0]} inputs but ${ds.name} has ${ex.dim} values per example`);
    }
    refuseOtherClasses(`--model ${file}`, metadata.data, ds);
    if (net.sizes[net.depth] !== classes)
      throw new DataError(`--model ${file} has ${net.sizes[net.depth]} outputs but --model ${loaded[0].file} has ${classes}: an ensemble's models must share their classes`);
    if (ds.classNames && classes !== ds.classNames.length) {
      throw new DataError(`--model ${file} has ${classes} outputs but ${ds.name} has ${ds.classNames.length} classes: the model was trained on other data`);
    }
  }
  for (const l of ex.labels) {
    if (l >= classes) throw new DataError(`${ds.name} has label ${l} but --model ${loaded[0].file} has only ${classes} outputs`);
  }
}

/**
 * An ensemble's members must vote alike and each once: the mean output Ā =
 * (1/K) Σ A^L_k is a soft vote only between outputs of one kind (softmax
 * probabilities with softmax probabilities: a sigmoid's outputs do not sum
 * to 1, and the mean of a log-likelihood and a cross-entropy cost is neither),
 * and a model given twice (the same file, or a copy with the same weights)
 * would count twice without saying so.
 */
function checkEnsemble(loaded: { file: string; network: Network }[]): void {
  if (loaded.length < 2) return;
  const kind = (n: (typeof loaded)[number]['network']) => `a ${n.arch.outputActivation} output and the ${n.arch.cost} cost`;
  const seen = new Map<string, string>();
  for (const { file, network } of loaded) {
    if (kind(network) !== kind(loaded[0].network)) {
      throw new DataError(
        `--model ${file} has ${kind(network)} but --model ${loaded[0].file} has ${kind(loaded[0].network)}: an ensemble's mean output and mean cost need the same output and cost in every model`,
      );
    }
    const h = createHash('sha256');
    h.update(network.sizes.join(','));
    for (const t of [...network.weights.map((w) => w.data), ...network.biases]) h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    const digest = h.digest('hex');
    const twin = seen.get(digest);
    if (twin !== undefined) {
      const same = twin === file ? `--model ${file} is given twice` : `--model ${file} holds the same weights as --model ${twin}`;
      throw new DataError(`${same}: an ensemble would count that model twice; give each model once`);
    }
    seen.set(digest, file);
  }
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
