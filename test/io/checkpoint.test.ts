import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BEST_MODEL,
  checkpointKernels,
  hasCheckpoint,
  lockCheckpoint,
  processIdentity,
  readCheckpoint,
  removeCheckpoint,
  resumeNotice,
  writeCheckpoint,
  writeRescueCheckpoint,
} from '../../src/io/checkpoint.js';
import { encodeSafetensors, ModelFileError } from '../../src/io/safetensors.js';
import { OutputPathError, processAlive, tempName } from '../../src/base/atomic.js';
import { convArchitecture, Network } from '../../src/nn/network.js';
import { parseLayerList } from '../../src/nn/layers.js';
import { Rng } from '../../src/base/rng.js';
import { initialState, type TrainState } from '../../src/train/session.js';
import { newRecord, type RunRecord } from '../../src/train/settings.js';
import type { OptimizerState } from '../../src/train/optimizers.js';
import type { Provenance } from '../../src/io/provenance.js';

/** A pid no process holds here (found, not assumed). */
function deadPid(): number {
  for (let pid = 4_194_000; ; pid--) if (!processAlive(pid)) return pid;
}

// Taking a checkpoint directory's lock removes what crashed writes of ours left there, by atomic.ts's own
// TEMP_PATTERN (cleanStaleTemporaries, at any age: the lock says no write of ours is in progress), and nothing else.
describe('lockCheckpoint: the temporaries of crashed writes go, the files of others stay', () => {
  it.each([
    ['a temporary of a writer that is gone, written a moment ago', (dir: string) => tempName(join(dir, 'model-3.safetensors')).replace(/\.\d+\.tmp$/, `.${deadPid()}.tmp`), false],
    ['a temporary of a writer still running (pid 1)', (dir: string) => tempName(join(dir, 'state.json')).replace(/\.\d+\.tmp$/, '.1.tmp'), true],
    ["a user's own dot file that ends in .<number>.tmp", (dir: string) => join(dir, '.notes.2024.tmp'), true],
    ['a file that merely ends in .tmp', (dir: string) => join(dir, 'draft.tmp'), true],
  ] as const)('%s', (_what, name, kept) => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-ck-lock-'));
    const path = name(dir);
    writeFileSync(path, 'x');
    const release = lockCheckpoint(dir, '--checkpoint');
    release();
    expect(existsSync(path)).toBe(kept);
  });

  it('a directory named like a temporary of the old pattern does not make the lock fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-ck-lock-'));
    mkdirSync(join(dir, '.photos.7.tmp'));
    const release = lockCheckpoint(dir, '--checkpoint');
    release();
    expect(existsSync(join(dir, '.photos.7.tmp'))).toBe(true);
  });
});

// In-process tests of src/io/checkpoint.ts (the CLI tests of --checkpoint and --resume run dist/): every file it
// writes, every refusal of a damaged checkpoint with its message, and the lock.

const ARCH = { sizes: [4, 3, 2], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' } as const;
const dirs: string[] = [];
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'backprop-checkpoint-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function record(over: Partial<RunRecord> = {}): RunRecord {
  return { data: 'embedded', arch: { ...ARCH, sizes: [...ARCH.sizes] }, init: 'he', lr: 0.05, batchSize: 2, epochs: 4, weightDecay: 0, seed: 7, backend: 'js', dtype: 'float32', ...over };
}

function state(over: Partial<TrainState> = {}): TrainState {
  return {
    epoch: 2,
    batch: 1,
    order: Uint32Array.from([3, 0, 4, 1, 2]),
    totalLoss: 1.5,
    correct: 1,
    seen: 2,
    seconds: 0.25,
    history: [{ epoch: 1, loss: 0.7, trainAccuracy: 0.5, seconds: 0.5, lr: 0.05, testLoss: 0.8, testAccuracy: 0.4 }],
    ...over,
  };
}

const net = (dtype: 'float32' | 'float64' = 'float32') => Network.create({ ...ARCH, sizes: [...ARCH.sizes] }, 'he', new Rng(3), dtype);
const ADAM = { name: 'adam', momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 } as const;
const RNG = Uint32Array.from([1, 2, 3, 0xffffffff]);

/** Two slots (Adam's moments) of every parameter, each entry distinct. */
function adamState(n: Network): OptimizerState {
  const params = n.weights.flatMap((W, l) => [W.data, n.biases[l]]);
  let k = 0;
  const make = () =>
    params.map((p) => {
      const a = n.dtype === 'float64' ? new Float64Array(p.length) : new Float32Array(p.length);
      for (let i = 0; i < a.length; i++) a[i] = 0.1 + 0.01 * k++;
      return a;
    });
  return { t: 7, slots: [make(), make()] };
}

/** A checkpoint written by writeCheckpoint, then state.json edited. */
function edited(edit: (s: Record<string, any>) => void, opts: { record?: RunRecord; optimizer?: OptimizerState } = {}): string {
  const dir = fresh();
  const n = net();
  writeCheckpoint(dir, n, RNG, state(), opts.record ?? record(), opts.optimizer);
  const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  edit(s);
  writeFileSync(join(dir, 'state.json'), JSON.stringify(s));
  return dir;
}

