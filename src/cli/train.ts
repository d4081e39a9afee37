import { Command } from 'commander';
import { Network } from '../nn/network.js';
import { Rng } from '../nn/rng.js';
import { saveModel } from '../io/safetensors.js';
import { SgdTrainer, type EpochMetrics } from '../train/sgd.js';
import { evaluate } from '../train/metrics.js';
import { Output, percent, seconds, style } from './output.js';
import { epochProgress } from './progress.js';
import {
  addBackendOption,
  addDataOptions,
  addNetworkOptions,
  architecture,
  defaultInit,
  kernels,
  loadData,
  nonNegativeInt,
  nonNegativeNumber,
  positiveInt,
  positiveNumber,
  type DataOptions,
  type NetworkOptions,
} from './options.js';
import type { BackendName } from '../linalg/index.js';

/** Defaults chosen so that plain `backprop train` gives ≥ 95% on the embedded digits in seconds. */
export const TRAIN_DEFAULTS = { hidden: [100], lr: 0.2, batchSize: 32, epochs: 10, seed: 1 };

interface TrainOptions extends DataOptions, NetworkOptions {
  lr: number;
  batchSize: number;
  epochs: number;
  weightDecay: number;
  save?: string;
  json: boolean;
  backend: BackendName;
}

export function trainCommand(): Command {
  const cmd = new Command('train').description('train a network with hand-written backprop and mini-batch SGD');
  addDataOptions(cmd);
  cmd.option('--validation <n>', 'hold out n training examples (or a fraction < 1) and report accuracy on them each epoch', positiveNumber);
  addNetworkOptions(cmd, TRAIN_DEFAULTS.hidden.join(','));
  cmd
    .option('--lr <eta>', 'learning rate η', positiveNumber, TRAIN_DEFAULTS.lr)
    .option('--batch-size <m>', 'mini-batch size m', positiveInt, TRAIN_DEFAULTS.batchSize)
    .option('--epochs <n>', 'number of epochs', positiveInt, TRAIN_DEFAULTS.epochs)
    .option('--weight-decay <lambda>', 'L2 penalty λ: each step W ← W − η(∂C/∂W + λW)', nonNegativeNumber, 0)
    .option('--seed <n>', 'seed for initialisation and shuffling', nonNegativeInt, TRAIN_DEFAULTS.seed)
    .option('--save <file>', 'write the trained model (safetensors) to file')
    .option('--json', 'print one JSON result on stdout (human text goes to stderr)', false);
  addBackendOption(cmd);
  return cmd.action((opts: TrainOptions) => runTrain(opts));
}

async function runTrain(opts: TrainOptions): Promise<void> {
  const out = new Output(opts.json);
  const t0 = performance.now();
  const ds = loadData(opts);
  const arch = architecture(opts, ds.train.dim, ds.classes, TRAIN_DEFAULTS.hidden);
  const init = opts.init ?? defaultInit(arch.activation);
  const k = await kernels(opts);
  const rng = new Rng(opts.seed);
  const net = Network.create(arch, init, rng);
  const trainer = new SgdTrainer(net, { lr: opts.lr, batchSize: opts.batchSize, epochs: opts.epochs, weightDecay: opts.weightDecay }, k);

  out.line(
    style.bold(`backprop train`) +
      ` ${ds.name}: ${ds.train.count} train / ${ds.test.count} test` +
      (ds.validation ? ` / ${ds.validation.count} validation` : '') +
      ` · ${arch.sizes.join('-')} ${arch.activation}→${arch.outputActivation}, ${arch.cost}, init ${init}` +
      ` · η=${opts.lr} m=${opts.batchSize}` +
      (opts.weightDecay ? ` λ=${opts.weightDecay}` : '') +
      ` · seed ${opts.seed} · ${k.name} kernels`,
  );
  const progress = epochProgress(out.interactive, opts.epochs);
  const width = String(opts.epochs).length;
  let history: EpochMetrics[];
  try {
    history = trainer.fit(ds.train, ds.test, rng, {
      ...progress,
      onEpochEnd(m) {
        progress.onEpochEnd?.(m);
        out.line(
          `epoch ${String(m.epoch).padStart(width)}/${opts.epochs}  loss ${m.loss.toFixed(4)}  train ${percent(m.trainAccuracy)}` +
            (m.validationAccuracy !== undefined ? `  val ${percent(m.validationAccuracy)}` : '') +
            `  test ${percent(m.testAccuracy)}  ${style.dim(seconds(m.seconds))}`,
        );
      },
    }, ds.validation);
  } finally {
    progress.stop();
  }
  const final = evaluate(net, ds.test, k);
  const total = (performance.now() - t0) / 1000;
  if (opts.save) {
    saveModel(opts.save, net, {
      data: ds.name,
      init,
      epochs: String(opts.epochs),
      lr: String(opts.lr),
      batch_size: String(opts.batchSize),
      weight_decay: String(opts.weightDecay),
      seed: String(opts.seed),
      test_accuracy: String(final.accuracy),
    });
  }
  out.line(
    `${style.good('test accuracy ' + percent(final.accuracy))} (${final.correct}/${final.count}) after ${opts.epochs} epochs in ${seconds(total)}` +
      (opts.save ? ` · model saved to ${opts.save}` : ''),
  );
  out.result({
    command: 'train',
    data: ds.name,
    architecture: { ...arch, init, parameters: net.parameterCount },
    options: { lr: opts.lr, batchSize: opts.batchSize, epochs: opts.epochs, weightDecay: opts.weightDecay, seed: opts.seed, backend: k.name },
    train: ds.train.count,
    test: ds.test.count,
    validation: ds.validation?.count,
    epochs: history,
    testAccuracy: final.accuracy,
    testLoss: final.loss,
    seconds: total,
    model: opts.save,
  });
}
