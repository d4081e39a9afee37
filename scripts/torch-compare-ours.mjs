#!/usr/bin/env node
// Our side of scripts/torch-compare.py: one short training run of src/train/run.ts in float64 on
// the js kernels, from a record given as JSON (argv[2]: the settings that differ from the base
// below). Prints one JSON object: the training and validation examples, each epoch's example
// order, the initial and final parameters [W¹, b¹, W², b²] and each epoch's metrics. Needs `npm run build`.
import { Rng } from '../dist/base/rng.js';
import { loadData } from '../dist/data/load.js';
import { jsKernels } from '../dist/linalg/js.js';
import { Network } from '../dist/nn/network.js';
import { initialState } from '../dist/train/session.js';
import { TrainingRun } from '../dist/train/run.js';

const over = JSON.parse(process.argv[2] ?? '{}');
const record = {
  data: 'embedded',
  limit: 200,
  testLimit: 50,
  validation: 100,
  arch: { sizes: [784, 16, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' },
  init: 'he',
  lr: 0.1,
  batchSize: 20,
  epochs: 3,
  weightDecay: 0,
  seed: 3,
  backend: 'js',
  dtype: 'float64',
  ...over,
};
const ds = loadData({ data: record.data, limit: record.limit, testLimit: record.testLimit, validation: record.validation, seed: record.seed });
const rng = new Rng(record.seed);
const net = Network.create(record.arch, record.init, rng, 'float64');
const params = (n) => n.weights.flatMap((W, l) => [Array.from(W.data), Array.from(n.biases[l])]);
const initial = params(net);
const state = initialState(ds.train.count);
const run = new TrainingRun({ record, ds, net, rng, state, kernels: jsKernels });
const orders = [];
const outcome = await run.run({ onEpochStart: () => orders.push(Array.from(state.order)) });
const examples = (ex) => ({ x: Array.from(ex.features), labels: Array.from(ex.labels), count: ex.count, dim: ex.dim });
process.stdout.write(
  JSON.stringify({
    record,
    status: outcome.status,
    train: examples(ds.train),
    validation: examples(ds.validation),
    orders,
    initial,
    final: params(net),
    epochs: state.history.map((m) => ({ lr: m.lr, loss: m.loss, validationLoss: m.validationLoss, clipped: m.clipped })),
  }),
);