function refusal(dir: string): string {
  try {
    readCheckpoint(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFileError);
    return (e as Error).message;
  }
  throw new Error('readCheckpoint accepted it');
}

describe('writeCheckpoint and readCheckpoint', () => {
  it('round-trip the weights, the RNG, the state and the options bit for bit, float32 and float64', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const dir = join(fresh(), 'new'); // a directory that does not exist yet is created
      const n = net(dtype);
      writeCheckpoint(dir, n, RNG, state(), record({ dtype }));
      expect(hasCheckpoint(dir)).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['model-1.safetensors', 'order-1.bin', 'state.json']);
      const c = readCheckpoint<RunRecord>(dir);
      expect(c.network.dtype).toBe(dtype);
      expect(c.network.sizes).toEqual([4, 3, 2]);
      c.network.weights.forEach((W, l) => expect(Array.from(W.data)).toEqual(Array.from(n.weights[l].data)));
      c.network.biases.forEach((b, l) => expect(Array.from(b)).toEqual(Array.from(n.biases[l])));
      expect(Array.from(c.rng)).toEqual([1, 2, 3, 0xffffffff]);
      expect(c.state).toEqual(state());
      expect(c.options).toEqual(record({ dtype }));
      expect(c.optimizer).toBeUndefined();
      const file = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
      expect(file).toMatchObject({ format: 'backprop-checkpoint', version: 1, generation: 1, model: 'model-1.safetensors', order: 'order-1.bin', rng: [1, 2, 3, 0xffffffff] });
      expect(file.state.order).toBeUndefined();
      expect(file.optimizer).toBeUndefined();
      expect([...readFileSync(join(dir, 'order-1.bin'))]).toEqual([3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
      expect(readFileSync(join(dir, 'model-1.safetensors')).equals(Buffer.from(encodeSafetensors(n)))).toBe(true);
    }
  });

  it("the optimizer's slots go to optimizer-N.bin and come back bit for bit with t (float32 and float64)", () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const dir = fresh();
      const n = net(dtype);
      const opt = adamState(n);
      writeCheckpoint(dir, n, RNG, state(), record({ dtype, optimizer: ADAM }), opt);
      const width = dtype === 'float64' ? 8 : 4;
      expect(readFileSync(join(dir, 'optimizer-1.bin')).length).toBe(2 * n.parameterCount * width);
      expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).optimizer).toEqual({ t: 7, file: 'optimizer-1.bin' });
      const c = readCheckpoint<RunRecord>(dir);
      expect(c.optimizer!.t).toBe(7);
      expect(c.optimizer!.slots.map((s) => s.map((x) => [x.constructor.name, Array.from(x)]))).toEqual(opt.slots.map((s) => s.map((x) => [x.constructor.name, Array.from(x)])));
    }
  });

  it('an optimizer state without slots (plain SGD) writes no optimizer file', () => {
    const dir = fresh();
    writeCheckpoint(dir, net(), RNG, state(), record(), { t: 3, slots: [] });
    expect(readdirSync(dir).sort()).toEqual(['model-1.safetensors', 'order-1.bin', 'state.json']);
    expect(readCheckpoint(dir).optimizer).toBeUndefined();
  });

  it('each write is a new generation; older generations go, other files stay', () => {
    const dir = fresh();
    const n = net();
    const opt = adamState(n);
    const rec = record({ optimizer: ADAM });
    writeCheckpoint(dir, n, RNG, state(), rec, opt);
    for (const f of ['model-12.safetensors', 'xmodel-1.safetensors', 'model-.bin', 'order-1', 'notes.txt', BEST_MODEL]) writeFileSync(join(dir, f), 'x');
    writeCheckpoint(dir, n, RNG, state(), rec, opt);
    expect(readdirSync(dir).sort()).toEqual([BEST_MODEL, 'model-.bin', 'model-2.safetensors', 'notes.txt', 'optimizer-2.bin', 'order-1', 'order-2.bin', 'state.json', 'xmodel-1.safetensors']);
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))).toMatchObject({ generation: 2, model: 'model-2.safetensors', order: 'order-2.bin', optimizer: { file: 'optimizer-2.bin' } });
    expect(readCheckpoint(dir).optimizer!.t).toBe(7);
  });

  it('the generation follows the one state.json holds, and restarts at 1 when that is not a positive integer', () => {
    for (const [g, next] of [
      [41, 42],
      [0, 1],
      [-3, 1],
      [2.5, 1],
      ['7', 1],
      [2 ** 53, 1],
    ] as const) {
      const dir = fresh();
      writeFileSync(join(dir, 'state.json'), JSON.stringify({ generation: g }));
      writeCheckpoint(dir, net(), RNG, state(), record());
      expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).generation, String(g)).toBe(next);
      expect(existsSync(join(dir, `model-${next}.safetensors`))).toBe(true);
    }
  });

  it('writeRescueCheckpoint writes a whole checkpoint into a new directory under the temporary directory', () => {
    const dir = writeRescueCheckpoint(net(), RNG, state(), record())!;
    dirs.push(dir);
    expect(dir.startsWith(join(tmpdir(), 'backprop-rescued-checkpoint-'))).toBe(true);
    expect(readCheckpoint(dir).state).toEqual(state());
  });

  it('removeCheckpoint removes state.json, best.safetensors and every generation, and nothing else', () => {
    const dir = fresh();
    const n = net();
    writeCheckpoint(dir, n, RNG, state(), record({ optimizer: ADAM }), adamState(n));
    for (const f of [BEST_MODEL, 'model-9.safetensors', 'notes.txt', 'xorder-1.bin']) writeFileSync(join(dir, f), 'x');
    removeCheckpoint(dir);
    expect(hasCheckpoint(dir)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'xorder-1.bin']);
  });
});

