import { describe, expect, it } from 'vitest';
import {
  ALTERNATIVE_FLAGS,
  archMismatch,
  newRecord,
  recordMismatch,
  recordFlags,
  RESUME_TAKES,
  runRecordProblem,
  settingLabels,
  weightDecayProblem,
  type RunRecord,
} from '../../src/train/settings.js';
import type { Architecture } from '../../src/nn/network.js';

const RECORD: RunRecord = {
  data: 'embedded',
  limit: 500,
  testLimit: 100,
  validation: 0.1,
  arch: { sizes: [784, 30, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' },
  init: 'he',
  lr: 0.003,
  batchSize: 16,
  epochs: 4,
  weightDecay: 0.01,
  optimizer: { name: 'adamw', momentum: 0.9, beta1: 0.8, beta2: 0.99, eps: 1e-7 },
  schedule: { name: 'step', warmup: 1, decay: 0.5, stepEvery: 2 },
  dropout: 0.2,
  augment: { shift: 2 },
  earlyStop: { patience: 3, metric: 'val-accuracy' },
  seed: 9,
  backend: 'js',
  dtype: 'float64',
};

describe('run settings, declared once', () => {
  it('recordFlags gives every setting as its flags, in the order of the table', () => {
    expect(recordFlags(RECORD)).toEqual({
      data: 'embedded',
      limit: 500,
      'test-limit': 100,
      validation: 0.1,
      layers: '784,30,10',
      activation: 'relu',
      'output-activation': 'softmax',
      cost: 'log-likelihood',
      init: 'he',
      lr: 0.003,
      'batch-size': 16,
      epochs: 4,
      'weight-decay': 0.01,
      optimizer: 'adamw',
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-7,
      schedule: 'step',
      warmup: 1,
      decay: 0.5,
      'step-every': 2,
      dropout: 0.2,
      augment: 'shift=2',
      'early-stop': 3,
      'monitor-metric': 'val-accuracy',
      seed: 9,
      backend: 'js',
      dtype: 'float64',
    });
    expect(Object.keys(recordFlags(RECORD)).join()).toBe(
      'data,limit,test-limit,validation,layers,activation,output-activation,cost,init,lr,batch-size,epochs,weight-decay,optimizer,beta1,beta2,eps,schedule,warmup,decay,step-every,dropout,augment,early-stop,monitor-metric,seed,backend,dtype',
    );
  });

  it('--resume refuses every flag of a setting but --epochs and --backend', () => {
    expect([...RESUME_TAKES].sort()).toEqual(
      [
        'data',
        'limit',
        'testLimit',
        'validation',
        'layers',
        'hidden',
        'activation',
        'outputActivation',
        'cost',
        'init',
        'lr',
        'batchSize',
        'weightDecay',
        'seed',
        'dtype',
        'optimizer',
        'momentum',
        'beta1',
        'beta2',
        'eps',
        'alpha',
        'accumulator',
        'schedule',
        'warmup',
        'decay',
        'stepEvery',
        'scheduleUnit',
        'etaMin',
        'pctStart',
        'divFactor',
        'finalDivFactor',
        'plateauPatience',
        'labelSmoothing',
        'clipNorm',
        'clipValue',
        'earlyStop',
        'monitorMetric',
        'dropout',
        'augment',
        'valData',
        'initFrom',
        'reinitOutput',
        'saveEvery',
        'saveBest',
      ].sort(),
    );
  });

  it('a good record passes; each bad field is named with its value, cut short', () => {
    expect(runRecordProblem(RECORD)).toBeUndefined();
    const bad = (edit: Record<string, unknown>) => runRecordProblem({ ...RECORD, ...edit });
    expect(bad({ batchSize: 0 })).toBe('options.batchSize 0 must be a positive integer');
    expect(bad({ batchSize: undefined })).toBe('options.batchSize undefined must be a positive integer');
    expect(bad({ lr: -1 })).toBe('options.lr -1 must be a positive number');
    expect(bad({ weightDecay: 'x' })).toBe('options.weightDecay "x" must be a number ≥ 0');
    expect(bad({ seed: 2 ** 32 })).toBe('options.seed 4294967296 must be an integer ≥ 0');
    expect(bad({ dropout: 1 })).toBe('options.dropout 1 must be a number in [0, 1)');
    expect(bad({ dtype: 'float16' })).toBe('options.dtype "float16" is not float32 or float64');
    expect(bad({ init: 'x'.repeat(5000) })).toBe(`options.init "${'x'.repeat(39)}… is not one of normal, xavier, he`);
    expect(bad({ arch: undefined })).toBe('options.arch is missing');
    expect(bad({ optimizer: { ...RECORD.optimizer, beta2: 1 } })).toBe('options.optimizer.beta2 1 must be a number in [0, 1)');
    expect(bad({ schedule: { ...RECORD.schedule, stepEvery: 0 } })).toBe('options.schedule needs warmup ≥ 0, stepEvery ≥ 1 and decay > 0');
    expect(bad({ earlyStop: { patience: 1, metric: 'loss' } })).toBe('options.earlyStop needs a patience ≥ 1 and metric val-loss or val-accuracy');
    expect(bad({ save: 3 })).toBe('options.save must be a file name');
    expect(runRecordProblem(null)).toBe('options is not an object');
  });

  it('a new record takes the flags of the settings that declare one, with their defaults, keys in table order', () => {
    const r = newRecord({ batchSize: 8, ignored: 1 }, { data: 'd', arch: RECORD.arch, init: 'he', lr: 0.1, backend: 'js' });
    expect(r).toMatchObject({ batchSize: 8, epochs: 10, weightDecay: 0, seed: 1 });
    expect(Object.keys(r).slice(0, 12)).toEqual(['data', 'limit', 'testLimit', 'validation', 'valData', 'arch', 'init', 'initFrom', 'lr', 'batchSize', 'epochs', 'weightDecay']);
    expect('ignored' in r).toBe(false);
  });

  it('labels read as the heading shows them', () => {
    expect(settingLabels(RECORD)).toBe('η=0.003 m=16 λ=0.01 dropout 0.2');
    expect(settingLabels({ ...RECORD, weightDecay: 0, dropout: undefined })).toBe('η=0.003 m=16');
    expect(settingLabels(RECORD, ['dropout'])).toBe('η=0.003 m=16 λ=0.01');
  });
});

/** The problem of RECORD with some fields replaced (undefined removes a field). */
const problem = (edit: Record<string, unknown>) => runRecordProblem({ ...RECORD, ...edit });
const HEX = 'ab'.repeat(32);

describe('runRecordProblem: each check refuses the wrong value and passes the right one', () => {
  it('integers: a number string, a fraction, a negative and a huge count are refused', () => {
    expect(problem({ batchSize: '5' })).toBe('options.batchSize "5" must be a positive integer');
    expect(problem({ batchSize: 1.5 })).toBe('options.batchSize 1.5 must be a positive integer');
    expect(problem({ batchSize: 2 ** 53 })).toBe('options.batchSize 9007199254740992 must be a positive integer');
    expect(problem({ batchSize: 1 })).toBeUndefined();
    expect(problem({ epochs: '3' })).toBe('options.epochs "3" must be an integer ≥ 0');
    expect(problem({ epochs: -1 })).toBe('options.epochs -1 must be an integer ≥ 0');
    expect(problem({ epochs: 0, seed: 0xffffffff })).toBeUndefined();
  });

  it('numbers: a number string, infinity and a negative are refused, 0 where it may be', () => {
    expect(problem({ lr: '0.1' })).toBe('options.lr "0.1" must be a positive number');
    // 1e999 in a file reads as Infinity, which JSON.stringify writes as null (fourth hunt: "options.lr null")
    expect(problem({ lr: JSON.parse('1e999') })).toBe('options.lr Infinity must be a positive number');
    expect(problem({ lr: JSON.parse('-1e999') })).toBe('options.lr -Infinity must be a positive number');
    expect(problem({ lr: null })).toBe('options.lr null must be a positive number');
    expect(problem({ lr: 0 })).toBe('options.lr 0 must be a positive number');
    expect(problem({ weightDecay: -0.5 })).toBe('options.weightDecay -0.5 must be a number ≥ 0');
    expect(problem({ weightDecay: Infinity })).toBe('options.weightDecay Infinity must be a number ≥ 0');
    expect(problem({ weightDecay: '1' })).toBe('options.weightDecay "1" must be a number ≥ 0');
    expect(problem({ weightDecay: 0 })).toBeUndefined();
    expect(problem({ dropout: 0 })).toBeUndefined();
    expect(problem({ dropout: -0.1 })).toBe('options.dropout -0.1 must be a number in [0, 1)');
    expect(problem({ validation: 0 })).toBe('options.validation 0 must be a positive number');
  });

  it('the numbers of the shared option builders (--limit, --test-limit)', () => {
    expect(problem({ limit: 0 })).toBe('options.limit 0 must be a positive integer');
    expect(problem({ testLimit: 2.5 })).toBe('options.testLimit 2.5 must be a positive integer');
    expect(problem({ limit: undefined, testLimit: undefined })).toBeUndefined();
  });

  it('a value is cut to 40 characters only when longer', () => {
    const s38 = 'y'.repeat(38); // quoted: 40 characters
    expect(problem({ init: s38 })).toBe(`options.init "${s38}" is not one of normal, xavier, he`);
    expect(problem({ init: 'y'.repeat(39) })).toBe(`options.init "${'y'.repeat(39)}… is not one of normal, xavier, he`);
  });

  it('data and val-data: a non-empty string', () => {
    expect(problem({ data: '' })).toBe('options.data must be a dataset name or path');
    expect(problem({ data: 3 })).toBe('options.data must be a dataset name or path');
    expect(problem({ data: undefined })).toBe('options.data must be a dataset name or path');
    expect(problem({ valData: 3 })).toBe('options.valData must be a dataset name or path');
    expect(problem({ valData: '' })).toBe('options.valData must be a dataset name or path');
    expect(problem({ valData: 'val.csv' })).toBeUndefined();
  });

  it('arch: sizes, activations, cost and the pairings train refuses', () => {
    const arch = (edit: Record<string, unknown>) => problem({ arch: { ...RECORD.arch, ...edit } });
    const sizes = 'options.arch.sizes must be a list of positive integers';
    expect(problem({ arch: 'x' })).toBe('options.arch is missing');
    expect(arch({ sizes: '784,10' })).toBe(sizes);
    expect(arch({ sizes: {} })).toBe(sizes);
    expect(arch({ sizes: [784] })).toBe(sizes);
    expect(arch({ sizes: [784, 0, 10] })).toBe(sizes);
    expect(arch({ sizes: [784, 30, 1.5] })).toBe(sizes);
    expect(arch({ sizes: [784, 10] })).toBeUndefined();
    expect(arch({ activation: 'swish' })).toBe('options.arch has an unknown activation');
    expect(arch({ outputActivation: 'swish' })).toBe('options.arch has an unknown activation');
    expect(arch({ activation: 3 })).toBe('options.arch has an unknown activation');
    expect(arch({ outputActivation: undefined })).toBe('options.arch has an unknown activation');
    expect(arch({ cost: 'hinge' })).toBe('options.arch.cost "hinge" is not a known cost');
    expect(arch({ cost: 1 })).toBe('options.arch.cost 1 is not a known cost');
    expect(arch({ cost: 'quadratic', outputActivation: 'linear' })).toBeUndefined();
    expect(arch({ outputActivation: 'sigmoid', cost: 'cross-entropy' })).toBeUndefined();
    expect(arch({ outputActivation: 'tanh' })).toBe(
      'options.arch is a pairing train refuses (--cost log-likelihood needs --output-activation softmax (a probability for each class), and tanh outputs are not probabilities: use --output-activation softmax, or --cost quadratic with tanh)',
    );
    // A softmax hidden activation is refused only when there is a hidden layer.
    expect(arch({ activation: 'softmax' })).toBe(
      'options.arch is a pairing train refuses (--activation softmax: softmax normalises a whole layer into one distribution, it is an output activation; use --activation relu, sigmoid or tanh for hidden layers)',
    );
    expect(arch({ activation: 'softmax', sizes: [784, 10] })).toBeUndefined();
  });

  it('optimizer: its name, and each hyper-parameter checked as its kind', () => {
    const opt = (o: Record<string, unknown>) => problem({ optimizer: o });
    const names = 'options.optimizer.name is not one of sgd, momentum, nesterov, adam, adamw, amsgrad, rmsprop, adagrad';
    const h = { momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    expect(opt(null as unknown as Record<string, unknown>)).toBe(names);
    expect(opt({ ...h, name: 3 })).toBe(names);
    expect(opt({ ...h, name: 'lion' })).toBe(names);
    expect(opt({ ...h, name: 'sgd' })).toBeUndefined();
    // ε is any positive number, G₀ any number ≥ 0; the others are in [0, 1).
    expect(opt({ ...h, name: 'adam', eps: 1.5 })).toBeUndefined();
    expect(opt({ ...h, name: 'adam', eps: 0 })).toBe('options.optimizer.eps 0 must be a positive number');
    expect(opt({ ...h, name: 'adagrad', accumulator: 5 })).toBeUndefined();
    expect(opt({ ...h, name: 'adagrad', accumulator: -1 })).toBe('options.optimizer.accumulator -1 must be a number ≥ 0');
    expect(opt({ ...h, name: 'adam', momentum: 1 })).toBe('options.optimizer.momentum 1 must be a number in [0, 1)');
    expect(opt({ ...h, name: 'rmsprop', alpha: 1.5 })).toBe('options.optimizer.alpha 1.5 must be a number in [0, 1)');
    // α and G₀ may be absent (records written before rmsprop and adagrad), unless the rule uses them; the others may not.
    expect(opt({ ...h, name: 'adam' })).toBeUndefined();
    expect(opt({ ...h, name: 'rmsprop' })).toBe('options.optimizer.alpha undefined must be a number in [0, 1)');
    expect(opt({ ...h, name: 'adagrad' })).toBe('options.optimizer.accumulator undefined must be a number ≥ 0');
    expect(opt({ ...h, name: 'adam', momentum: undefined })).toBe('options.optimizer.momentum undefined must be a number in [0, 1)');
    // Present, they are checked even when the rule does not use them.
    expect(opt({ ...h, name: 'adam', alpha: 2 })).toBe('options.optimizer.alpha 2 must be a number in [0, 1)');
    expect(opt({ ...h, name: 'adam', accumulator: -1 })).toBe('options.optimizer.accumulator -1 must be a number ≥ 0');
  });

  it('schedule: its name, the shared fields and those of each kind', () => {
    const sched = (edit: Record<string, unknown>) => problem({ schedule: { ...RECORD.schedule, ...edit } });
    const names = 'options.schedule.name is not one of constant, step, exponential, cosine, onecycle, plateau';
    const needs = 'options.schedule needs warmup ≥ 0, stepEvery ≥ 1 and decay > 0';
    expect(problem({ schedule: null })).toBe(names);
    expect(sched({ name: 7 })).toBe(names);
    expect(sched({ name: 'linear' })).toBe(names);
    expect(sched({ decay: 0 })).toBe(needs);
    expect(sched({ decay: -1 })).toBe(needs);
    expect(sched({ warmup: -1 })).toBe(needs);
    expect(sched({ warmup: 0, decay: 2 })).toBeUndefined();
    expect(sched({ unit: 'batch' })).toBe('options.schedule.unit "batch" is not one of epoch, step');
    expect(sched({ unit: 'step' })).toBeUndefined();
    expect(sched({ etaMin: -1 })).toBe('options.schedule.etaMin -1 must be a number ≥ 0');
    expect(sched({ etaMin: 0 })).toBeUndefined();
    expect(sched({ pctStart: 1 })).toBe('options.schedule.pctStart 1 must be a number in [0, 1)');
    expect(sched({ pctStart: 0 })).toBe('options.schedule.pctStart must be in (0, 1)');
    expect(sched({ pctStart: 0.3, divFactor: 25, finalDivFactor: 1e4, patience: 0 })).toBeUndefined();
    expect(sched({ divFactor: 0 })).toBe('options.schedule.divFactor 0 must be a positive number');
    expect(sched({ finalDivFactor: 'x' })).toBe('options.schedule.finalDivFactor "x" must be a positive number');
    expect(sched({ patience: 1.5 })).toBe('options.schedule.patience 1.5 must be an integer ≥ 0');
    expect(sched({ metric: 'loss' })).toBe('options.schedule.metric "loss" is not one of val-loss, val-accuracy');
    expect(sched({ metric: 'val-loss' })).toBeUndefined();
  });

  it('init-from: a file, its SHA-256 as 64 lower-case hex digits, reinitOutput true, false or absent', () => {
    const init = (v: unknown) => problem({ initFrom: v });
    const needs = 'options.initFrom needs a file, its sha256 (64 hex digits) and reinitOutput true or false';
    expect(init({ file: 'm.json', sha256: HEX })).toBeUndefined();
    expect(init({ file: 'm.json', sha256: HEX, reinitOutput: true })).toBeUndefined();
    expect(init({ file: 'm.json', sha256: HEX, reinitOutput: false })).toBeUndefined();
    expect(init(null)).toBe(needs);
    expect(init({ file: '', sha256: HEX })).toBe(needs);
    expect(init({ file: 3, sha256: HEX })).toBe(needs);
    expect(init({ sha256: HEX })).toBe(needs);
    expect(init({ file: 'm.json', sha256: 3 })).toBe(needs);
    expect(init({ file: 'm.json', sha256: [HEX] })).toBe(needs); // RegExp.test would read it as the string HEX
    expect(init({ file: 'm.json', sha256: HEX.toUpperCase() })).toBe(needs);
    expect(init({ file: 'm.json', sha256: `0${HEX}` })).toBe(needs);
    expect(init({ file: 'm.json', sha256: `${HEX}0` })).toBe(needs);
    expect(init({ file: 'm.json', sha256: HEX.slice(1) })).toBe(needs);
    expect(init({ file: 'm.json', sha256: HEX, reinitOutput: 'yes' })).toBe(needs);
  });

  it('augment, early-stop, save-best, backend, dtype and save', () => {
    expect(problem({ augment: { shift: -1 } })).toBe('options.augment: shift -1 must be a number of pixels from 0 to 1e6');
    expect(problem({ augment: { rotate: 10 } })).toBeUndefined();
    const early = 'options.earlyStop needs a patience ≥ 1 and metric val-loss or val-accuracy';
    expect(problem({ earlyStop: null })).toBe(early);
    expect(problem({ earlyStop: { patience: 0, metric: 'val-loss' } })).toBe(early);
    expect(problem({ earlyStop: { patience: 1, metric: 'val-loss' } })).toBeUndefined();
    expect(problem({ saveBest: 'val-loss' })).toBeUndefined();
    expect(problem({ saveBest: 'loss' })).toBe('options.saveBest "loss" is not one of val-loss, val-accuracy');
    expect(problem({ saveBest: 1 })).toBe('options.saveBest 1 is not one of val-loss, val-accuracy');
    expect(problem({ backend: 'cuda' })).toBe('options.backend "cuda" is not one of auto, blas, tensorflow, wasm, js');
    expect(problem({ backend: 'auto' })).toBeUndefined();
    expect(problem({ dtype: 'float32' })).toBeUndefined();
    expect(problem({ dtype: undefined })).toBeUndefined();
    expect(problem({ save: 'model.json' })).toBeUndefined();
    expect(problem({ save: null })).toBe('options.save must be a file name');
  });

  it('a λ that η makes destructive (ηλ ≥ 1), and label smoothing under the quadratic cost', () => {
    expect(problem({ lr: 0.5, weightDecay: 2 })).toBe('options.weightDecay 2 with η = 0.5: each step would scale the weights by 1 − ηλ = 0; give λ < 1/η = 2 (e.g. 0.2)');
    expect(problem({ lr: 0.5, weightDecay: 1.99 })).toBeUndefined();
    expect(problem({ lr: 0.3, weightDecay: 4 })).toBe('options.weightDecay 4 with η = 0.3: each step would scale the weights by 1 − ηλ = -0.2; give λ < 1/η = 3.33 (e.g. 0.33)');
    expect(weightDecayProblem({ lr: 0.25, weightDecay: 8 })).toBe('8 with η = 0.25: each step would scale the weights by 1 − ηλ = -1; give λ < 1/η = 4 (e.g. 0.4)');
    expect(weightDecayProblem({ lr: 0.25, weightDecay: 3.9 })).toBeUndefined();
    expect(problem({ labelSmoothing: 0.1 })).toBeUndefined();
    expect(problem({ labelSmoothing: 0, arch: { ...RECORD.arch, outputActivation: 'linear', cost: 'quadratic' } })).toBeUndefined();
    expect(problem({ labelSmoothing: 0.1, arch: { ...RECORD.arch, outputActivation: 'linear', cost: 'quadratic' } })).toBe(
      'options.labelSmoothing: label smoothing replaces the one-hot targets by a distribution for a cross-entropy cost; --cost quadratic has none (use --cost log-likelihood with a softmax output, or cross-entropy)',
    );
  });
});

// The layer description of a record (a checkpoint's state.json, a model's options), checked as the command line's
// --layers/--hidden are: rendered as tokens, parsed back and compared (found by a hostile-input hunt: batchNorm [1,3],
// "1,2", a 29×3 kernel, pool 0, a 7×7 input and 3 channels over a model of 2 were all resumed, exit 0).
describe('runRecordProblem: the layer description reads back to itself', () => {
  // what train records for --hidden conv3x3x2,bn,pool2,10,bn on 28×28 digits
  const CONV = {
    sizes: [784, 338, 10, 10],
    activation: 'relu',
    outputActivation: 'softmax',
    cost: 'log-likelihood',
    input: [1, 28, 28],
    layers: [
      { kind: 'conv', kh: 3, kw: 3, channels: 2, padding: 0, pool: { kind: 'max', size: 2 } },
      { kind: 'dense', units: 10 },
      { kind: 'dense', units: 10 },
    ],
    batchNorm: [1, 2],
  };
  const DENSE = { ...RECORD.arch, sizes: [784, 30, 20, 10], batchNorm: [2] };
  const conv = (edit: (a: any) => void) => {
    const a = structuredClone(CONV);
    edit(a);
    return problem({ arch: a });
  };
  const dense = (edit: (a: any) => void) => {
    const a = structuredClone(DENSE);
    edit(a);
    return problem({ arch: a });
  };
  const C = JSON.stringify(CONV.layers[0]);
  const AS = 'as --layers conv3x3x2,bn,pool2,10,bn on 1×28×28 images';
  const HIDDEN = "batch normalisation goes on hidden layers (Z → BN → f), the output's Z is the cost's";
  const NOT_A_TOKEN = 'is not a size (100), a convolution (conv5x5x20, conv5x5x20p2 with padding 2), a pooling (pool2, maxpool2, avgpool2) or a batch normalisation (bn)';
  it.each<[string, (a: any) => void, string | undefined]>([
    ['as train writes it', () => {}, undefined],
    ['without batch normalisation', (a) => delete a.batchNorm, undefined],
    [
      'a padded conv with an average pooling, bn on the conv only',
      (a) => ((a.layers[0] = { kind: 'conv', kh: 5, kw: 5, channels: 2, padding: 2, pool: { kind: 'avg', size: 2 } }), (a.batchNorm = [1])),
      'sizes',
    ],
    ['batchNorm on the output layer', (a) => (a.batchNorm = [1, 3]), `options.arch.batchNorm [1,3] must list hidden layers (1 to 2): ${HIDDEN}`],
    ['batchNorm beyond the layers', (a) => (a.batchNorm = [7]), `options.arch.batchNorm [7] must list hidden layers (1 to 2): ${HIDDEN}`],
    ['batchNorm as a string', (a) => (a.batchNorm = '1,2'), `options.arch.batchNorm "1,2" must list hidden layers (1 to 2): ${HIDDEN}`],
    ['batchNorm of a fraction', (a) => (a.batchNorm = [1.5]), `options.arch.batchNorm [1.5] must list hidden layers (1 to 2): ${HIDDEN}`],
    ['batchNorm on the input', (a) => (a.batchNorm = [0]), `options.arch.batchNorm [0] must list hidden layers (1 to 2): ${HIDDEN}`],
    ['batchNorm empty', (a) => (a.batchNorm = []), `options.arch.batchNorm [] must list hidden layers (1 to 2): ${HIDDEN}`],
    ['batchNorm out of order', (a) => (a.batchNorm = [2, 1]), 'options.arch.batchNorm [2,1] is not what its layers give ([1,2], as --layers conv3x3x2,bn,pool2,10,bn on 1×28×28 images)'],
    ['batchNorm twice on a layer', (a) => (a.batchNorm = [1, 1]), 'options.arch.batchNorm [1,1] is not what its layers give ([1], as --layers conv3x3x2,bn,pool2,10 on 1×28×28 images)'],
    [
      'a 29×3 kernel on 28×28 images',
      (a) => (a.layers[0].kh = 29),
      'options.arch.layers (as --layers conv29x3x2,bn,pool2,10,bn): layer "conv29x3x2": a 29×3 kernel does not fit its 28×28 input (on 1×28×28 images)',
    ],
    ['a pooling of size 0', (a) => (a.layers[0].pool.size = 0), `options.arch.layers (as --layers conv3x3x2,bn,pool0,10,bn): layer "pool0" ${NOT_A_TOKEN} (on 1×28×28 images)`],
    ['a kernel size as a string', (a) => (a.layers[0].kh = '3'), `options.arch.layers[0] ${C.replace('"kh":3', '"kh":"3"')} is not a layer train writes: ${AS} it reads ${C}`],
    ['a pooling of another kind', (a) => (a.layers[0].pool.kind = 'min'), `options.arch.layers[0] ${C.replace('max', 'min')} is not a layer train writes: ${AS} it reads ${C}`],
    [
      'a spec with a key train does not write',
      (a) => (a.layers[1].stride = 2),
      `options.arch.layers[1] {"kind":"dense","units":10,"stride":2} is not a layer train writes: ${AS} it reads {"kind":"dense","units":10}`,
    ],
    [
      'a conv layer after a dense one',
      (a) => a.layers.splice(2, 0, { kind: 'conv', kh: 1, kw: 1, channels: 1, padding: 0 }),
      'options.arch.layers (as --layers conv3x3x2,bn,pool2,10,bn,conv1x1x1): layer "conv1x1x1" follows a dense layer: conv layers read images, so they come first (on 1×28×28 images)',
    ],
    [
      'one dense layer more than the sizes',
      (a) => a.layers.splice(1, 0, { kind: 'dense', units: 5 }),
      'options.arch.sizes [784,338,10,10] is not what its layers give ([784,338,5,10,10], as --layers conv3x3x2,bn,pool2,5,bn,10 on 1×28×28 images)',
    ],
    [
      'an output that is a conv layer',
      (a) => (a.layers[2] = { kind: 'conv', kh: 1, kw: 1, channels: 10, padding: 0 }),
      `options.arch.layers[2] {"kind":"conv","kh":1,"kw":1,"channels":10,"padding":0} is not a layer train writes: ${AS} it reads {"kind":"dense","units":10}`,
    ],
    [
      'a 7×7 input under sizes of a 28×28 one',
      (a) => (a.input = [1, 7, 7]),
      'options.arch.sizes [784,338,10,10] is not what its layers give ([49,8,10,10], as --layers conv3x3x2,bn,pool2,10,bn on 1×7×7 images)',
    ],
    [
      '3 channels under sizes of 2',
      (a) => (a.layers[0].channels = 3),
      'options.arch.sizes [784,338,10,10] is not what its layers give ([784,507,10,10], as --layers conv3x3x3,bn,pool2,10,bn on 1×28×28 images)',
    ],
    ['an input of two numbers', (a) => (a.input = [28, 28]), 'options.arch.input [28,28] must be [channels, rows, columns]'],
    ['an input of 0 channels', (a) => (a.input = [0, 28, 28]), 'options.arch.input [0,28,28] must be [channels, rows, columns]'],
    ['layers without an input', (a) => delete a.input, 'options.arch needs both input and layers (a conv net) or neither (a dense net)'],
    ['an input without layers', (a) => delete a.layers, 'options.arch needs both input and layers (a conv net) or neither (a dense net)'],
    ['layers that are a string', (a) => (a.layers = 'conv3x3x2,pool2,10'), 'options.arch.layers "conv3x3x2,pool2,10" must be a list of layer specs, the hidden layers and the output'],
    [
      'layers of the output alone',
      (a) => ((a.layers = [{ kind: 'dense', units: 10 }]), delete a.batchNorm),
      'options.arch.layers [{"kind":"dense","units":10}] must be a list of layer specs, the hidden layers and the output',
    ],
    ['layers with a null', (a) => (a.layers[1] = null), 'options.arch.layers [{"kind":"conv","kh":3,"kw":3,"channels"… must be a list of layer specs, the hidden layers and the output'],
    [
      'layers without a convolution',
      (a) => (
        (a.layers = [
          { kind: 'dense', units: 10 },
          { kind: 'dense', units: 10 },
        ]),
        (a.sizes = [784, 10, 10]),
        (a.batchNorm = [1])
      ),
      'options.arch.layers (as --layers 10,bn): no convolution: train records the layers of conv nets only, a dense net by its sizes (on 1×28×28 images)',
    ],
    ['a key an architecture does not have', (a) => (a.dropout = 0.5), 'options.arch holds "dropout", not part of a layer description'],
  ])('a conv net: %s', (_what, edit, message) => {
    if (message === 'sizes') {
      // a good description with other numbers: its sizes follow from it
      expect(conv((a) => (edit(a), (a.sizes = [784, 392, 10, 10])))).toBeUndefined();
      return;
    }
    expect(conv(edit)).toBe(message);
  });

  it.each<[string, (a: any) => void, string | undefined]>([
    ['as train writes it', () => {}, undefined],
    ['bn on the first hidden layer too', (a) => (a.batchNorm = [1, 2]), undefined],
    ['bn on the output', (a) => (a.batchNorm = [3]), `options.arch.batchNorm [3] must list hidden layers (1 to 2): ${HIDDEN}`],
    ['bn without a hidden layer', (a) => ((a.sizes = [784, 10]), (a.batchNorm = [1])), `options.arch.batchNorm [1] must list hidden layers (the network has none): ${HIDDEN}`],
    ['bn twice', (a) => (a.batchNorm = [2, 2]), 'options.arch.batchNorm [2,2] is not what its layers give ([2], as --layers 784,30,20,bn,10)'],
  ])('a dense net: %s', (_what, edit, message) => {
    expect(dense(edit)).toBe(message);
  });

  it("archMismatch: the first field in which a record differs from the model's own, or undefined", () => {
    const model = CONV as unknown as Architecture;
    const differ = (edit: Partial<Record<keyof Architecture, unknown>>) => archMismatch({ ...model, ...edit } as Architecture, model);
    expect(archMismatch(structuredClone(model), model)).toBeUndefined();
    expect(differ({ sizes: [784, 338, 12, 10] })).toBe("options.arch.sizes 784,338,12,10 do not match the model's 784,338,10,10");
    expect(differ({ activation: 'tanh' })).toBe("options.arch.activation tanh does not match the model's relu");
    expect(differ({ batchNorm: [1] })).toBe("options.arch.batchNorm 1 does not match the model's 1,2");
    expect(differ({ batchNorm: undefined })).toBe("options.arch.batchNorm none does not match the model's 1,2");
    expect(differ({ input: [2, 28, 28] })).toBe("options.arch.input 2,28,28 does not match the model's 1,28,28");
    expect(differ({ layers: [{ ...CONV.layers[0], channels: 3 }, ...CONV.layers.slice(1)] })).toBe("options.arch.layers conv3x3x3,pool2,10,10 do not match the model's conv3x3x2,pool2,10,10");
  });

  it("recordMismatch: the arch first, then the dtype against the model's tensors (absent: float32)", () => {
    const model = CONV as unknown as Architecture;
    expect(recordMismatch({ arch: model }, { arch: model, dtype: 'float32' })).toBeUndefined();
    expect(recordMismatch({ arch: model, dtype: 'float64' }, { arch: model, dtype: 'float64' })).toBeUndefined();
    expect(recordMismatch({ arch: model }, { arch: model, dtype: 'float64' })).toBe("options.dtype float32 does not match the model's float64 tensors");
    expect(recordMismatch({ arch: model, dtype: 'float64' }, { arch: model, dtype: 'float32' })).toBe("options.dtype float64 does not match the model's float32 tensors");
    expect(recordMismatch({ arch: { ...model, activation: 'tanh' }, dtype: 'float64' }, { arch: model, dtype: 'float32' })).toBe("options.arch.activation tanh does not match the model's relu");
  });

  it('--layers and --hidden are one setting in two forms', () => {
    expect(ALTERNATIVE_FLAGS).toEqual([['layers', 'hidden']]);
  });
});

describe('recordFlags: each schedule gives the flags of its kind only', () => {
  // The flags a schedule adds to a record without one (and without --early-stop, which also gives --monitor-metric).
  const others = Object.keys(recordFlags({ ...RECORD, schedule: undefined, earlyStop: undefined }));
  const flags = (schedule: RunRecord['schedule']) => Object.fromEntries(Object.entries(recordFlags({ ...RECORD, schedule, earlyStop: undefined })).filter(([k]) => !others.includes(k)));
  it('constant, step, exponential, cosine, onecycle and plateau', () => {
    const base = { warmup: 2, decay: 0.5, stepEvery: 3 };
    expect(flags({ name: 'constant', ...base })).toEqual({ schedule: 'constant', warmup: 2 });
    expect(flags({ name: 'step', ...base, unit: 'step' })).toEqual({ schedule: 'step', warmup: 2, decay: 0.5, 'step-every': 3, 'schedule-unit': 'step' });
    expect(flags({ name: 'exponential', ...base, unit: 'epoch' })).toEqual({ schedule: 'exponential', warmup: 2, decay: 0.5 });
    expect(flags({ name: 'cosine', ...base, unit: 'step', etaMin: 0.001 })).toEqual({ schedule: 'cosine', warmup: 2, 'schedule-unit': 'step', 'eta-min': 0.001 });
    expect(flags({ name: 'onecycle', warmup: 0, decay: 1, stepEvery: 1, unit: 'step', pctStart: 0.25, divFactor: 20, finalDivFactor: 1000 })).toEqual({
      schedule: 'onecycle',
      'pct-start': 0.25,
      'div-factor': 20,
      'final-div-factor': 1000,
    });
    expect(flags({ name: 'plateau', ...base, patience: 4, metric: 'val-loss' })).toEqual({ schedule: 'plateau', warmup: 2, decay: 0.5, 'plateau-patience': 4, 'monitor-metric': 'val-loss' });
  });
});

describe('recordFlags: what is left out', () => {
  it('dropout 0 is no flag, other zeros are flags; an absent dtype is float32', () => {
    const f = recordFlags({ ...RECORD, dropout: 0, weightDecay: 0, epochs: 0, seed: 0, labelSmoothing: 0, dtype: undefined });
    expect('dropout' in f).toBe(false);
    expect(f).toMatchObject({ 'weight-decay': 0, epochs: 0, seed: 0, 'label-smoothing': 0, dtype: 'float32' });
    expect(recordFlags({ ...RECORD, dtype: 'float32' }).dtype).toBe('float32');
  });

  it('init-from gives --reinit-output only when set; save-best its metric', () => {
    expect(recordFlags({ ...RECORD, initFrom: { file: 'm.json', sha256: HEX, reinitOutput: true } })).toMatchObject({ 'init-from': 'm.json', 'reinit-output': true });
    expect('reinit-output' in recordFlags({ ...RECORD, initFrom: { file: 'm.json', sha256: HEX, reinitOutput: false } })).toBe(false);
    expect(recordFlags({ ...RECORD, earlyStop: undefined, saveBest: 'val-loss' })).toMatchObject({ 'save-best': true, 'monitor-metric': 'val-loss' });
  });
});

describe('settingLabels', () => {
  it('label smoothing, clipping and a zero dropout', () => {
    expect(settingLabels({ ...RECORD, dropout: 0, labelSmoothing: 0.1, clipNorm: 5, clipValue: 0.5 })).toBe('η=0.003 m=16 λ=0.01 smoothing 0.1 clip-norm 5 clip-value 0.5');
    expect(settingLabels({ ...RECORD, dropout: 0, labelSmoothing: 0 })).toBe('η=0.003 m=16 λ=0.01');
  });
});
