import { describe, expect, it } from 'vitest';
import { learningRate, oneCycleRate, plateauRate, scheduleLabel, scheduleRate, type Schedule, type ScheduleName } from '../../src/train/schedule.js';
import { EarlyStopping } from '../../src/train/early-stop.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';

const rates = (s: Partial<Schedule> & Pick<Schedule, 'name'>, epochs: number, lr = 1) =>
  Array.from({ length: epochs }, (_, i) => learningRate({ warmup: 0, decay: 0.1, stepEvery: 1, ...s }, lr, i + 1, epochs));

describe('learning-rate schedules, by hand', () => {
  it('constant', () => expect(rates({ name: 'constant' }, 3, 0.2)).toEqual([0.2, 0.2, 0.2]));
  it('step: ×γ every s epochs', () => {
    const r = rates({ name: 'step', decay: 0.5, stepEvery: 2 }, 5);
    expect(r).toEqual([1, 1, 0.5, 0.5, 0.25]);
  });
  it('exponential: ×γ each epoch', () => {
    const r = rates({ name: 'exponential', decay: 0.9 }, 3);
    expect(r[0]).toBe(1);
    expect(r[1]).toBeCloseTo(0.9, 15);
    expect(r[2]).toBeCloseTo(0.81, 15);
  });
  it('cosine: η·½(1 + cos(π(k−1)/K)) from η down towards 0', () => {
    const r = rates({ name: 'cosine' }, 4);
    expect(r[0]).toBe(1);
    expect(r[1]).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(r[2]).toBeCloseTo(0.5, 15);
    expect(r[3]).toBeCloseTo(0.5 * (1 + Math.cos((3 * Math.PI) / 4)), 15);
  });
  it('warm-up: η·e/(W+1), then the schedule starts at η', () => {
    const r = rates({ name: 'cosine', warmup: 3 }, 5, 0.4);
    expect(r.slice(0, 3)).toEqual([0.1, 0.2, 0.30000000000000004]);
    expect(r[3]).toBe(0.4);
    expect(r[4]).toBeCloseTo(0.2, 15); // K = 2: ½(1 + cos(π/2))
  });
});

// The lists below were printed by PyTorch 1.13 (torch.optim.lr_scheduler), from the script in docs/guide/regularisers.md.
describe('per-step schedules, against PyTorch', () => {
  it('onecycle: OneCycleLR(max_lr=1, total_steps=10, cycle_momentum=False), step by step', () => {
    const torch = [0.040000000000000036, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631, 0.6112620219362893, 0.38874197806371075, 0.18825834605023697, 0.049519367986526286, 4e-6];
    const ours = torch.map((_, i) => oneCycleRate({}, 1, i + 1, 10));
    ours.forEach((v, i) => expect(v).toBeCloseTo(torch[i], 14));
    // the same through scheduleRate: 2 epochs of 5 batches are steps 1..10
    const rate = scheduleRate({ name: 'onecycle', warmup: 0, decay: 0.1, stepEvery: 1 }, 1, 2, 5)!;
    expect([1, 2].flatMap((e) => [1, 2, 3, 4, 5].map((b) => rate(e, b)))).toEqual(ours);
  });

  it('onecycle: pct_start, div_factor and final_div_factor as given', () => {
    // pct 0.5 of T = 4: n₁ = 1; η₀ = 2/4 = 0.5, η_final = 0.5/10 = 0.05
    const s = { pctStart: 0.5, divFactor: 4, finalDivFactor: 10 };
    // t = 3: halfway down, 0.05 + (2 − 0.05)·½(cos(π/2) + 1) = 1.025
    [0.5, 2, 1.025, 0.05].forEach((v, i) => expect(oneCycleRate(s, 2, i + 1, 4)).toBeCloseTo(v, 15));
  });

  it('cosine with η_min: CosineAnnealingLR(T_max=4, eta_min=0.1) from η = 0.4', () => {
    const torch = [0.4, 0.35606601717798214, 0.25, 0.1439339828220179];
    torch.forEach((v, i) => expect(learningRate({ name: 'cosine', warmup: 0, decay: 0.1, stepEvery: 1, etaMin: 0.1 }, 0.4, i + 1, 4)).toBeCloseTo(v, 15));
  });

  it('per step: warm-up η·t/(W+1) over W steps, then cosine over the steps left; the batch counts, not the epoch', () => {
    const s: Schedule = { name: 'cosine', warmup: 3, decay: 0.1, stepEvery: 1, unit: 'step' };
    const rate = scheduleRate(s, 0.4, 2, 4)!; // T = 8 steps, K = 5 after warm-up
    const got = [1, 2].flatMap((e) => [1, 2, 3, 4].map((b) => rate(e, b)));
    expect(got.slice(0, 3)).toEqual([0.1, 0.2, 0.30000000000000004]);
    got.slice(3).forEach((v, k) => expect(v).toBeCloseTo(0.4 * 0.5 * (1 + Math.cos((Math.PI * k) / 5)), 15));
    // per epoch (the default, and every record written before per-step schedules) the batch is ignored
    const epochs = scheduleRate({ ...s, unit: undefined, warmup: 1 }, 0.4, 3, 4)!;
    expect([1, 2, 3, 4].map((b) => epochs(1, b))).toEqual([0.2, 0.2, 0.2, 0.2]);
    expect(epochs(2, 3)).toBe(0.4);
  });
});