describe('generations past 9, an epoch that ends on a batch, an empty order', () => {
  it('a checkpoint of generation 12 (two digits in every file name) reads back', () => {
    const dir = fresh();
    const n = net();
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ generation: 11 }));
    writeCheckpoint(dir, n, RNG, state(), record({ optimizer: ADAM }), adamState(n));
    expect(readdirSync(dir).sort()).toEqual(['model-12.safetensors', 'optimizer-12.bin', 'order-12.bin', 'state.json']);
    expect(readCheckpoint(dir).optimizer!.t).toBe(7);
    // a second write without an optimizer removes generation 12's files, the optimizer's too
    writeCheckpoint(dir, n, RNG, state(), record());
    expect(readdirSync(dir).sort()).toEqual(['model-13.safetensors', 'order-13.bin', 'state.json']);
  });

  it('state.batch · batchSize equal to the epoch is past its end; batch 0 of an empty order is not', () => {
    const dir = fresh();
    writeCheckpoint(dir, net(), RNG, state({ order: Uint32Array.from([0, 1, 2, 3, 4, 5]), batch: 3 }), record());
    expect(refusal(dir)).toBe(`${join(dir, 'state.json')}: state.batch 3 is past the end of an epoch of 6 examples in batches of 2`);
    const empty = fresh();
    writeCheckpoint(empty, net(), RNG, state({ order: new Uint32Array(0), batch: 0 }), record());
    expect(readCheckpoint(empty).state.order).toHaveLength(0);
  });

  it('removeCheckpoint of a directory without state.json or best.safetensors', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'model-12.safetensors'), 'x');
    removeCheckpoint(dir);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('readCheckpoint refuses a damaged checkpoint, naming the file and the field', () => {
  it('no state.json', () => {
    const dir = fresh();
    expect(refusal(dir)).toBe(`--resume ${dir}: no checkpoint there (state.json is missing)`);
  });

  it('state.json holding null or a number', () => {
    for (const text of ['null', '5', '"x"']) {
      const dir = fresh();
      writeFileSync(join(dir, 'state.json'), text);
      expect(refusal(dir), text).toBe(`${join(dir, 'state.json')}: not a backprop checkpoint (version 1)`);
    }
  });

  it('a number beyond float64 (JSON 1e400 is Infinity) is not finite', () => {
    const dir = edited(() => {});
    const path = join(dir, 'state.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('"totalLoss":1.5', '"totalLoss":1e400'));
    expect(refusal(dir)).toBe(`${path}: state.totalLoss null must be a finite number ≥ 0`);
  });

  it('state.json that is not JSON, or not a file', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'state.json'), '{"format":');
    expect(refusal(dir)).toBe(`${join(dir, 'state.json')}: not valid JSON`);
    const d2 = fresh();
    mkdirSync(join(d2, 'state.json'));
    expect(refusal(d2)).toMatch(new RegExp(`^${join(d2, 'state.json')}: cannot read \\(.+\\)$`));
  });

  const P = (dir: string) => `${join(dir, 'state.json')}: `;
  const cases: [string, (s: Record<string, any>) => void, string][] = [
    ['null', (s) => Object.keys(s).forEach((k) => delete s[k]), 'not a backprop checkpoint (version 1)'],
    ['model a list', (s) => (s.model = ['model-1.safetensors']), 'model ["model-1.safetensors"] must name a model-N.safetensors file of the checkpoint'],
    ['model without its dot', (s) => (s.model = 'model-1xsafetensors'), 'model "model-1xsafetensors" must name a model-N.safetensors file of the checkpoint'],
    ['order a list', (s) => (s.order = ['order-1.bin']), 'order ["order-1.bin"] must name an order-N.bin file of the checkpoint'],
    ['order without its dot', (s) => (s.order = 'order-1xbin'), 'order "order-1xbin" must name an order-N.bin file of the checkpoint'],
    ['another format', (s) => (s.format = 'other'), 'not a backprop checkpoint (version 1)'],
    ['version 2', (s) => (s.version = 2), 'not a backprop checkpoint (version 1)'],
    ['generation 0', (s) => (s.generation = 0), 'generation 0 must be a positive integer'],
    ['generation 1.5', (s) => (s.generation = 1.5), 'generation 1.5 must be a positive integer'],
    ['model outside the checkpoint', (s) => (s.model = '../model-1.safetensors'), 'model "../model-1.safetensors" must name a model-N.safetensors file of the checkpoint'],
    ['model with a suffix', (s) => (s.model = 'model-1.safetensors.x'), 'model "model-1.safetensors.x" must name a model-N.safetensors file of the checkpoint'],
    ['model a number', (s) => (s.model = 1), 'model 1 must name a model-N.safetensors file of the checkpoint'],
    ['order outside', (s) => (s.order = '/tmp/order-1.bin'), 'order "/tmp/order-1.bin" must name an order-N.bin file of the checkpoint'],
    ['order with a suffix', (s) => (s.order = 'order-1.bin~'), 'order "order-1.bin~" must name an order-N.bin file of the checkpoint'],
    ['order a number', (s) => (s.order = 2), 'order 2 must name an order-N.bin file of the checkpoint'],
    ['rng not a list', (s) => (s.rng = 'abcd'), 'the RNG state must be 4 uint32, not all 0'],
    ['rng of 3', (s) => (s.rng = [1, 2, 3]), 'the RNG state must be 4 uint32, not all 0'],
    ['rng all 0', (s) => (s.rng = [0, 0, 0, 0]), 'the RNG state must be 4 uint32, not all 0'],
    ['rng 2^32', (s) => (s.rng = [1, 2, 3, 2 ** 32]), 'the RNG state must be 4 uint32, not all 0'],
    ['rng negative', (s) => (s.rng = [1, 2, 3, -1]), 'the RNG state must be 4 uint32, not all 0'],
    ['options missing', (s) => delete s.options, 'options is not an object'],
    ['state missing', (s) => delete s.state, 'state is not an object'],
    ['state a string', (s) => (s.state = 'x'), 'state is not an object'],
    ['epoch 0', (s) => (s.state.epoch = 0), 'state.epoch 0 must be a positive integer'],
    ['batch -1', (s) => (s.state.batch = -1), 'state.batch -1 must be an integer ≥ 0'],
    ['correct 0.5', (s) => (s.state.correct = 0.5), 'state.correct 0.5 must be an integer ≥ 0'],
    ['seen missing', (s) => delete s.state.seen, 'state.seen undefined must be an integer ≥ 0'],
    ['totalLoss -1', (s) => (s.state.totalLoss = -1), 'state.totalLoss -1 must be a finite number ≥ 0'],
    ['seconds a string', (s) => (s.state.seconds = '1'), 'state.seconds "1" must be a finite number ≥ 0'],
    ['correct > seen', (s) => (s.state.correct = 3), 'state.correct is larger than state.seen'],
    ['history not a list', (s) => (s.state.history = {}), 'state.history must be a list'],
    ['history too short', (s) => (s.state.history = []), 'state.history has 0 epochs but state.epoch is 2'],
    ['history null entry', (s) => (s.state.history = [null]), 'state.history[0] is not the record of epoch 1'],
    ['history of epoch 2', (s) => (s.state.history[0].epoch = 2), 'state.history[0] is not the record of epoch 1'],
    ['loss missing', (s) => delete s.state.history[0].loss, 'state.history[0].loss undefined is not a finite number ≥ 0'],
    ['loss null', (s) => (s.state.history[0].loss = null), 'state.history[0].loss null is not a finite number ≥ 0'],
    ['trainAccuracy 1.5', (s) => (s.state.history[0].trainAccuracy = 1.5), 'state.history[0].trainAccuracy 1.5 is not a fraction in [0, 1]'],
    ['trainAccuracy -0.1', (s) => (s.state.history[0].trainAccuracy = -0.1), 'state.history[0].trainAccuracy -0.1 is not a fraction in [0, 1]'],
    ['seconds missing', (s) => delete s.state.history[0].seconds, 'state.history[0].seconds undefined is not a finite number ≥ 0'],
    ['lr -1', (s) => (s.state.history[0].lr = -1), 'state.history[0].lr -1 is not absent or a finite number ≥ 0'],
    ['testLoss null', (s) => (s.state.history[0].testLoss = null), 'state.history[0].testLoss null is not absent or a finite number ≥ 0'],
    ['testAccuracy 2', (s) => (s.state.history[0].testAccuracy = 2), 'state.history[0].testAccuracy 2 is not absent or a fraction in [0, 1]'],
    ['validationLoss "x"', (s) => (s.state.history[0].validationLoss = 'x'), 'state.history[0].validationLoss "x" is not absent or a finite number ≥ 0'],
    ['validationAccuracy 1.01', (s) => (s.state.history[0].validationAccuracy = 1.01), 'state.history[0].validationAccuracy 1.01 is not absent or a fraction in [0, 1]'],
    ['batch past the epoch', (s) => (s.state.batch = 3), 'state.batch 3 is past the end of an epoch of 5 examples in batches of 2'],
    ['sizes that do not match', (s) => (s.options.arch.sizes = [4, 5, 2]), "options.arch.sizes 4,5,2 do not match the model's 4,3,2 (model-1.safetensors)"],
    // the arch must be the model's in every field, not only its sizes: a resumed run trains the model's network and records options.arch
    ['another hidden activation', (s) => (s.options.arch.activation = 'tanh'), "options.arch.activation tanh does not match the model's relu (model-1.safetensors)"],
    ['a batch normalisation the model does not have', (s) => (s.options.arch.batchNorm = [1]), "options.arch.batchNorm 1 does not match the model's none (model-1.safetensors)"],
    // the dtype too (fourth hunt): an edited float64 resumed the float32 model in float32 and recorded float64
    ['a dtype the model is not', (s) => (s.options.dtype = 'float64'), "options.dtype float64 does not match the model's float32 tensors (model-1.safetensors)"],
    [
      'a batch normalisation on the output',
      (s) => (s.options.arch.batchNorm = [2]),
      "options.arch.batchNorm [2] must list hidden layers (1 to 1): batch normalisation goes on hidden layers (Z → BN → f), the output's Z is the cost's",
    ],
  ];
  for (const [what, edit, msg] of cases) {
    it(what, () => {
      const dir = edited(edit);
      expect(refusal(dir)).toBe(P(dir) + msg);
    });
  }

  // A conv net with batch normalisation: the layer description of state.json is checked as --layers is, and against the model
  // (found by a hostile-input hunt: each of these was resumed, exit 0, and copied into the saved model's metadata).
  const CONV_ARCH = { ...convArchitecture(parseLayerList('conv3x3x2,pool2'), [1, 6, 6], 2, ARCH), batchNorm: [1] };
  it.each<[string, (a: Record<string, any>) => void, string]>([
    [
      'batchNorm on the output',
      (a) => (a.batchNorm = [1, 2]),
      "options.arch.batchNorm [1,2] must list hidden layers (1 to 1): batch normalisation goes on hidden layers (Z → BN → f), the output's Z is the cost's",
    ],
    [
      'batchNorm as a string',
      (a) => (a.batchNorm = '1'),
      'options.arch.batchNorm "1" must list hidden layers (1 to 1): batch normalisation goes on hidden layers (Z → BN → f), the output\'s Z is the cost\'s',
    ],
    [
      'a kernel larger than the image',
      (a) => (a.layers[0].kh = 29),
      'options.arch.layers (as --layers conv29x3x2,bn,pool2): layer "conv29x3x2": a 29×3 kernel does not fit its 6×6 input (on 1×6×6 images)',
    ],
    [
      'a pooling of size 0',
      (a) => (a.layers[0].pool.size = 0),
      'options.arch.layers (as --layers conv3x3x2,bn,pool0): layer "pool0" is not a size (100), a convolution (conv5x5x20, conv5x5x20p2 with padding 2), a pooling (pool2, maxpool2, avgpool2) or a batch normalisation (bn) (on 1×6×6 images)',
    ],
    ['another input', (a) => (a.input = [1, 7, 7]), 'options.arch.sizes [36,8,2] is not what its layers give ([49,8,2], as --layers conv3x3x2,bn,pool2 on 1×7×7 images)'],
    ['3 channels over a model of 2', (a) => (a.layers[0].channels = 3), 'options.arch.sizes [36,8,2] is not what its layers give ([36,12,2], as --layers conv3x3x3,bn,pool2 on 1×6×6 images)'],
    [
      '3 channels over a model of 2, the sizes edited to match',
      (a) => ((a.layers[0].channels = 3), (a.sizes = [36, 12, 2])),
      "options.arch.sizes 36,12,2 do not match the model's 36,8,2 (model-1.safetensors)",
    ],
    ['no batch normalisation over a model with one', (a) => delete a.batchNorm, "options.arch.batchNorm none does not match the model's 1 (model-1.safetensors)"],
  ])('a conv net: refuses %s', (_what, edit, msg) => {
    const dir = fresh();
    const n = Network.create(structuredClone(CONV_ARCH), 'he', new Rng(3));
    writeCheckpoint(dir, n, RNG, state(), record({ arch: structuredClone(CONV_ARCH) }));
    expect(readCheckpoint(dir).network.arch).toEqual(CONV_ARCH); // as written, it is read back
    const s = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
    edit(s.options.arch);
    writeFileSync(join(dir, 'state.json'), JSON.stringify(s));
    expect(refusal(dir)).toBe(P(dir) + msg);
  });

  it('accepts the limits: accuracies 0 and 1, losses 0, optional fields absent, the last batch of an epoch, batch 0', () => {
    const h = { epoch: 1, loss: 0, trainAccuracy: 1, seconds: 0, testAccuracy: 0, validationAccuracy: 1, validationLoss: 0 };
    expect(readCheckpoint(edited((s) => ((s.state.history = [h]), (s.state.batch = 2)))).state.history).toEqual([h]);
    expect(readCheckpoint(edited((s) => ((s.state.batch = 0), (s.state.correct = 0), (s.state.seen = 0), (s.state.totalLoss = 0)))).state.batch).toBe(0);
    expect(readCheckpoint(edited((s) => ((s.state.epoch = 1), (s.state.history = [])))).state.epoch).toBe(1);
    expect(Array.from(readCheckpoint(edited((s) => (s.rng = [0, 0, 0, 1]))).rng)).toEqual([0, 0, 0, 1]);
  });

  it('the model, order and optimizer files: missing, unreadable, of the wrong size, not a permutation', () => {
    const dir = edited(() => {});
    rmSync(join(dir, 'model-1.safetensors'));
    expect(refusal(dir)).toBe(`${join(dir, 'model-1.safetensors')}: missing from the checkpoint`);
    const d2 = edited(() => {});
    rmSync(join(d2, 'order-1.bin'));
    mkdirSync(join(d2, 'order-1.bin'));
    expect(refusal(d2)).toMatch(new RegExp(`^${join(d2, 'order-1.bin')}: cannot read \\((?!ENOENT).+\\)$`));
    const bytes = (v: number[]) => Buffer.from(Uint32Array.from(v).buffer);
    for (const [order, msg] of [
      [Buffer.from([1, 0, 0]), '3 bytes is not a list of uint32'],
      [bytes([0, 1, 5, 2, 3]), 'not a permutation of 0..4 (entry 2 is 5)'],
      [bytes([0, 1, 1, 2, 3]), 'not a permutation of 0..4 (entry 2 is 1)'],
      [bytes([0, 1, 2, 3, 4, 5]), 'not a permutation of 0..5 (entry 0 is 0)'],
    ] as const) {
      const d = edited(() => {});
      writeFileSync(join(d, 'order-1.bin'), order);
      if (msg.includes('0..5')) {
        // a good permutation of 6: accepted
        expect(Array.from(readCheckpoint(d).state.order)).toEqual([0, 1, 2, 3, 4, 5]);
        continue;
      }
      expect(refusal(d)).toBe(`${join(d, 'order-1.bin')}: ${msg}`);
    }
  });

  it('an optimizer that keeps slots needs its file, of exactly its size', () => {
    const adam = record({ optimizer: ADAM });
    const n = net();
    const noFile = edited(() => {}, { record: adam });
    expect(refusal(noFile)).toBe(`${join(noFile, 'state.json')}: optimizer must give the step count t and an optimizer-N.bin file of the checkpoint`);
    for (const bad of [
      null,
      { t: 1, file: ['optimizer-1.bin'] },
      { t: 1, file: 'optimizer-1xbin' },
      { t: -1, file: 'optimizer-1.bin' },
      { t: 1.5, file: 'optimizer-1.bin' },
      { t: 1, file: 7 },
      { t: 1, file: '../optimizer-1.bin' },
      { t: 1, file: 'optimizer-1.bin.x' },
      'x',
    ]) {
      const d = edited((s) => (s.optimizer = bad), { record: adam, optimizer: adamState(n) });
      expect(refusal(d), JSON.stringify(bad)).toBe(`${join(d, 'state.json')}: optimizer must give the step count t and an optimizer-N.bin file of the checkpoint`);
    }
    const d = edited(() => {}, { record: adam, optimizer: adamState(n) });
    writeFileSync(join(d, 'optimizer-1.bin'), Buffer.alloc(8));
    expect(refusal(d)).toBe(`${join(d, 'optimizer-1.bin')}: 8 bytes, expected 184 (2 slots of the 23 parameters in float32)`);
    const mom = record({ optimizer: { ...ADAM, name: 'momentum' } });
    const dm = edited(() => {}, { record: mom, optimizer: { t: 1, slots: [adamState(n).slots[0]] } });
    expect(readCheckpoint(dm).optimizer!.slots.length).toBe(1);
    writeFileSync(join(dm, 'optimizer-1.bin'), Buffer.alloc(4));
    expect(refusal(dm)).toBe(`${join(dm, 'optimizer-1.bin')}: 4 bytes, expected 92 (1 slot of the 23 parameters in float32)`);
    const d64 = fresh();
    const n64 = net('float64');
    writeCheckpoint(d64, n64, RNG, state(), record({ dtype: 'float64', optimizer: ADAM }), adamState(n64));
    writeFileSync(join(d64, 'optimizer-1.bin'), Buffer.alloc(16));
    expect(refusal(d64)).toBe(`${join(d64, 'optimizer-1.bin')}: 16 bytes, expected 368 (2 slots of the 23 parameters in float64)`);
    const t0 = edited((s) => (s.optimizer.t = 0), { record: adam, optimizer: adamState(n) });
    expect(readCheckpoint(t0).optimizer!.t).toBe(0);
  });
});

