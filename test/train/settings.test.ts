import { describe, expect, it } from 'vitest';
import { newRecord, recordFlags, RESUME_TAKES, runRecordProblem, settingLabels, type RunRecord } from '../../src/train/settings.js';

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