describe('plateau, against ReduceLROnPlateau', () => {
  const epoch = (e: number, validationLoss: number, validationAccuracy = 0.5) => ({ epoch: e, loss: 1, trainAccuracy: 0.5, seconds: 0, validationLoss, validationAccuracy });
  const rates = (s: Pick<Schedule, 'decay' | 'patience' | 'metric'>, values: number[], accuracy = false) => {
    const history = values.map((v, i) => (accuracy ? epoch(i + 1, 1, v) : epoch(i + 1, v)));
    return Array.from({ length: values.length + 1 }, (_, k) => plateauRate(s, 1, history.slice(0, k)));
  };

  it("mode min, factor 0.5, patience 1: PyTorch's η before each epoch", () => {
    // ReduceLROnPlateau(factor=0.5, patience=1) stepped with these losses; 0.8999 is not better than 0.89 (threshold 1e-4, relative)
    expect(rates({ decay: 0.5, patience: 1 }, [1.0, 0.9, 0.9, 0.95, 0.89, 0.8999, 0.95, 0.95, 0.95])).toEqual([1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]);
  });

  it("mode max (val-accuracy), factor 0.1, patience 0: PyTorch's η; 0.60005 is within the threshold of 0.6", () => {
    const got = rates({ decay: 0.1, patience: 0, metric: 'val-accuracy' }, [0.5, 0.6, 0.6, 0.60005, 0.7, 0.7], true);
    [1.0, 1.0, 1.0, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 16));
  });

  it('scheduleRate replays the history of the epochs before the one asked (a resumed run drops η at the same epochs)', () => {
    const history = [epoch(1, 1), epoch(2, 1), epoch(3, 1)];
    const rate = scheduleRate({ name: 'plateau', warmup: 0, decay: 0.1, stepEvery: 1, patience: 1, metric: 'val-loss' }, 0.5, 4, 3, () => history)!;
    expect([1, 2, 3, 4].map((e) => rate(e, 1))).toEqual([0.5, 0.5, 0.5, 0.05]);
  });

  it('labels say what each schedule does', () => {
    expect(scheduleLabel({ name: 'cosine', warmup: 2, decay: 0.1, stepEvery: 1 })).toBe('cosine schedule after 2 warm-up epochs');
    expect(scheduleLabel({ name: 'cosine', warmup: 100, decay: 0.1, stepEvery: 1, unit: 'step', etaMin: 1e-4 })).toBe('cosine schedule per step to η_min 0.0001 after 100 warm-up steps');
    expect(scheduleLabel({ name: 'plateau', warmup: 0, decay: 0.5, stepEvery: 1, patience: 3, metric: 'val-accuracy' })).toBe(
      'plateau schedule ×0.5 after more than 3 epochs without a better val-accuracy',
    );
  });
});