describe('processIdentity', () => {
  it("is the boot id and the process's start time from /proc, or '' for a process that is gone", () => {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    expect(processIdentity(process.pid)).toBe(`${boot} ${start}`);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    expect(processIdentity(gone)).toBe('');
  });
});

describe('lockCheckpoint', () => {
  const me = () => `${process.pid}\n${hostname()}\n${processIdentity(process.pid)}\n`;

  it('writes pid, host and identity, leaves files not named by TEMP_PATTERN (the sweep is tested above), and its release removes only its own lock', () => {
    const dir = fresh();
    writeFileSync(join(dir, '.model-1.safetensors.123.tmp'), 'x');
    writeFileSync(join(dir, `.model-1.safetensors.${process.pid}.tmp`), 'x');
    writeFileSync(join(dir, '.model.tmp'), 'x');
    writeFileSync(join(dir, 'a.123.tmp'), 'x');
    writeFileSync(join(dir, 'x.y.123.tmp'), 'x');
    writeFileSync(join(dir, '.y.123.tmpx'), 'x');
    const exits = process.listenerCount('exit');
    const release = lockCheckpoint(dir, '--checkpoint');
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(me());
    // sorted on both sides: where this process's pid sorts among the names depends on its digits (12082 before 123)
    expect(readdirSync(dir).sort()).toEqual(['.model-1.safetensors.123.tmp', `.model-1.safetensors.${process.pid}.tmp`, '.model.tmp', '.y.123.tmpx', 'a.123.tmp', 'lock', 'x.y.123.tmp'].sort());
    expect(process.listenerCount('exit')).toBe(exits + 1); // released at exit too
    release();
    expect(process.listenerCount('exit')).toBe(exits);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    release(); // already gone: no error
    const again = lockCheckpoint(dir, '--checkpoint');
    writeFileSync(join(dir, 'lock'), 'someone else\n');
    again();
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe('someone else\n');
  });

  it('gives up after its attempts on a lock that cannot be read (a directory named lock), naming it', () => {
    const dir = fresh();
    mkdirSync(join(dir, 'lock'));
    const exits = process.listenerCount('exit');
    expect(() => lockCheckpoint(dir, '--resume')).toThrow(new OutputPathError(`--resume ${dir}: could not take its lock file ${join(dir, 'lock')}`));
    expect(process.listenerCount('exit')).toBe(exits);
    expect(readdirSync(dir)).toEqual(['lock']);
  });

  it('refuses a directory where the lock cannot be created, naming the flag and the reason', () => {
    const dir = join(fresh(), 'missing');
    expect(() => lockCheckpoint(dir, '--checkpoint')).toThrow(new OutputPathError(`--checkpoint ${dir}: cannot create its lock file (ENOENT)`));
  });

  it('refuses a lock held by a live process on this host, or by any process on another host', async () => {
    const child = spawn('sleep', ['30']);
    try {
      await new Promise((r) => child.once('spawn', r));
      const dir = fresh();
      const lock = join(dir, 'lock');
      writeFileSync(lock, `${child.pid}\n${hostname()}\n${processIdentity(child.pid!)}\n`);
      expect(() => lockCheckpoint(dir, '--checkpoint')).toThrow(
        `--checkpoint ${dir}: in use by another run (pid ${child.pid}); wait for it to finish, choose another directory, or delete ${lock} if that run is gone`,
      );
      // a lock from before identities (two lines): judged by its pid alone
      writeFileSync(lock, `${child.pid}\n${hostname()}\n`);
      expect(() => lockCheckpoint(dir, '--resume')).toThrow(`--resume ${dir}: in use by another run (pid ${child.pid});`);
      writeFileSync(lock, `1\nanother-host\nx y\n`);
      expect(() => lockCheckpoint(dir, '--checkpoint')).toThrow(`--checkpoint ${dir}: in use by another run (pid 1 on another-host); wait`);
      // not a lock a run wrote (the fourth hunt: "in use by another run (pid )", or a whole model's header as the pid): said so
      const junks = [
        '',
        'abc\n' + hostname() + '\n',
        '0\n' + hostname() + '\n',
        '-5\n' + hostname() + '\n',
        '1.5\n' + hostname() + '\n',
        ' 12\n',
        '1e3\n',
        '99999999999999999999\n',
        '{"__metadata__"',
      ];
      for (const junk of junks) {
        writeFileSync(lock, junk);
        expect(() => lockCheckpoint(dir, '--checkpoint'), JSON.stringify(junk)).toThrow(
          new OutputPathError(`--checkpoint ${dir}: its lock file ${lock} was not written by a run (it names no process); delete it if no run uses the directory`),
        );
        expect(readFileSync(lock, 'utf8')).toBe(junk); // left as it was
      }
      // the pid now names another process (its identity differs): stale, taken over
      writeFileSync(lock, `${child.pid}\n${hostname()}\nanother-boot 1\n`);
      const release = lockCheckpoint(dir, '--checkpoint');
      expect(readFileSync(lock, 'utf8')).toBe(me());
      release();
    } finally {
      child.kill();
    }
  });

  it('takes over a lock whose process is gone, or is this very process', () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    for (const owner of [`${gone}\n${hostname()}\nb 1\n`, `${gone}\n${hostname()}\n`, me()]) {
      const dir = fresh();
      writeFileSync(join(dir, 'lock'), owner);
      const release = lockCheckpoint(dir, '--checkpoint');
      expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(me());
      expect(readdirSync(dir)).toEqual(['lock']); // the stale lock moved aside is removed
      release();
    }
  });
});

