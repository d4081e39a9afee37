import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BoundedReadError, readFileBounded } from '../../src/base/read.js';
import { readCacheObject } from '../../src/base/cache.js';
import { textTree } from '../../src/autodiff/render.js';
import { parseExpression } from '../../src/autodiff/expression.js';
import { backward, topologicalOrder } from '../../src/autodiff/node.js';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { BIN, cli, ROOT, type Run } from '../helpers.js';

// Class 3 of issue 26: no input, environment or signal gives "internal error"
// or a stack trace; each gets one line and the documented exit code.

const dir = () => mkdtempSync(join(tmpdir(), 'backprop-sec-'));
const net = () => Network.create({ sizes: [784, 8, 10], activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', new Rng(1));
const modelWith = (meta: Record<string, string>) => {
  const p = join(dir(), 'm.safetensors');
  writeFileSync(p, encodeSafetensors(net(), meta));
  return p;
};
/** A model file whose header says what we like (no tensors needed for errors found before them). */
const header = (meta: Record<string, unknown>) => {
  const j = JSON.stringify({ __metadata__: { format: 'backprop', version: '1', activation: 'relu', output_activation: 'softmax', cost: 'log-likelihood', ...meta } });
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(Buffer.byteLength(j)));
  const p = join(dir(), 'h.safetensors');
  writeFileSync(p, Buffer.concat([n, Buffer.from(j)]));
  return p;
};
/** Runs a shell line (for pipes and ulimit) with the CLI as $B. */
const sh = (line: string): Run => {
  const r = spawnSync('sh', ['-c', line], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, B: `${process.execPath} ${BIN}`, NO_COLOR: '1' }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
const clean = (r: Run) => {
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stderr).not.toMatch(/\bat .*\.(js|ts):\d+|node:internal|Node\.js v\d/);
};

interface Case {
  what: string;
  run: () => Run;
  code: number;
  check?: (r: Run) => void;
  /** stderr goes to a full disk: its one error line cannot be there. */
  stderrLost?: true;
}

const cases: Case[] = [
  {
    what: 'summary --json of a model whose options metadata is not JSON: the rest is shown, with a note',
    run: () => cli(['summary', '--json', '--model', modelWith({ options: '{"lr":' })]),
    code: 0,
    check: (r) => expect(JSON.parse(r.stdout).trainedProblem).toMatch(/not valid JSON/),
  },
  {
    what: 'summary --json of a model whose options metadata is null',
    run: () => cli(['summary', '--json', '--model', modelWith({ options: 'null' })]),
    code: 0,
    check: (r) => expect(JSON.parse(r.stdout).trainedProblem).toMatch(/is null/),
  },
  {
    what: 'summary --json of a model whose options metadata is an array',
    run: () => cli(['summary', '--json', '--model', modelWith({ options: '[1,2]' })]),
    code: 0,
    check: (r) => expect(JSON.parse(r.stdout).trained).toBeUndefined(),
  },
  {
    what: 'summary of a model whose test accuracy metadata is not a number shows none',
    run: () => cli(['summary', '--model', modelWith({ data: 'embedded', test_accuracy: 'lots' })]),
    code: 0,
    check: (r) => expect(r.stdout).not.toMatch(/NaN/),
  },
  {
    what: 'a model declaring a layer of 1e300 units is refused before anything is sized from it',
    run: () => cli(['summary', '--model', header({ sizes: '1e300,2' })]),
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/more units than a layer can have/),
  },
  {
    what: 'stdout on a full disk: one line naming stdout, exit 1',
    run: () => sh('$B info > /dev/full'),
    code: 1,
    check: (r) => expect(r.stderr).toMatch(/^backprop: error: cannot write to stdout \(ENOSPC: no space left on the device\)/),
  },
  {
    what: 'stderr on a full disk and a usage error: the error line is repeated on stdout, exit 2 (it said only that stderr failed)',
    run: () => sh('$B train --lr 0 2>/dev/full'),
    code: 2,
    stderrLost: true,
    check: (r) =>
      expect(r.stdout).toMatch(/^backprop: error: cannot write to stderr \(ENOSPC: no space left on the device\): the output is incomplete; it said: option '--lr <eta>' argument '0' is invalid/),
  },
  {
    what: 'stderr on a full disk with --json: stdout stays the JSON result alone, exit 1 (the failure was written into it)',
    run: () => sh('$B summary --json --model ' + modelWith({}) + ' 2>/dev/full'),
    code: 1,
    stderrLost: true,
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ command: 'summary' }),
  },
  {
    what: 'summary --json to a full disk: exit 1, not a stack',
    run: () => sh(`$B summary --json --model ${modelWith({})} > /dev/full`),
    code: 1,
  },
  {
    what: 'a reader that closes the pipe early (| head -c 1): exit 0, silent',
    run: () => sh(`$B summary --json --model ${modelWith({})} | head -c 1 >/dev/null`),
    code: 0,
    check: (r) => expect(r.stderr).not.toMatch(/error/),
  },
  {
    what: 'train --save F | head -1: the pipe closes at the first line, the model is still written',
    run: () => {
      const f = join(dir(), 'm.safetensors');
      const r = sh(`$B train --limit 300 --test-limit 50 --epochs 3 --hidden 8 --save ${f} | head -1 > /dev/null`);
      expect(existsSync(f)).toBe(true);
      return r;
    },
    code: 0,
  },
  {
    what: 'ulimit -n 64: one line saying to raise the limit, exit 1',
    run: () => sh('ulimit -n 64 && $B info'),
    code: 1,
    check: (r) => expect(r.stderr).toMatch(/^backprop: error: too many open files while starting \(EMFILE\).*ulimit -n/),
  },
  {
    what: 'grad --graph of a 60,000-term sum prints the tree (indentation capped, not 5.4 billion characters)',
    run: () => sh(`$B grad "${Array.from({ length: 60_000 }, () => 'x').join('+')}" --at x=1 --graph | grep "^\\[depth 59999\\]" | head -1`),
    code: 0,
    check: (r) => expect(r.stdout).toMatch(/^\[depth 59999\] .*#1 x \(variable\)/m),
  },
  {
    what: '--model naming a FIFO is refused at once (opened without blocking)',
    run: () => {
      const f = join(dir(), 'fifo.safetensors');
      execFileSync('mkfifo', [f]);
      return cli(['summary', '--model', f], { timeout: 20_000 });
    },
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/not a regular file \(a FIFO\)/),
  },
  {
    what: '--resume of a checkpoint whose state.json is a FIFO is refused at once, judged on the descriptor it reads (no check-then-open race)',
    run: () => {
      const ck = join(dir(), 'ck');
      execFileSync('mkdir', [ck]);
      execFileSync('mkfifo', [join(ck, 'state.json')]);
      return cli(['train', '--resume', ck], { timeout: 20_000 });
    },
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/state\.json: cannot read \(not a regular file \(a FIFO\)\)/),
  },
  {
    what: '--resume of a checkpoint whose model file is /dev/zero is refused, not read without end',
    run: () => {
      const ck = join(dir(), 'ck-zero');
      const r = cli(['train', '--limit', '200', '--test-limit', '50', '--epochs', '1', '--hidden', '4', '--checkpoint', ck]);
      expect(r.code, r.stderr).toBe(0);
      const state = JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8')) as { model: string };
      rmSync(join(ck, state.model));
      symlinkSync('/dev/zero', join(ck, state.model));
      return cli(['train', '--resume', ck, '--epochs', '2'], { timeout: 20_000 });
    },
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/cannot read \(not a regular file \(a character device\)\)/),
  },
  {
    what: 'BACKPROP_PARALLEL_WORK mistyped: one line naming it, exit 2, whatever the provider (auto fell back to the js loops, 40x slower, exit 0)',
    run: () => cli(['train', '--limit', '100', '--test-limit', '20', '--epochs', '1', '--hidden', '4'], { env: { BACKPROP_PARALLEL_WORK: 'garbage' } }),
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/^backprop: error: BACKPROP_PARALLEL_WORK=garbage: expected a whole number of multiply-adds/),
  },
  {
    what: 'OPENBLAS_CORETYPE holding an escape sequence: info shows it neutralised',
    run: () => cli(['info'], { env: { OPENBLAS_CORETYPE: '\u001b[2Jbogus' } }),
    code: 0,
    check: (r) => expect(r.stdout + r.stderr).not.toMatch(/\u001b/),
  },
  {
    what: 'the OpenBLAS core cache as a FIFO or /dev/zero: read as no cache, without blocking or filling memory (a FIFO hung even SIGTERM)',
    run: () => {
      const cache = join(dir(), 'cache');
      execFileSync('mkdir', ['-p', join(cache, 'backprop'), join(cache + '0', 'backprop')]);
      execFileSync('mkfifo', [join(cache, 'backprop', 'openblas-core.json')]);
      symlinkSync('/dev/zero', join(cache + '0', 'backprop', 'openblas-core.json'));
      const zero = cli(['info'], { env: { XDG_CACHE_HOME: cache + '0' }, timeout: 60_000 });
      expect(zero.code, zero.stderr).toBe(0);
      return cli(['train', '--limit', '100', '--test-limit', '20', '--epochs', '1', '--hidden', '4'], { env: { XDG_CACHE_HOME: cache }, timeout: 60_000 });
    },
    code: 0,
  },
  {
    what: '--data naming a directory of CSV name (a directory called x.csv) is refused',
    run: () => {
      const d = join(dir(), 'x.csv');
      execFileSync('mkdir', [d]);
      return cli(['evaluate', '--model', modelWith({}), '--data', d]);
    },
    code: 2,
  },
  {
    what: 'predict :0 (no dataset before the index) names the input, not a --data flag that was never given',
    run: () => cli(['predict', '--model', modelWith({}), ':0']),
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/^backprop: error: :0: no such file, and not SPEC:index/),
  },
  {
    what: 'XDG_CACHE_HOME under /proc (a cache directory mkdir cannot make): info probes once and says it could not cache, instead of looping in mkdir for ever',
    run: () => cli(['info', '--json'], { env: { XDG_CACHE_HOME: '/proc/nope-backprop' } }),
    code: 0,
    check: (r) => {
      const blas = (JSON.parse(r.stdout).providers as { name: string; core?: { cache?: { hit: boolean; unwritable?: string } } }[]).find((p) => p.name === 'blas');
      const cache = blas?.core?.cache;
      if (cache) expect(cache).toMatchObject({ hit: false, unwritable: 'cannot create the directory /proc/nope-backprop (ENOENT: no such file or directory)' });
    },
  },
  {
    what: 'info in words under an unwritable cache does not claim "checked now and cached"',
    run: () => cli(['info'], { env: { XDG_CACHE_HOME: '/proc/nope-backprop' } }),
    code: 0,
    check: (r) => {
      expect(r.stdout).not.toMatch(/cached in \/proc/);
      if (/OpenBLAS core: .* checked against/.test(r.stdout))
        expect(r.stdout).toMatch(/checked now; not cached: \/proc\/nope-backprop\/backprop\/openblas-core\.json: cannot create the directory \/proc\/nope-backprop \(ENOENT/);
    },
  },
  {
    what: 'datasets fetch into a cache under /proc: one line naming the directory, before any download (it hung in mkdir)',
    run: () => cli(['datasets', 'fetch', 'kmnist', '--mirror', 'http://127.0.0.1:9/'], { env: { XDG_CACHE_HOME: '/proc/nope-backprop' } }),
    code: 2,
    check: (r) => expect(r.stderr).toMatch(/^backprop: error: fetch kmnist: cannot create the directory \/proc\/nope-backprop \(ENOENT/),
  },
  {
    what: 'evaluate --data of a one-row CSV scores that row (it was refused: "1 rows is too few to hold out a test set")',
    run: () => {
      const d = dir();
      const row = (l: number) => [l, ...Array.from({ length: 784 }, (_, i) => (i % 7) / 7)].join(',');
      writeFileSync(join(d, 'one.csv'), row(3) + '\n');
      return cli(['evaluate', '--json', '--model', modelWith({}), '--data', join(d, 'one.csv')]);
    },
    code: 0,
    check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ count: 1, data: 'one.csv', split: 'test' }),
  },
  {
    what: 'predict one.csv:0 of a one-row CSV classifies the row',
    run: () => {
      const d = dir();
      writeFileSync(join(d, 'one.csv'), [3, ...Array.from({ length: 784 }, () => 0.5)].join(',') + '\n');
      return cli(['predict', '--json', '--model', modelWith({}), join(d, 'one.csv') + ':0']);
    },
    code: 0,
    check: (r) => expect(JSON.parse(r.stdout).predictions[0]).toMatchObject({ trueLabel: 3, source: 'one.csv' }),
  },
];