describe('early stopping', () => {
  const net = Network.create({ sizes: [2, 2], activation: 'linear', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(1));
  const epoch = (e: number, validationLoss: number, validationAccuracy = 0.5) => ({ epoch: e, loss: 1, trainAccuracy: 0.5, seconds: 0, validationLoss, validationAccuracy });

  it('stops after `patience` epochs without a strictly better validation loss, keeping the best weights', () => {
    const es = new EarlyStopping('val-loss', 2);
    const seen: boolean[] = [];
    [0.5, 0.4, 0.4, 0.45].forEach((v, i) => {
      net.weights[0].data[0] = i; // tell the epochs' weights apart
      seen.push(es.observe(epoch(i + 1, v), net));
    });
    expect(seen).toEqual([true, true, false, false]);
    expect(es.best).toEqual({ epoch: 2, value: 0.4 });
    expect(es.shouldStop(3)).toBe(false);
    expect(es.shouldStop(4)).toBe(true);
    expect(es.bestWeights?.weights[0].data[0]).toBe(1);
  });

  it('accuracy: higher is better; replay finds the best of a resumed run', () => {
    const es = new EarlyStopping('val-accuracy', 3);
    es.replay([epoch(1, 1, 0.8), epoch(2, 1, 0.9), epoch(3, 1, 0.85)]);
    expect(es.best).toEqual({ epoch: 2, value: 0.9 });
    expect(es.since(3)).toBe(1);
  });
});

describe('learning-rate schedules at their edges', () => {
  const s = (name: ScheduleName, warmup = 0, decay = 0.5, stepEvery = 2): Schedule => ({ name, warmup, decay, stepEvery });
  it('warm-up ends at epoch W (η·W/(W+1)), the schedule starts at W + 1 with η', () => {
    expect([1, 2, 3, 4].map((e) => learningRate(s('constant', 2), 3, e, 4))).toEqual([1, 2, 3, 3]);
    expect([1, 2, 3, 4].map((e) => learningRate(s('constant', 0, 0.5, 1), 3, e, 4))).toEqual([3, 3, 3, 3]); // never drops, whatever γ and s
    expect([1, 2, 3, 4, 5, 6].map((e) => learningRate(s('step', 1), 1, e, 6))).toEqual([0.5, 1, 1, 0.5, 0.5, 0.25]);
    expect([2, 3, 4].map((e) => learningRate(s('exponential', 1), 1, e, 4))).toEqual([1, 0.5, 0.25]);
  });
  it('cosine over the K = E − W epochs after warm-up, and over at least one epoch', () => {
    expect(learningRate(s('cosine', 2), 1, 4, 6)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 4)), 15);
    expect(learningRate(s('cosine'), 1, 3, 1)).toBeCloseTo(0.5 * (1 + Math.cos(2 * Math.PI)), 15); // K = max(1, 1)
    expect(learningRate(s('cosine', 3), 1, 5, 2)).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI)), 15); // K = max(1, −1)
  });
});