// What computed a checkpoint's weights (provider, thread policy), and what a resume says when that changes.

const TWO = '1 thread below 2^24 multiply-adds (m·n·k), 2 from there';
const blas = { provider: 'blas', providerDetail: 'libopenblas.so.0 (OpenBLAS 0.3.21 Cooperlake)', threads: TWO };

describe('resumeNotice', () => {
  it('nothing for the same provider and policy, or for a checkpoint that predates the record', () => {
    expect(resumeNotice(blas, { ...blas })).toBeUndefined();
    expect(resumeNotice(undefined, blas)).toBeUndefined();
  });

  it('OpenBLAS under another policy (core count, BACKPROP_PARALLEL_WORK): one line saying so', () => {
    expect(resumeNotice(blas, { ...blas, threads: '1 thread' })).toBe(
      `the thread policy differs from the checkpoint's: blas ran with "${TWO}", now "1 thread" (its sums depend on the thread count): the result is not guaranteed to be byte-identical to an uninterrupted run's`,
    );
  });

  it('OpenBLAS where neither run recorded a policy: nothing (absent on both sides is the same policy)', () => {
    expect(resumeNotice({ provider: 'blas' }, { provider: 'blas' })).toBeUndefined();
    expect(resumeNotice({ provider: 'blas', threads: '' }, { provider: 'blas' })).toBeUndefined();
    expect(resumeNotice({ provider: 'blas' }, { provider: 'blas', threads: '' })).toBeUndefined();
  });

  it('wasm under another policy: nothing (each element of C is summed by one thread, in one order)', () => {
    const wasm = { provider: 'wasm', threads: TWO };
    expect(resumeNotice(wasm, { ...wasm, threads: '2 threads' })).toBeUndefined();
  });

  it('another provider: says both; what the file says is neutralised for the terminal', () => {
    expect(resumeNotice({ provider: 'js' }, blas)).toBe(
      `the checkpoint was computed on js (its own threads), this run on blas (${TWO}): the result is not guaranteed to be byte-identical to an uninterrupted run's`,
    );
    const n = resumeNotice({ provider: 'wasm\x1b]0;pwned\x07', threads: '\r$ rm -rf ~' }, blas)!;
    expect(n).not.toMatch(/[\x00-\x1f]/);
    expect(n).toContain('wasm\\x1b]0;pwned\\x07');
  });
});