describe(`${cases.length} hostile inputs and environments: one line, the documented exit code`, () => {
  for (const c of cases)
    it(
      c.what,
      () => {
        const r = c.run();
        expect(r.code, r.stderr).toBe(c.code);
        clean(r);
        if (c.code !== 0 && !c.stderrLost)
          expect(
            r.stderr
              .trim()
              .split('\n')
              .filter((l) => l.startsWith('backprop: error:')),
          ).toHaveLength(1);
        c.check?.(r);
      },
      120_000,
    );
});

describe('the shared mechanisms for the other modules', () => {
  const d = dir();
  const file = (name: string, text: string) => {
    const p = join(d, name);
    writeFileSync(p, text);
    return p;
  };
  execFileSync('mkfifo', [join(d, 'fifo')]);
  const reads: [string, () => unknown, RegExp | Buffer][] = [
    ['readFileBounded reads a file whole', () => readFileBounded(file('a', 'hello'), 10), Buffer.from('hello')],
    ['readFileBounded refuses /dev/zero (read without end)', () => readFileBounded('/dev/zero', 1 << 20), /not a regular file \(a character device\)/],
    ['readFileBounded refuses a FIFO without blocking on the open', () => readFileBounded(join(d, 'fifo'), 10), /not a regular file \(a FIFO\)/],
    ['readFileBounded refuses a file over its limit', () => readFileBounded(file('big', 'x'.repeat(100)), 99), /100 bytes is more than the 99-byte limit/],
    [
      'readFileBounded reads a /proc file that says it is empty',
      () =>
        readFileBounded('/proc/self/status', 1 << 20)
          .toString()
          .slice(0, 5),
      /^Name:/,
    ],
  ];
  for (const [what, run, expected] of reads)
    it(what, () => {
      if (Buffer.isBuffer(expected)) expect(run()).toEqual(expected);
      else if (typeof expected === 'object' && expected instanceof RegExp && /^readFileBounded reads a \/proc/.test(what)) expect(String(run())).toMatch(expected);
      else {
        expect(run).toThrow(BoundedReadError);
        expect(run).toThrow(expected);
      }
    });
  const isNum = (v: unknown): v is number => typeof v === 'number';
  const caches: [string, string, Record<string, number>][] = [
    ['a cache holding null is empty', 'null', {}],
    ['a cache holding an array is empty', '[1,2]', {}],
    ['a cache that is not JSON is empty', '{"a":', {}],
    ['entries of the wrong shape are left out, __proto__ too', '{"a":1,"b":null,"c":"x","__proto__":2}', { a: 1 }],
  ];
  for (const [what, text, expected] of caches) it(`readCacheObject: ${what}`, () => expect(readCacheObject(file(`c${what.length}`, text), isNum)).toEqual(expected));

  it('textTree of a 60,000-term sum: bounded indentation, every node', async () => {
    const e = await parseExpression(Array.from({ length: 60_000 }, () => 'x').join('+'), { x: 1 });
    const order = topologicalOrder(e.root);
    backward(e.root, order);
    const lines = textTree(e.root, e.text).split('\n');
    expect(lines).toHaveLength(2 * 60_000 - 1);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(400);
  });
});
