import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { Network, type Architecture } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { cli } from '../helpers.js';

// Mistakes a tester found by hand, each a class: a model used on data with other
// classes, a model file describing a pairing train refuses, an image whose data
// is short, a multi-line parser message, stdout that must carry DOT alone, and
// option values that are empty strings. Each: exit 2, one line, nothing written.

const dir = mkdtempSync(join(tmpdir(), 'backprop-found-'));
const file = (name: string, data: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const model = (arch: Architecture, meta: Record<string, string> = {}) => encodeSafetensors(Network.create(arch, 'xavier', new Rng(1)), meta);
const digits: Architecture = { sizes: [784, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' };

/** A 28×28 greyscale PNG whose image data holds only `bytes` of its 28·29 bytes. */
function shortPng(bytes: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(28, 0);
  ihdr.writeUInt32BE(28, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(bytes))), chunk('IEND', Buffer.alloc(0))]);
}

describe('found by hand: one line, exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'a clothing model on a digit',
      ['predict', '--model', file('fashion.safetensors', model(digits, { data: 'fashion-mnist' })), 'embedded:0', '--no-show'],
      /embedded:0: the model was trained on fashion-mnist, whose classes \(T-shirt\/top, .*\) are not embedded's \(0, 1, 2/,
    ],
    [
      'a model with a hidden softmax',
      ['evaluate', '--model', file('hidden-softmax.safetensors', model({ ...digits, sizes: [784, 8, 10], activation: 'softmax' }))],
      /hidden-softmax.safetensors: .*softmax .* output activation/,
    ],
    [
      'a model pairing a sigmoid output with log-likelihood',
      ['evaluate', '--model', file('sigmoid-ll.safetensors', model({ ...digits, outputActivation: 'sigmoid' }))],
      /sigmoid-ll.safetensors: .*log-likelihood needs --output-activation softmax/,
    ],
    [
      'a PNG whose image data is short',
      ['predict', '--model', file('ok.safetensors', model(digits)), file('short.png', shortPng(10)), '--no-show'],
      /short.png: corrupt PNG \(its image data holds 10 of the 812 bytes a 28x28 image needs\)/,
    ],
    ['a parser message that spans lines', ['grad', 'x; x', '--at', 'x=1'], /^backprop: error: "x; x" \(BlockNode\) is not supported/],
    ['--save ""', ['train', '--save', '', '--limit', '100', '--epochs', '1'], /--save: expected a value, got an empty string/],
    ['--save=', ['train', '--save=', '--limit', '100', '--epochs', '1'], /--save: expected a value, got an empty string/],
    ['export --out ""', ['export', '--model', file('ok2.safetensors', model(digits)), '--format', 'tfjs', '--out', ''], /--out: expected a value, got an empty string/],
    ['compare --report ""', ['compare', '--report', '', '--epochs', '1'], /--report: expected a value, got an empty string/],
  ];
  for (const [what, args, message] of cases)
    it(what, () => {
      const r = cli(args, { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    });

  it('a PNG with all its image data still reads', () => {
    const r = cli(['predict', '--model', join(dir, 'ok.safetensors'), file('full.png', shortPng(28 * 29)), '--no-show', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).predictions).toHaveLength(1);
  });
});

describe('grad --graph dot', () => {
  it('stdout carries the DOT alone, for `| dot -Tsvg`; the values go to stderr', () => {
    const r = cli(['grad', 'log(exp(a) + exp(b))', '--at', 'a=1,b=2', '--graph', 'dot']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('digraph backprop {')).toBe(true);
    expect(r.stdout.trimEnd().endsWith('}')).toBe(true);
    expect(r.stderr).toMatch(/∂f\/∂a\s+0\.2689414213/); // e/(e + e²) = 1/(1 + e)
  });
});