describe('checkpoint kernels record', () => {
  const write = () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-ck-'));
    const net = Network.create({ sizes: [4, 3, 2], activation: 'sigmoid', outputActivation: 'sigmoid', cost: 'quadratic' }, 'normal', new Rng(1));
    const record = newRecord({ data: 'x', lr: 0.5, batchSize: 2, epochs: 1, weightDecay: 0, seed: 1, init: 'normal', backend: 'blas' }, { data: 'x', arch: net.arch });
    writeCheckpoint(dir, net, new Rng(2).state(), initialState(8), record, undefined, blas);
    return dir;
  };

  it('is written to state.json and read back', () => {
    const dir = write();
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).kernels).toEqual(blas);
    expect(readCheckpoint(dir).kernels).toEqual(blas);
  });

  it("checkpointKernels takes the provider, its description and the thread policy from a run's provenance, nothing else", () => {
    const p = { backprop: '0.1.0', node: 'v20', platform: 'linux', dtype: 'float32', seed: 3, ...blas } as Provenance;
    expect(checkpointKernels(p)).toStrictEqual({ provider: 'blas', providerDetail: blas.providerDetail, threads: TWO });
  });

  const MUST = 'kernels must give the provider and, optionally, its providerDetail and threads, as strings';
  it.each<[string, unknown, boolean]>([
    ['the provider alone', { provider: 'wasm' }, true],
    ['the provider and its description, no threads', { provider: 'blas', providerDetail: 'x' }, true],
    ['the provider and threads, no description', { provider: 'blas', threads: TWO }, true],
    ['texts of exactly 1000 characters', { provider: 'p'.repeat(1000), providerDetail: 'd'.repeat(1000), threads: 't'.repeat(1000) }, true],
    ['null', null, false],
    ['a string', 'blas', false],
    ['no provider', {}, false],
    ['no provider, the optional fields only', { providerDetail: 'x', threads: TWO }, false],
    ['a provider that is a number', { provider: 3 }, false],
    ['a provider that is a list of one string (it has a length)', { provider: ['blas'] }, false],
    ['a provider of 1001 characters', { provider: 'p'.repeat(1001) }, false],
    ['a description that is null', { provider: 'blas', providerDetail: null }, false],
    ['threads that are a number', { provider: 'blas', threads: 2 }, false],
    ['threads of 1001 characters', { provider: 'blas', threads: 't'.repeat(1001) }, false],
  ])('kernels: %s', (_what, kernels, ok) => {
    const dir = write();
    const path = join(dir, 'state.json');
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), kernels }));
    if (ok) expect(readCheckpoint(dir).kernels).toStrictEqual(kernels);
    else expect(() => readCheckpoint(dir)).toThrow(new ModelFileError(`${path}: ${MUST}`));
  });

  it('a kernels field that is not strings is a ModelFileError naming it', () => {
    const dir = write();
    const path = join(dir, 'state.json');
    const file = JSON.parse(readFileSync(path, 'utf8'));
    writeFileSync(path, JSON.stringify({ ...file, kernels: { provider: 3 } }));
    expect(() => readCheckpoint(dir)).toThrow(ModelFileError);
    expect(() => readCheckpoint(dir)).toThrow(/state\.json: kernels must give the provider/);
  });
});
