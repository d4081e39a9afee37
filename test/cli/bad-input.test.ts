import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { cli, FIXTURES, idxFile, TINY_MNIST, tinyMnistWith, withHeader } from '../helpers.js';

// Every user mistake: exit code 2, one line on stderr that names the file or
// flag and what was expected, no stack trace, and nothing written.

const TINY = TINY_MNIST;
const tmp = (p = 'backprop-bad-') => mkdtempSync(join(tmpdir(), p));

/** A copy of the fixture directory with one file replaced (in a subdirectory dirName, when given). */
const dirWith = (name: string, data: Buffer, dirName?: string) => tinyMnistWith(name, data, dirName ? join(tmp(), dirName) : undefined);

function file(name: string, data: Uint8Array | string): string {
  const p = join(tmp(), name);
  writeFileSync(p, data);
  return p;
}

const model = encodeSafetensors(Network.create({ sizes: [784, 8, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', new Rng(1)));
const sigmoidModel = encodeSafetensors(Network.create({ sizes: [784, 8, 10], activation: 'relu', outputActivation: 'sigmoid', cost: 'cross-entropy' }, 'he', new Rng(2)));
function modelWith(edit: (h: Record<string, any>) => void): string {
  return file('m.safetensors', Buffer.from(withHeader(model, edit)));
}
const labels = readFileSync(join(TINY, 'train-labels-idx1-ubyte'));
const csvRow = (label: string, n = 784) => `${label},${new Array(n).fill(0).join(',')}`;

const cases: [string, () => string[], RegExp][] = [
  ['IDX magic number', () => ['train', '--data', dirWith('train-labels-idx1-ubyte', Buffer.from('PK\x03\x04 zip'))], /train-labels-idx1-ubyte: not an IDX file \(magic number 0x504b0304/],
  ['IDX element type', () => ['train', '--data', dirWith('train-labels-idx1-ubyte', idxFile(0x07, [120], Buffer.alloc(120)))], /not an IDX file .*expected 0x0000TTNN/],
  ['IDX dimension count', () => ['train', '--data', dirWith('train-labels-idx1-ubyte', idxFile(0x08, [120, 1], Buffer.alloc(120)))], /expected 1 dimension \(count\), found 2/],
  [
    'IDX size against file length',
    () => ['train', '--data', dirWith('train-images-idx3-ubyte', readFileSync(join(TINY, 'train-images-idx3-ubyte')).subarray(0, 5000))],
    /truncated: header says 120x28x28 ubyte values \(94096 bytes\) but the file has 5000 bytes/,
  ],
  ['IDX trailing bytes', () => ['train', '--data', dirWith('train-labels-idx1-ubyte', Buffer.concat([labels, Buffer.alloc(3)]))], /3 unexpected bytes after the 120 ubyte values/],
  [
    'truncated gzip',
    () => ['train', '--data', dirWith('t10k-images-idx3-ubyte.gz', readFileSync(join(TINY, 't10k-images-idx3-ubyte.gz')).subarray(0, 3000))],
    /t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip data/,
  ],
  [
    'corrupt gzip',
    () => [
      'train',
      '--data',
      dirWith(
        't10k-labels-idx1-ubyte.gz',
        (() => {
          const g = gzipSync(idxFile(0x08, [60], Buffer.alloc(60)));
          g[g.length - 6] ^= 0xff;
          return g;
        })(),
      ),
    ],
    /corrupt or truncated gzip data/,
  ],
  [
    'image/label count mismatch',
    () => ['train', '--data', dirWith('train-labels-idx1-ubyte', idxFile(0x08, [119], labels.subarray(8, 127)))],
    /train-images-idx3-ubyte has 120 images but train-labels-idx1-ubyte has 119 labels/,
  ],
  [
    'labels outside the model classes',
    () => ['evaluate', '--model', file('m.safetensors', model), '--data', dirWith('t10k-labels-idx1-ubyte.gz', gzipSync(idxFile(0x08, [60], Buffer.alloc(60, 12))))],
    /has label 12 but --model .*m\.safetensors has only 10 outputs/,
  ],
  [
    'labels outside the class range of --layers',
    () => ['train', '--layers', '784,30,10', '--data', dirWith('train-labels-idx1-ubyte', idxFile(0x08, [120], Buffer.alloc(120, 12)))],
    /--layers ends with 10 outputs but the data has 13 classes/,
  ],
  [
    'images that do not fit the input layer',
    () => [
      'evaluate',
      '--model',
      file('m.safetensors', model),
      '--data',
      file('small_train.csv', [csvRow('1', 100), csvRow('2', 100), csvRow('1', 100), csvRow('0', 100), csvRow('1', 100)].join('\n')),
    ],
    /expects 784 inputs but small_train\.csv has 100 values per example/,
  ],
  [
    'CSV row of the wrong width',
    () => ['train', '--data', file('w_train.csv', `${csvRow('1')}\n${csvRow('2', 783)}\n`)],
    /w_train\.csv:2: expected 785 values \(a label and 784 features\) like the first row, found 784/,
  ],
  ['CSV non-number', () => ['train', '--data', file('n_train.csv', `1,0,0.5,abc\n2,0,0,0\n`)], /n_train\.csv:1: column 4 "abc" is not a number/],
  ['CSV label not a class index', () => ['train', '--data', file('l_train.csv', `1.5,0,0\n2,0,0\n`)], /l_train\.csv:1: label 1\.5 is not a class index/],
  [
    'safetensors header too large',
    () => [
      'evaluate',
      '--model',
      file(
        'h.safetensors',
        (() => {
          const b = Buffer.from(model);
          b.writeBigUInt64LE(1n << 40n);
          return b;
        })(),
      ),
    ],
    /h\.safetensors: header length 1099511627776 is larger than the 100000000-byte limit/,
  ],
  [
    'safetensors header not JSON',
    () => [
      'evaluate',
      '--model',
      file(
        'j.safetensors',
        (() => {
          const b = Buffer.from(model);
          b[9] = 0x7b;
          b[10] = 0x7b;
          return b;
        })(),
      ),
    ],
    /j\.safetensors: header is not valid JSON/,
  ],
  [
    'safetensors offsets outside the file',
    () => ['evaluate', '--model', modelWith((h) => (h.b2.data_offsets = [999_000, 999_040]))],
    /tensor b2 data_offsets \[999000, 999040\] do not hold 10 F32 values/,
  ],
  ['safetensors overlapping tensors', () => ['evaluate', '--model', modelWith((h) => (h.b1.data_offsets = [0, 32]))], /tensors W1 and b1 overlap/],
  ['safetensors dtype', () => ['evaluate', '--model', modelWith((h) => (h.W2.dtype = 'BF16'))], /tensor W2 has dtype BF16, expected F32 or F64/],
  [
    'safetensors shape against the metadata',
    () => ['evaluate', '--model', modelWith((h) => (h.__metadata__.sizes = '784,9,10'))],
    /tensor W1 has shape \[8,784\], expected \[9,784\] for sizes 784,9,10/,
  ],
  ['non-positive learning rate', () => ['train', '--lr', '0'], /--lr <eta>.*'0' is invalid\. expected a positive number/],
  ['non-positive batch size', () => ['train', '--batch-size', '-3'], /--batch-size <m>.*expected a positive integer/],
  ['negative epochs', () => ['train', '--epochs', '-1'], /--epochs <n>.*expected an integer from 0/], // 0 writes the initial weights
  ['unknown activation', () => ['train', '--activation', 'swish'], /--activation <name>.*expected one of sigmoid, relu, tanh, leaky-relu/],
  ['unknown cost', () => ['train', '--cost', 'hinge'], /--cost <name>.*expected one of quadratic, cross-entropy, log-likelihood/],
  ['unknown backend', () => ['train', '--backend', 'cuda'], /--backend <name>.*expected one of auto, blas, tensorflow, wasm, js/],
  ['--layers that do not match the data', () => ['train', '--layers', '100,10'], /--layers starts with 100 inputs but the data has 784 values per example/],
  ['--resume without a checkpoint', () => ['train', '--resume', tmp()], /--resume .*: no checkpoint there \(state\.json is missing\)/],
  ['--resume with options of its own', () => ['train', '--resume', tmp(), '--lr', '1'], /--resume takes the run's options from the checkpoint: drop --lr/],
  ['--data pointing at a file', () => ['train', '--data', join(FIXTURES, '..', '..', 'test', 'fixtures', 'digit-7.png')], /--data .*digit-7\.png: a file, not a directory/],
  [
    '--save into a missing directory (checked before training)',
    () => ['train', '--save', '/nonexistent-backprop/m.safetensors'],
    /--save \/nonexistent-backprop\/m\.safetensors: the directory \/nonexistent-backprop does not exist \(nothing creates it: make it first, e\.g\. with mkdir -p\)$/m,
  ],
  ['--save naming a directory', () => ['train', '--save', tmp()], /--save .*: is a directory, expected a file name/],
  ['--checkpoint under a missing directory', () => ['train', '--checkpoint', '/nonexistent-backprop/a/ck'], /--checkpoint .*: the directory \/nonexistent-backprop\/a does not exist/],
  [
    '--monitor-metric that nothing watches (hunt S02: accepted and ignored)',
    () => ['train', '--monitor-metric', 'val-loss', '--validation', '100'],
    /^backprop: error: --monitor-metric val-loss: nothing here watches it; it chooses the metric of --early-stop, --save-best and --schedule plateau$/m,
  ],
  ['--report into a missing directory', () => ['compare', '--report', '/nonexistent-backprop/r.html'], /--report .*: the directory \/nonexistent-backprop does not exist/],
  [
    'export --out under a missing directory',
    () => ['export', '--model', file('m.safetensors', model), '--out', '/nonexistent-backprop/web'],
    /--out \/nonexistent-backprop\/web: the directory \/nonexistent-backprop does not exist/,
  ],
  [
    'train on a one-row CSV: its one row is the test set, nothing is left to train on',
    () => ['train', '--data', file('one.csv', csvRow('1') + '\n')],
    /--data|one\.csv: 1 row, kept for testing \(a CSV without a test file beside it holds out its last 20%, at least one row\): no training examples; give more rows/,
  ],
  [
    'evaluate --split train of a one-row CSV: no training rows to score',
    () => ['evaluate', '--model', file('m.safetensors', model), '--data', file('one.csv', csvRow('1') + '\n'), '--split', 'train'],
    /one\.csv: 1 row, kept for testing .*no training examples to score \(use --split test\)/,
  ],
  [
    'an ensemble of a softmax model and a sigmoid model (a mean of probabilities and sigmoids is no vote)',
    () => ['evaluate', '--model', file('a.safetensors', model), '--model', file('s.safetensors', sigmoidModel)],
    /--model .*s\.safetensors has a sigmoid output and the cross-entropy cost but --model .*a\.safetensors has a softmax output and the log-likelihood cost: an ensemble's mean output and mean cost need the same output and cost in every model/,
  ],
  [
    'an ensemble naming one model twice',
    () => ((f) => ['evaluate', '--model', f, '--model', f])(file('a.safetensors', model)),
    /--model .*a\.safetensors is given twice: an ensemble would count that model twice; give each model once/,
  ],
  [
    'an ensemble of a model and its copy (the same weights)',
    () => ['evaluate', '--model', file('a.safetensors', model), '--model', file('copy.safetensors', model)],
    /--model .*copy\.safetensors holds the same weights as --model .*a\.safetensors: an ensemble would count that model twice/,
  ],
  ['unknown dataset name', () => ['train', '--data', 'cifar'], /--data cifar: unknown dataset \(known: embedded, fashion-mnist, kmnist, mnist; or give a directory\)/],
];

describe(`${cases.length} bad inputs: exit code 2, a one-line message, no stack trace`, () => {
  for (const [what, args, msg] of cases)
    it(what, () => {
      const r = cli(args());
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/\bat .*\.(js|ts):\d+/);
      expect(r.stdout).toBe('');
    });
});