describe('schedules, more (mutation testing)', () => {
  const base = { warmup: 0, decay: 0.1, stepEvery: 1 };
  const epoch = (e: number, validationLoss: number, validationAccuracy = 0.5) => ({ epoch: e, loss: 1, trainAccuracy: 0.5, seconds: 0, validationLoss, validationAccuracy });

  it('onecycle: the peak step (n = n₁) is η exactly, as PyTorch takes phase 1 there (step ≤ end_step)', () => {
    // pct 0.5 of T = 6: n₁ = 2, so t = 3 ends the rise: cos_anneal(η₀ → η, 1) = η. Taken as the start of the fall it would be
    // η_final + (η − η_final), which for η = 0.013, η_final = 0.013/6 rounds to 0.013000000000000001.
    expect(oneCycleRate({ pctStart: 0.5, divFactor: 2, finalDivFactor: 3 }, 0.013, 3, 6)).toBe(0.013);
  });

  it('onecycle: with n₁ = 0 (pct_start · T = 1) the first step is already the peak', () => {
    // pct 0.1 of T = 10: n₁ = 0, so n = 0 ≤ n₁ takes p = 1 (not 0/0): η = 2; then the fall over the 9 steps left
    const s = { pctStart: 0.1, divFactor: 4, finalDivFactor: 10 };
    expect(oneCycleRate(s, 2, 1, 10)).toBe(2);
    expect(oneCycleRate(s, 2, 2, 10)).toBeCloseTo(0.05 + 0.975 * (1 + Math.cos(Math.PI / 9)), 15);
  });

  it('plateau: a loss of exactly best·(1 − 10⁻⁴) or an accuracy of exactly best·(1 + 10⁻⁴) is not better (PyTorch compares strictly)', () => {
    const loss = [epoch(1, 1), epoch(2, 1 * (1 - 1e-4))];
    expect(plateauRate({ decay: 0.5, patience: 0 }, 1, loss)).toBe(0.5);
    const acc = [epoch(1, 1, 0.5), epoch(2, 1, 0.5 * (1 + 1e-4))];
    expect(plateauRate({ decay: 0.5, patience: 0, metric: 'val-accuracy' }, 1, acc)).toBe(0.5);
    // and just past the threshold it is better: no drop
    expect(plateauRate({ decay: 0.5, patience: 0 }, 1, [epoch(1, 1), epoch(2, 0.9998)])).toBe(1);
  });

  it('plateau: an infinite loss is never better, not even as the first epoch', () => {
    expect(plateauRate({ decay: 0.5, patience: 0 }, 1, [epoch(1, Infinity)])).toBe(0.5);
  });

  it('plateau: no drop that changes η by 10⁻⁸ or less (eps), as ReduceLROnPlateau', () => {
    const flat = [epoch(1, 1), epoch(2, 1), epoch(3, 1)];
    // η = 10⁻⁸ · 1.5 would fall by 0.75·10⁻⁸: skipped, every time
    expect(plateauRate({ decay: 0.5, patience: 0 }, 1.5e-8, flat)).toBe(1.5e-8);
    // η = 2·10⁻⁸ would fall by exactly 10⁻⁸: skipped too (old − new > eps, strictly)
    expect(plateauRate({ decay: 0.5, patience: 0 }, 2e-8, flat)).toBe(2e-8);
    // η = 4·10⁻⁸ falls once, to 2·10⁻⁸, then stays
    expect(plateauRate({ decay: 0.5, patience: 0 }, 4e-8, flat)).toBe(2e-8);
  });

  it('scheduleRate: plateau without a history runs at η; the history is read once per epoch', () => {
    expect(scheduleRate({ ...base, name: 'plateau' }, 0.3, 3, 4)!(1, 1)).toBe(0.3);
    let reads = 0;
    const history = [epoch(1, 1), epoch(2, 1)];
    const rate = scheduleRate({ ...base, name: 'plateau', patience: 0, decay: 0.5 }, 1, 3, 4, () => (reads++, history))!;
    expect([1, 2, 3, 4].map((b) => rate(3, b))).toEqual([0.5, 0.5, 0.5, 0.5]); // epoch 1 sets the best, epoch 2 is one bad epoch: > 0
    expect(reads).toBe(1);
  });

  it('scheduleRate: only plateau reads the validation history (a flat loss does not drop a step schedule)', () => {
    const flat = Array.from({ length: 12 }, (_, i) => epoch(i + 1, 1));
    const rate = scheduleRate({ ...base, name: 'exponential', decay: 0.5, patience: 0 }, 1, 20, 4, () => flat)!;
    expect(rate(13, 1)).toBe(0.5 ** 12);
  });

  it('scheduleRate: undefined only for a constant η without warm-up', () => {
    expect(scheduleRate({ ...base, name: 'constant' }, 0.3, 3, 4)).toBeUndefined();
    const warm = scheduleRate({ ...base, name: 'constant', warmup: 2 }, 0.3, 3, 4)!;
    expect([1, 2, 3].map((e) => warm(e, 1))).toEqual([0.3 / 3, 0.6 / 3, 0.3]);
    const exp = scheduleRate({ ...base, name: 'exponential', decay: 0.5 }, 1, 3, 4)!;
    expect([1, 2, 3].map((e) => exp(e, 2))).toEqual([1, 0.5, 0.25]);
  });

  it('labels of every schedule, by hand', () => {
    expect(scheduleLabel({ ...base, name: 'step', stepEvery: 3 })).toBe('step schedule ×0.1 every 3 epochs');
    expect(scheduleLabel({ ...base, name: 'step', decay: 0.5, unit: 'step' })).toBe('step schedule ×0.5 every 1 step');
    expect(scheduleLabel({ ...base, name: 'exponential', decay: 0.9 })).toBe('exponential schedule ×0.9 per epoch');
    expect(scheduleLabel({ ...base, name: 'exponential', decay: 0.9, unit: 'step', warmup: 1 })).toBe('exponential schedule ×0.9 per step after 1 warm-up step');
    expect(scheduleLabel({ ...base, name: 'onecycle' })).toBe('onecycle schedule per step (η/25 up to η over the first 30% of the steps, then down to η/250000)');
    expect(scheduleLabel({ ...base, name: 'onecycle', pctStart: 0.25, divFactor: 10, finalDivFactor: 100 })).toBe(
      'onecycle schedule per step (η/10 up to η over the first 25% of the steps, then down to η/1000)',
    );
    expect(scheduleLabel({ ...base, name: 'plateau', patience: 1 })).toBe('plateau schedule ×0.1 after more than 1 epoch without a better val-loss');
    expect(scheduleLabel({ ...base, name: 'plateau' })).toBe('plateau schedule ×0.1 after more than 10 epochs without a better val-loss');
    expect(scheduleLabel({ ...base, name: 'constant', warmup: 1 })).toBe('constant schedule after 1 warm-up epoch');
    expect(scheduleLabel({ ...base, name: 'constant', unit: 'step', etaMin: 0.1 })).toBe('constant schedule per step');
    expect(scheduleLabel({ ...base, name: 'cosine', etaMin: 0.1 })).toBe('cosine schedule to η_min 0.1');
  });
});
