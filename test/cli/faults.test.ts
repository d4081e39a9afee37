import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { processIdentity } from '../../src/io/checkpoint.js';
import { parseExpression } from '../../src/autodiff/expression.js';
import { backward, topologicalOrder } from '../../src/autodiff/node.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { BIN, cli, FIXTURES, idxFile, mountTmpfs, needsTmpfs, ROOT, tinyCatalogEntry, type Run } from '../helpers.js';

// Off the happy path: what the operating system, signals, sizes and values can
// do to a run. Every case: its exit code, exactly one error line naming the
// file or flag, no stack trace; for writes and checkpoints, that the weights
// or the last checkpoint survive and load.

const TINY = join(FIXTURES, 'tiny-mnist');
const tmp = (p = 'backprop-faults-') => mkdtempSync(join(tmpdir(), p));
/** A quick run: 300 embedded digits, one small hidden layer. */
const QUICK = ['train', '--limit', '300', '--test-limit', '100', '--hidden', '8'];

function oneError(r: Run, code: number, msg: RegExp): string {
  expect(r.code, r.stderr).toBe(code);
  const errors = r.stderr.split('\n').filter((l) => /^backprop( \w+)?: (internal )?error/.test(l));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(msg);
  expect(errors[0]).not.toMatch(/internal error/);
  expect(r.stderr).not.toMatch(/\bat .*\.(js|ts):\d+/);
  return errors[0];
}

// ---- file systems that say no: small tmpfs mounts (we run as root where permitted) ----
const mounts: string[] = [];
const FULL = mountTmpfs('size=64k', mounts); // a model of 784-8-10 is 25 KB, of 784-100-10 318 KB: "full" for it
const READONLY = mountTmpfs('size=64k,ro', mounts);
const REMOUNT = mountTmpfs('size=4m', mounts);
const needsMounts = (ctx: TestContext) => needsTmpfs(ctx, FULL, READONLY, REMOUNT);
afterAll(() => {
  for (const m of mounts) spawnSync('umount', [m]);
});

// ---- data files ----
const f32 = (xs: number[]) => {
  const b = Buffer.alloc(4 * xs.length);
  xs.forEach((x, i) => b.writeFloatBE(x, 4 * i));
  return b;
};
const i32 = (xs: number[]) => {
  const b = Buffer.alloc(4 * xs.length);
  xs.forEach((x, i) => b.writeInt32BE(x, 4 * i));
  return b;
};
const pixels = (n: number) => Array.from({ length: n }, (_, i) => (i * 37) % 256);
/** An IDX directory of 2×2 images: 8 training, 4 test, labels 0/1, with some files replaced. */
function synth(replace: Partial<Record<'trainImages' | 'trainLabels' | 'testImages' | 'testLabels', Buffer>>): string {
  const d = tmp('backprop-synth-');
  const files = {
    trainImages: idxFile(0x08, [8, 2, 2], pixels(32)),
    trainLabels: idxFile(0x08, [8], [0, 1, 0, 1, 0, 1, 0, 1]),
    testImages: idxFile(0x08, [4, 2, 2], pixels(16)),
    testLabels: idxFile(0x08, [4], [0, 1, 1, 0]),
    ...replace,
  };
  const names = { trainImages: 'train-images-idx3-ubyte', trainLabels: 'train-labels-idx1-ubyte', testImages: 't10k-images-idx3-ubyte', testLabels: 't10k-labels-idx1-ubyte' };
  for (const [k, b] of Object.entries(files)) {
    const gz = b[0] === 0x1f && b[1] === 0x8b;
    writeFileSync(join(d, names[k as keyof typeof names] + (gz ? '.gz' : '')), b);
  }
  return d;
}
function file(name: string, data: Uint8Array | string): string {
  const p = join(tmp(), name);
  writeFileSync(p, data);
  return p;
}
/** d/name as a symbolic link to target (relative to d); returns its path. */
function link(d: string, target: string, name: string): string {
  symlinkSync(target, join(d, name));
  return join(d, name);
}
/** d/name as a hard link of d/target. */
function hard(d: string, target: string, name: string): string {
  linkSync(join(d, target), join(d, name));
  return join(d, name);
}
/** d/name, a new directory. */
function dir(d: string, name: string): string {
  mkdirSync(join(d, name));
  return join(d, name);
}
const net = (sizes: number[]) => Network.create({ sizes, activation: 'relu', outputActivation: 'softmax', cost: 'log-likelihood' }, 'he', new Rng(1));
const model = encodeSafetensors(net([784, 8, 10]));
/** The model with one value of its data section (float32 number `index`) replaced. */
function modelWithValue(index: number, v: number): string {
  const b = Buffer.from(model);
  const start = 8 + Number(b.readBigUInt64LE(0));
  b.writeFloatLE(v, start + 4 * index);
  return file('m.safetensors', b);
}
function png(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR'), ihdr, Buffer.alloc(4)]);
}

/** A catalogue with one dataset "tiny" (the fixture files), for the named-dataset cases. */
function tinyCatalogue(): Record<string, string> {
  const cat = tmp('backprop-cat-');
  const data = tmp('backprop-data-');
  mkdirSync(join(data, 'tiny'));
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
  for (const n of names) copyFileSync(join(TINY, n), join(data, 'tiny', n));
  const md5 = (n: string) =>
    createHash('md5')
      .update(readFileSync(join(TINY, n)))
      .digest('hex');
  const entry = tinyCatalogEntry(names.map((n) => ({ name: n, md5: md5(n) })));
  writeFileSync(join(cat, 'tiny.json'), JSON.stringify(entry));
  return { BACKPROP_CATALOG: cat, BACKPROP_DATA: data, XDG_CACHE_HOME: tmp('backprop-cache-') };
}

// ---- a checkpoint to damage: 2 epochs of QUICK ----
let base = '';
beforeAll(() => {
  base = join(tmp(), 'ck');
  const r = cli([...QUICK, '--epochs', '2', '--checkpoint', base]);
  expect(r.code, r.stderr).toBe(0);
});
/** A copy of the base checkpoint with state.json edited (and the files of its generation). */
function checkpointWith(edit: (s: Record<string, any>, dir: string) => void): string {
  const d = join(tmp(), 'ck');
  cpSync(base, d, { recursive: true });
  const s = JSON.parse(readFileSync(join(d, 'state.json'), 'utf8'));
  edit(s, d);
  writeFileSync(join(d, 'state.json'), JSON.stringify(s));
  return d;
}

interface Case {
  what: string;
  /** The arguments (and env), built when the case runs. */
  run: () => { args: string[]; env?: Record<string, string>; check?: (r: Run) => void };
  code: number;
  msg: RegExp;
  tmpfs?: boolean;
}

const cases: Case[] = [
  // 1. Writing results when the OS says no
  {
    what: '--save /dev/null: a device is not replaced',
    code: 2,
    msg: /--save \/dev\/null: exists and is a character device, not a regular file/,
    run: () => ({ args: [...QUICK, '--save', '/dev/null'], check: () => expect(statSync('/dev/null').isCharacterDevice()).toBe(true) }),
  },
  {
    what: '--save naming a FIFO',
    code: 2,
    msg: /--save .*fifo: exists and is a FIFO/,
    run: () => {
      const p = join(tmp(), 'fifo');
      execFileSync('mkfifo', [p]);
      return { args: [...QUICK, '--save', p] };
    },
  },
  { what: '--save with a trailing slash', code: 2, msg: /--save .*out\/: expected a file name, not a directory path/, run: () => ({ args: [...QUICK, '--save', join(tmp(), 'out/')] }) },
  {
    what: '--save under a parent that is a file',
    code: 2,
    msg: /--save .*plain\/m\.safetensors: .*plain is not a directory/,
    run: () => ({ args: [...QUICK, '--save', join(file('plain', 'x'), 'm.safetensors')] }),
  },
  {
    what: '--save through a symbolic link to /dev/null',
    code: 2,
    msg: /--save .*lnk: exists and is a character device/,
    run: () => {
      const p = join(tmp(), 'lnk');
      symlinkSync('/dev/null', p);
      return { args: [...QUICK, '--save', p] };
    },
  },
  {
    what: '--save with a name too long for the file system',
    code: 2,
    msg: /--save a{300}: the file name is 300 bytes, more than the 255 a file system allows \(ENAMETOOLONG\)/,
    run: () => ({ args: [...QUICK, '--save', 'a'.repeat(300)] }),
  },
  {
    what: '--save naming the checkpoint directory',
    code: 2,
    msg: /--save .*ck: that is the checkpoint directory; give the model a file name of its own/,
    run: () => {
      const p = join(tmp(), 'ck');
      return { args: [...QUICK, '--save', p, '--checkpoint', p] };
    },
  },
  // Two outputs that are one file, or an output in the directory the run manages: refused before any work,
  // whatever path leads there (a symbolic link, a hard link, a linked parent), in every command (src/cli/outputs.ts).
  ...(
    [
      [
        'train --report through a symbolic link to --save',
        /--report .*q3link: that is --save .*q3, another output of the run/,
        (d) => [...QUICK, '--save', join(d, 'q3'), '--report', link(d, 'q3', 'q3link')],
      ],
      ['train --csv a hard link of --save', /--csv .*hard: that is --save .*q3, another output/, (d) => [...QUICK, '--save', join(d, 'q3'), '--csv', hard(d, 'q3', 'hard')]],
      [
        'train --log under a linked parent, as --csv',
        /--csv .*via\/r\.log: that is --log .*r\.log, another output/,
        (d) => [...QUICK, '--log', join(d, 'r.log'), '--csv', join(link(d, '.', 'via'), 'r.log')],
      ],
      ['train --log naming --report', /--report .*same: that is --log .*same, another output/, (d) => [...QUICK, '--log', join(d, 'same'), '--report', join(d, 'same')]],
      [
        'learners --report and --filters the same file',
        /--filters .*same\.w: that is --report .*same\.w, another output/,
        (d) => ['learners', '--learners', 'rbm', '--rbm-hidden', '10', '--rbm-epochs', '1', '--limit', '300', '--test-limit', '100', '--report', join(d, 'same.w'), '--filters', join(d, 'same.w')],
      ],
      [
        'learners --filters through a symbolic link to --report',
        /--filters .*lnk: that is --report .*r\.html, another output/,
        (d) => ['learners', '--learners', 'rbm', '--rbm-hidden', '10', '--rbm-epochs', '1', '--limit', '300', '--report', join(d, 'r.html'), '--filters', link(d, 'r.html', 'lnk')],
      ],
      [
        'train --save state.json inside --checkpoint',
        /--save .*ckx\/state\.json: that is inside the checkpoint directory .*ckx \(--checkpoint\)/,
        (d) => [...QUICK, '--epochs', '2', '--checkpoint', dir(d, 'ckx'), '--save', join(d, 'ckx', 'state.json')],
      ],
      [
        'train --log order-1.bin inside a new --checkpoint',
        /--log .*ckw\/order-1\.bin: that is inside the checkpoint directory/,
        (d) => [...QUICK, '--checkpoint', join(d, 'ckw'), '--log', join(d, 'ckw', 'order-1.bin')],
      ],
      [
        'train --report inside --checkpoint through a linked directory',
        /--report .*alias\/model-1\.safetensors: that is inside the checkpoint directory .*ckw/,
        (d) => [...QUICK, '--checkpoint', dir(d, 'ckw'), '--report', join(link(d, 'ckw', 'alias'), 'model-1.safetensors')],
      ],
      [
        'train --report naming a --save-every file',
        /--report .*m\.e2\.safetensors: that is --save-every .*m\.e2\.safetensors, another output/,
        (d) => [...QUICK, '--epochs', '2', '--save', join(d, 'm.safetensors'), '--save-every', '1', '--report', join(d, 'm.e2.safetensors')],
      ],
      [
        'train --csv naming the checkpoint directory',
        /--csv .*ck: that is the checkpoint directory; give it a file name of its own/,
        (d) => [...QUICK, '--checkpoint', join(d, 'ck'), '--csv', join(d, 'ck')],
      ],
    ] as [string, RegExp, (d: string) => string[]][]
  ).map(([what, msg, args]): Case => ({
    what,
    code: 2,
    msg,
    run: () => {
      const d = tmp();
      writeFileSync(join(d, 'q3'), 'the model');
      const check = () => {
        expect(readFileSync(join(d, 'q3'), 'utf8')).toBe('the model'); // nothing written: not through a link either
        expect(readdirSync(d).filter((f) => !['q3', 'q3link', 'hard', 'via', 'ckx', 'ckw', 'alias', 'lnk'].includes(f))).toEqual([]);
      };
      return { args: args(d), check };
    },
  })),
  {
    what: 'outputs whose names start like the checkpoint directory are outside it: written',
    code: 0,
    msg: /^$/,
    run: () => {
      const d = tmp();
      const args = [...QUICK, '--epochs', '1', '--checkpoint', join(d, 'ck'), '--save', join(d, 'ck.safetensors'), '--report', join(d, 'ck2')];
      return { args, check: () => expect(readdirSync(d).sort()).toEqual(['ck', 'ck.safetensors', 'ck2']) };
    },
  },
  {
    what: '--checkpoint naming a regular file',
    code: 2,
    msg: /--checkpoint .*plain: exists and is a file, expected a directory/,
    run: () => ({ args: [...QUICK, '--checkpoint', file('plain', 'x')] }),
  },
  {
    what: '--checkpoint naming a device',
    code: 2,
    msg: /--checkpoint \/dev\/null: exists and is a character device, expected a directory/,
    run: () => ({ args: [...QUICK, '--checkpoint', '/dev/null'] }),
  },
  { what: 'compare --report /dev/null', code: 2, msg: /--report \/dev\/null: exists and is a character device/, run: () => ({ args: ['compare', '--report', '/dev/null'] }) },
  { what: 'compare --report with a trailing slash', code: 2, msg: /--report .*r\/: expected a file name/, run: () => ({ args: ['compare', '--report', join(tmp(), 'r/')] }) },
  {
    what: 'export --out naming a file',
    code: 2,
    msg: /--out .*m\.safetensors: exists and is a file, expected a directory/,
    run: () => {
      const m = file('m.safetensors', model);
      return { args: ['export', '--model', m, '--out', m] };
    },
  },
  {
    what: 'export --out whose model.json is a directory',
    code: 2,
    msg: /--out .*web\/model\.json: is a directory, expected a file name/,
    run: () => {
      const d = join(tmp(), 'web');
      mkdirSync(join(d, 'model.json'), { recursive: true });
      return { args: ['export', '--model', file('m.safetensors', model), '--out', d] };
    },
  },
  {
    what: 'export --out under a parent that is a file',
    code: 2,
    msg: /--out .*plain\/web: .*plain is not a directory/,
    run: () => ({ args: ['export', '--model', file('m.safetensors', model), '--out', join(file('plain', 'x'), 'web')] }),
  },
  {
    what: '--save into a read-only file system: refused before training',
    code: 2,
    msg: /--save .*: .*(not writable|cannot create files).*EROFS/,
    tmpfs: true,
    run: () => ({ args: [...QUICK, '--save', join(READONLY!, 'm.safetensors')] }),
  },
  {
    what: '--save on a full disk: the weights are rescued, byte for byte, and load',
    code: 1,
    tmpfs: true,
    msg: /--save .*m\.safetensors: cannot write \(ENOSPC: no space left on the device\); the trained weights were saved to \S+ instead/,
    run: () => {
      const straight = join(tmp(), 'straight.safetensors');
      expect(cli([...QUICK, '--hidden', '100', '--epochs', '1', '--save', straight]).code).toBe(0);
      return {
        args: [...QUICK, '--hidden', '100', '--epochs', '1', '--save', join(FULL!, 'm.safetensors')],
        check: (r) => {
          const rescued = /saved to (\S+) instead/.exec(r.stderr)![1];
          expect(readFileSync(rescued).equals(readFileSync(straight))).toBe(true);
          expect(cli(['evaluate', '--model', rescued, '--test-limit', '100']).code).toBe(0);
          expect(readdirSync(FULL!)).toEqual([]);
        },
      };
    },
  },
  {
    what: '--checkpoint on a full disk: the checkpoint is rescued and resumes to the same weights',
    code: 1,
    tmpfs: true,
    msg: /checkpoint .*ck: cannot write \(ENOSPC: no space left on the device\); the checkpoint was written to \S+ instead; continue with: backprop train --resume \S+/,
    run: () => {
      const d = tmp();
      expect(cli([...QUICK, '--hidden', '100', '--epochs', '2', '--save', join(d, 'straight.safetensors')]).code).toBe(0);
      return {
        args: [...QUICK, '--hidden', '100', '--epochs', '2', '--checkpoint', join(FULL!, 'ck'), '--save', join(d, 'resumed.safetensors')],
        check: (r) => {
          const rescued = /--resume (\S+)/.exec(r.stderr)![1];
          const resumed = cli(['train', '--resume', rescued, '--save', join(d, 'resumed.safetensors')]);
          expect(resumed.code, resumed.stderr).toBe(0);
          expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true);
          rmSync(join(FULL!, 'ck'), { recursive: true, force: true });
        },
      };
    },
  },
  {
    what: 'export --out on a full disk: no half-made directory is left',
    code: 1,
    tmpfs: true,
    msg: /--out .*web: cannot write \(ENOSPC: no space left on the device\); nothing was written/,
    run: () => ({ args: ['export', '--model', file('m.safetensors', encodeSafetensors(net([784, 100, 10]))), '--out', join(FULL!, 'web')], check: () => expect(readdirSync(FULL!)).toEqual([]) }),
  },
  {
    what: 'compare --report on a full disk: the report is rescued',
    code: 1,
    tmpfs: true,
    msg: /--report .*r\.html: cannot write \(ENOSPC: no space left on the device\); the report was saved to \S+ instead/,
    run: () => ({
      args: ['compare', '--limit', '200', '--test-limit', '100', '--hidden', '8', '--epochs', '1', '--eval-size', '100', '--report', join(FULL!, 'r.html')],
      check: (r) => expect(readFileSync(/saved to (\S+) instead/.exec(r.stderr)![1], 'utf8')).toMatch(/<svg/),
    }),
  },

  {
    what: 'compare --report on a full disk with --json: the JSON result is still on stdout, naming the rescued report',
    code: 1,
    tmpfs: true,
    msg: /--report .*r2\.html: cannot write \(ENOSPC: no space left on the device\); the report was saved to \S+ instead/,
    run: () => ({
      args: ['compare', '--limit', '200', '--test-limit', '100', '--hidden', '8', '--epochs', '1', '--eval-size', '100', '--json', '--report', join(FULL!, 'r2.html')],
      check: (r) => {
        const rescued = /saved to (\S+) instead/.exec(r.stderr)![1];
        expect(JSON.parse(r.stdout)).toMatchObject({ command: 'compare', report: rescued, interrupted: false });
        expect(readFileSync(rescued, 'utf8')).toMatch(/<svg/);
        rmSync(rescued);
      },
    }),
  },
  {
    what: 'lr-find --report on a full disk: the suggestion is printed, the JSON result written, the report rescued',
    code: 1,
    tmpfs: true,
    msg: /--report .*lr\.html: cannot write \(ENOSPC: no space left on the device\); the report was saved to \S+ instead/,
    run: () => ({
      // 3,000 points: a page of about 100 KB for a disk of 64 KB
      args: ['lr-find', '--limit', '200', '--hidden', '10', '--steps', '3000', '--start-lr', '1e-4', '--end-lr', '1', '--divergence', '1000', '--json', '--report', join(FULL!, 'lr.html')],
      check: (r) => {
        const rescued = /saved to (\S+) instead/.exec(r.stderr)![1];
        const j = JSON.parse(r.stdout);
        expect(j).toMatchObject({ command: 'lr-find', report: rescued, interrupted: false });
        expect(r.stderr).toContain(`suggested η ${j.suggestedLr.toPrecision(2)} (steepest descent`);
        expect(readFileSync(rescued, 'utf8')).toContain(`steepest descent: η ${j.suggestedLr.toPrecision(2)}`);
        expect(existsSync(join(FULL!, 'lr.html'))).toBe(false);
        rmSync(rescued);
      },
    }),
  },
  {
    what: 'train --log on a full disk: named on stderr and in --json (failed), exit 1; --csv and --save still written',
    code: 1,
    tmpfs: true,
    // 2,000 batches of one example, each logged: a few hundred KB of lines for a disk of 64 KB
    msg: /^backprop: error: --log .*run\.jsonl: cannot write \(ENOSPC: no space left on the device\); the records before it are kept, each line whole, and the run went on without it$/,
    run: () => {
      const d = tmp();
      return {
        args: [
          ...QUICK,
          '--limit',
          '2000',
          '--lr',
          '0.01',
          '--epochs',
          '1',
          '--batch-size',
          '1',
          '--log-every',
          '1',
          '--log',
          join(FULL!, 'run.jsonl'),
          '--csv',
          join(d, 'run.csv'),
          '--save',
          join(d, 'm.safetensors'),
          '--json',
        ],
        check: (r) => {
          const j = JSON.parse(r.stdout);
          expect(j.failed).toEqual([expect.stringMatching(/^--log .*run\.jsonl: cannot write \(ENOSPC/)]);
          expect(j.testAccuracy).toBeGreaterThan(0);
          expect(readFileSync(join(d, 'run.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 2000 + 1); // the header, every batch, the epoch
          expect(existsSync(join(d, 'm.safetensors'))).toBe(true);
          const lines = readFileSync(join(FULL!, 'run.jsonl'), 'utf8').split('\n');
          expect(lines.pop()).toBe(''); // whole lines only
          expect(lines.length).toBeLessThan(2000);
          for (const l of lines) JSON.parse(l);
          rmSync(join(FULL!, 'run.jsonl'));
        },
      };
    },
  },
  {
    what: 'train -q --csv on a full disk: stdout holds the result line only, the failure is on stderr, exit 1',
    code: 1,
    tmpfs: true,
    msg: /^backprop: error: --csv .*run\.csv: cannot write \(ENOSPC: no space left on the device\)/,
    run: () => ({
      args: [...QUICK, '--limit', '2000', '--lr', '0.01', '--epochs', '1', '--batch-size', '1', '--log-every', '1', '--csv', join(FULL!, 'run.csv'), '-q'],
      check: (r) => {
        expect(r.stdout).toMatch(/^test accuracy [\d.]+% \(\d+\/100\) after 1 epoch in [\d.]+s\n$/);
        expect(r.stderr).not.toMatch(/⚠/); // said once, as the error line
        rmSync(join(FULL!, 'run.csv'));
      },
    }),
  },
  // 2. Signals and sharing
  {
    what: "a new run into another run's checkpoint directory is refused; the checkpoint stays and resumes",
    code: 2,
    msg: /--checkpoint .*ck holds another run's checkpoint: continue it with --resume .*ck, choose another directory, or add --overwrite/,
    run: () => {
      const d = checkpointWith(() => {});
      const before = readFileSync(join(d, 'state.json'));
      return {
        args: [...QUICK, '--epochs', '1', '--checkpoint', d],
        check: () => {
          expect(readFileSync(join(d, 'state.json')).equals(before)).toBe(true);
          expect(cli(['train', '--resume', d, '--epochs', '3']).code).toBe(0);
        },
      };
    },
  },
  {
    what: '--overwrite replaces the old checkpoint',
    code: 0,
    msg: /^$/,
    run: () => {
      const d = checkpointWith(() => {});
      return { args: [...QUICK, '--epochs', '1', '--checkpoint', d, '--overwrite'], check: () => expect(JSON.parse(readFileSync(join(d, 'state.json'), 'utf8')).generation).toBe(1) };
    },
  },
  {
    what: 'a checkpoint directory locked by a running process is refused',
    code: 2,
    msg: /--checkpoint .*: in use by another run \(pid \d+\)/,
    run: () => {
      const d = join(tmp(), 'ck');
      mkdirSync(d);
      writeFileSync(join(d, 'lock'), `${process.pid}\n${hostname()}\n`); // this test process: alive
      return { args: [...QUICK, '--epochs', '1', '--checkpoint', d], check: () => expect(existsSync(join(d, 'state.json'))).toBe(false) };
    },
  },
  {
    what: 'a checkpoint directory locked by a running process, with its identity, is refused',
    code: 2,
    msg: /--checkpoint .*: in use by another run \(pid \d+\)/,
    run: () => {
      const d = join(tmp(), 'ck');
      mkdirSync(d);
      writeFileSync(join(d, 'lock'), `${process.pid}\n${hostname()}\n${processIdentity(process.pid)}\n`);
      return { args: [...QUICK, '--epochs', '1', '--checkpoint', d], check: () => expect(existsSync(join(d, 'state.json'))).toBe(false) };
    },
  },
  {
    what: 'a lock whose pid now names another process (reused after a crash or a reboot) is taken over',
    code: 0,
    msg: /^$/,
    run: () => {
      const d = join(tmp(), 'ck');
      mkdirSync(d);
      // This test process is alive, but it is not the process that wrote the lock: that one started at another time.
      const [boot, start] = processIdentity(process.pid).split(' ');
      writeFileSync(join(d, 'lock'), `${process.pid}\n${hostname()}\n${boot} ${Number(start) - 1}\n`);
      return { args: [...QUICK, '--epochs', '1', '--checkpoint', d], check: () => expect(existsSync(join(d, 'state.json'))).toBe(true) };
    },
  },
  {
    what: 'a lock left by a crashed run is taken over',
    code: 0,
    msg: /^$/,
    run: () => {
      const d = join(tmp(), 'ck');
      mkdirSync(d);
      const dead = spawnSync('true').pid; // exited: its pid names no process
      writeFileSync(join(d, 'lock'), `${dead}\n${hostname()}\n`);
      return {
        args: [...QUICK, '--epochs', '1', '--checkpoint', d],
        check: () => {
          expect(existsSync(join(d, 'state.json'))).toBe(true);
          expect(existsSync(join(d, 'lock'))).toBe(false);
        },
      };
    },
  },
  {
    what: '--resume --epochs not beyond the epochs done',
    code: 2,
    msg: /--epochs 2: the run in .* has already done 2 epochs; give more than 2 to continue it/,
    run: () => ({ args: ['train', '--resume', checkpointWith(() => {}), '--epochs', '2'] }),
  },
  {
    what: '--resume of a complete run (stopped after its last checkpoint) writes its model',
    code: 0,
    msg: /^$/,
    run: () => {
      const d = tmp();
      expect(cli([...QUICK, '--epochs', '2', '--save', join(d, 'straight.safetensors')]).code).toBe(0);
      return {
        args: ['train', '--resume', checkpointWith(() => {}), '--save', join(d, 'resumed.safetensors')],
        check: () => expect(readFileSync(join(d, 'resumed.safetensors')).equals(readFileSync(join(d, 'straight.safetensors')))).toBe(true),
      };
    },
  },
  {
    what: 'state.json with a dtype that does not exist',
    code: 2,
    msg: /state\.json: options\.dtype "float16" is not float32 or float64/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.options.dtype = 'float16')), '--epochs', '3'] }),
  },
  {
    what: 'state.json describing a hidden softmax',
    code: 2,
    msg: /state\.json: options\.arch is a pairing train refuses \(--activation softmax/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.options.arch.activation = 'softmax')), '--epochs', '3'] }),
  },
  {
    what: 'state.json with a batch size of 0 (no endless loop)',
    code: 2,
    msg: /state\.json: options\.batchSize 0 must be a positive integer/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.options.batchSize = 0)), '--epochs', '3'] }),
  },
  {
    what: 'state.json naming a model file outside the checkpoint',
    code: 2,
    msg: /state\.json: model "\.\.\/\.\.\/m\.safetensors" must name a model-N\.safetensors file/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.model = '../../m.safetensors')), '--epochs', '3'] }),
  },
  {
    what: 'state.json with an all-zero RNG state',
    code: 2,
    msg: /state\.json: the RNG state must be 4 uint32, not all 0/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.rng = [0, 0, 0, 0])), '--epochs', '3'] }),
  },
  {
    what: 'state.json with a negative learning rate',
    code: 2,
    msg: /state\.json: options\.lr -1 must be a positive number/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.options.lr = -1)), '--epochs', '3'] }),
  },
  {
    what: 'state.json whose history does not match its epoch',
    code: 2,
    msg: /state\.json: state\.history has 2 epochs but state\.epoch is 7/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.state.epoch = 7)), '--epochs', '9'] }),
  },
  {
    what: 'state.json with a batch past the end of the epoch',
    code: 2,
    msg: /state\.json: state\.batch 99 is past the end of an epoch of 300 examples/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.state.batch = 99)), '--epochs', '3'] }),
  },
  {
    what: 'state.json whose layer sizes differ from the model',
    code: 2,
    msg: /state\.json: options\.arch\.sizes 784,9,10 do not match the model's 784,8,10/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s) => (s.options.arch.sizes = [784, 9, 10])), '--epochs', '3'] }),
  },
  {
    what: 'an order file that is not a permutation',
    code: 2,
    msg: /order-2\.bin: not a permutation of 0\.\.299 \(entry 1 is 0\)/,
    run: () => ({ args: ['train', '--resume', checkpointWith((s, d) => writeFileSync(join(d, s.order), Buffer.alloc(1200))), '--epochs', '3'] }),
  },

  // 3. Sizes and amounts
  {
    what: 'a gzip bomb: a small .gz inflating far beyond its header',
    code: 2,
    msg: /train-images-idx3-ubyte\.gz: decompresses to more than the 48 bytes its header declares/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: gzipSync(Buffer.concat([idxFile(0x08, [8, 2, 2], pixels(32)), Buffer.alloc(64 << 20)])) })] }),
  },
  {
    what: 'an IDX header declaring 4 billion images',
    code: 2,
    msg: /train-images-idx3-ubyte\.gz: its header declares \d+ bytes, more than the 2147483648-byte limit/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: gzipSync(idxFile(0x08, [4_000_000_000, 28, 28], [])) })] }),
  },
  {
    what: 'an IDX header declaring more than its gzip data can hold',
    code: 2,
    msg: /truncated: its header declares 78400016 bytes but \d+ bytes of gzip data hold at most \d+/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: gzipSync(idxFile(0x08, [100_000, 28, 28], pixels(10))) })] }),
  },
  {
    what: 'images of 0x0 pixels',
    code: 2,
    msg: /train-images-idx3-ubyte: the image is 0x0 pixels: it has no pixels/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: idxFile(0x08, [8, 0, 0], []) })] }),
  },
  {
    what: 'zero training images',
    code: 2,
    msg: /train-images-idx3-ubyte: holds 0 images/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: idxFile(0x08, [0, 2, 2], []), trainLabels: idxFile(0x08, [0], []) })] }),
  },
  {
    what: 'zero test images (evaluate)',
    code: 2,
    msg: /t10k-images-idx3-ubyte: holds 0 images/,
    run: () => ({
      args: ['evaluate', '--model', file('m.safetensors', encodeSafetensors(net([4, 3, 2]))), '--data', synth({ testImages: idxFile(0x08, [0, 2, 2], []), testLabels: idxFile(0x08, [0], []) })],
    }),
  },
  {
    what: 'IDX images above the pixel limit',
    code: 2,
    msg: /train-images-idx3-ubyte\.gz: 5000x5000 = 25000000 pixels is more than the 16777216-pixel limit/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: gzipSync(idxFile(0x08, [1, 5000, 5000], Buffer.alloc(25_000_000))), trainLabels: idxFile(0x08, [1], [0]) })] }),
  },
  {
    what: 'a PNG declaring 100000x100000 pixels (refused before decoding)',
    code: 2,
    msg: /huge\.png: 100000x100000 = 10000000000 pixels is more than the 16777216-pixel limit/,
    run: () => ({ args: ['predict', '--model', file('m.safetensors', model), file('huge.png', png(100_000, 100_000))] }),
  },
  { what: 'a PNG of 0x0 pixels', code: 2, msg: /empty\.png: the image is 0x0 pixels/, run: () => ({ args: ['predict', '--model', file('m.safetensors', model), file('empty.png', png(0, 0))] }) },
  {
    what: 'an interlaced PNG whose data inflates far beyond its size',
    code: 2,
    msg: /bomb\.png: corrupt PNG \(its image data inflates to more than a 100x100 image can hold\)/,
    run: () => {
      const chunk = (type: string, data: Buffer) => {
        const h = Buffer.alloc(8);
        h.writeUInt32BE(data.length);
        h.write(type, 4, 'latin1');
        return Buffer.concat([h, data, Buffer.alloc(4)]);
      };
      const ihdr = Buffer.from([0, 0, 0, 100, 0, 0, 0, 100, 8, 0, 0, 0, 1]); // 100x100, 8-bit grey, interlaced
      const bytes = Buffer.concat([png(0, 0).subarray(0, 8), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64 << 20))), chunk('IEND', Buffer.alloc(0))]);
      return { args: ['predict', '--model', file('m.safetensors', model), file('bomb.png', bytes)] };
    },
  },
  {
    what: 'a PGM declaring 100000x100000 pixels',
    code: 2,
    msg: /huge\.pgm: 100000x100000 = 10000000000 pixels is more than the 16777216-pixel limit/,
    run: () => ({ args: ['predict', '--model', file('m.safetensors', model), file('huge.pgm', 'P5 100000 100000 255\n\0\0\0')] }),
  },
  {
    what: '--hidden 100000000: the memory needed, refused before allocating',
    code: 2,
    msg: /--hidden: a 784-100000000-10 network needs about \d+ GB to train \(estimated\), more than half of this machine's \d+\.?\d* GB/,
    run: () => ({ args: ['train', '--hidden', '100000000', '--limit', '300'] }),
  },
  {
    what: '--layers with a huge hidden layer',
    code: 2,
    msg: /--layers: a 784-30000000-10 network needs about \d+ GB/,
    run: () => ({ args: ['train', '--layers', '784,30000000,10', '--limit', '300'] }),
  },
  { what: 'compare --hidden 100000000', code: 2, msg: /--hidden: a 784-100000000-10 network needs about \d+ GB/, run: () => ({ args: ['compare', '--hidden', '100000000', '--limit', '300'] }) },
  {
    what: 'gradcheck --hidden 100000000 (float64)',
    code: 2,
    msg: /--hidden: a 784-100000000-10 network needs about \d+ GB/,
    run: () => ({ args: ['gradcheck', '--hidden', '100000000', '--no-tfjs'] }),
  },
  { what: 'a batch size beyond the examples costs no more memory than the examples', code: 0, msg: /^$/, run: () => ({ args: [...QUICK, '--epochs', '1', '--batch-size', '1000000000'] }) },
  {
    what: 'one class in the training labels',
    code: 2,
    msg: /all 8 training examples have label 1: training needs at least two classes/,
    run: () => ({ args: ['train', '--data', synth({ trainLabels: idxFile(0x08, [8], Array(8).fill(1)) })] }),
  },

  // 4. Values
  {
    what: 'NaN pixels in float32 images',
    code: 2,
    msg: /train-images-idx3-ubyte: value NaN at index 5 \(image 1, pixel 1\): pixels must be finite numbers from 0 to 255/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: idxFile(0x0d, [8, 2, 2], f32(Array.from({ length: 32 }, (_, i) => (i === 5 ? NaN : 0.5)))) })] }),
  },
  {
    what: 'infinite pixels',
    code: 2,
    msg: /t10k-images-idx3-ubyte: value Infinity at index 2 \(image 0, pixel 2\)/,
    run: () => ({ args: ['train', '--data', synth({ testImages: idxFile(0x0d, [4, 2, 2], f32(Array.from({ length: 16 }, (_, i) => (i === 2 ? Infinity : 0.5)))) })] }),
  },
  {
    what: 'negative pixels',
    code: 2,
    msg: /train-images-idx3-ubyte: value -0\.5 at index 9 \(image 2, pixel 1\)/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: idxFile(0x0d, [8, 2, 2], f32(Array.from({ length: 32 }, (_, i) => (i === 9 ? -0.5 : 0.25)))) })] }),
  },
  {
    what: 'int32 pixels far outside 0-255',
    code: 2,
    msg: /train-images-idx3-ubyte: value 70000 at index 30 \(image 7, pixel 2\)/,
    run: () => ({ args: ['train', '--data', synth({ trainImages: idxFile(0x0c, [8, 2, 2], i32(Array.from({ length: 32 }, (_, i) => (i === 30 ? 70000 : 100)))) })] }),
  },
  {
    what: 'a P5 PGM sample above maxval',
    code: 2,
    msg: /over\.pgm: sample 200 at index 2 \(row 1, column 0\) is above the header's maxval 100/,
    run: () => ({ args: ['predict', '--model', file('m.safetensors', model), file('over.pgm', Buffer.concat([Buffer.from('P5 2 2 100\n'), Buffer.from([0, 50, 200, 10])]))] }),
  },
  {
    what: 'a P2 PGM sample above maxval',
    code: 2,
    msg: /over2\.pgm: sample 101 at index 3 \(row 1, column 1\) is above the header's maxval 100/,
    run: () => ({ args: ['predict', '--model', file('m.safetensors', model), file('over2.pgm', 'P2\n2 2\n100\n0 50 10 101\n')] }),
  },
  {
    what: 'a negative CSV value',
    code: 2,
    msg: /neg_train\.csv:2: column 3 is -4; expected values from 0 to 1, or pixels 0–255/,
    run: () => ({ args: ['train', '--data', file('neg_train.csv', '0,1,1,3\n1,5,-4,0\n0,1,1,1\n1,0,0,0\n0,2,2,2\n')] }),
  },
  {
    what: 'labels with gaps would widen the output layer silently',
    code: 2,
    msg: /the labels run from 0 to 200 but no example has label 2, 3, 4, 5, 6, … \(198 in all\); the output layer would have 201 units/,
    run: () => ({ args: ['train', '--data', synth({ trainLabels: idxFile(0x08, [8], [0, 1, 0, 1, 200, 1, 0, 1]) })] }),
  },
  {
    what: 'compare: labels with gaps',
    code: 2,
    msg: /the labels run from 0 to 200 but no example has label 2, 3, 4, 5, 6, … \(198 in all\)/,
    run: () => ({ args: ['compare', '--hidden', '4', '--data', synth({ trainLabels: idxFile(0x08, [8], [0, 1, 0, 1, 200, 1, 0, 1]) })] }),
  },
  {
    what: 'gradcheck: labels with gaps',
    code: 2,
    msg: /the labels run from 0 to 200 but no example has label 2, 3, 4, 5, 6, … \(198 in all\)/,
    run: () => ({ args: ['gradcheck', '--no-tfjs', '--hidden', '4', '--batch-size', '4', '--data', synth({ trainLabels: idxFile(0x08, [8], [0, 1, 0, 1, 200, 1, 0, 1]) })] }),
  },
  {
    what: 'labels with gaps are accepted when --layers asks for that output layer',
    code: 0,
    msg: /^$/,
    run: () => ({ args: ['train', '--epochs', '1', '--layers', '4,8,201', '--data', synth({ trainLabels: idxFile(0x08, [8], [0, 1, 0, 1, 200, 1, 0, 1]) })] }),
  },
  { what: '--model /dev/zero is refused, not read without end', code: 2, msg: /--model \/dev\/zero: not a regular file/, run: () => ({ args: ['evaluate', '--model', '/dev/zero'] }) },
  {
    what: 'an image that is a FIFO is refused, not waited on',
    code: 2,
    msg: /img\.png: not a regular file/,
    run: () => {
      const p = join(tmp(), 'img.png');
      execFileSync('mkfifo', [p]);
      return { args: ['predict', '--model', file('m.safetensors', model), p] };
    },
  },
  {
    what: 'a model with a NaN weight is refused on load',
    code: 2,
    msg: /m\.safetensors: tensor W1 holds NaN at index 5: a model's weights must be finite/,
    run: () => ({ args: ['evaluate', '--model', modelWithValue(5, NaN)] }),
  },
  {
    what: 'a model with an infinite bias is refused on load',
    code: 2,
    msg: /m\.safetensors: tensor b1 holds -Infinity at index 3/,
    run: () => ({ args: ['evaluate', '--model', modelWithValue(784 * 8 + 3, -Infinity)] }),
  },
  {
    what: "evaluate: a model whose outputs are not the named dataset's classes",
    code: 2,
    msg: /--model .*m\.safetensors has 13 outputs but tiny has 10 classes/,
    run: () => ({ args: ['evaluate', '--model', file('m.safetensors', encodeSafetensors(net([784, 8, 13]))), '--data', 'tiny'], env: tinyCatalogue() }),
  },

  // 7. Expressions
  {
    what: 'grad: an expression starting with "-"',
    code: 0,
    msg: /^$/,
    run: () => ({ args: ['grad', '-x^2', '--at', 'x=3', '--json'], check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ value: -9, gradient: { x: -6 } }) }),
  },
  {
    what: 'grad: a "-" expression after the options',
    code: 0,
    msg: /^$/,
    run: () => ({ args: ['grad', '--at', 'x=2,y=5', '--json', '-x*y'], check: (r) => expect(JSON.parse(r.stdout)).toMatchObject({ value: -10, gradient: { x: -5, y: -2 } }) }),
  },
  {
    what: 'grad: a 2,000-term sum',
    code: 0,
    msg: /^$/,
    run: () => ({
      args: ['grad', Array.from({ length: 2000 }, (_, i) => `x*${i + 1}`).join(' + '), '--at', 'x=2', '--json'],
      check: (r) => expect(JSON.parse(r.stdout).gradient.x).toBe(2001000), // Σ i
    }),
  },
  {
    what: 'grad: parentheses nested 20,000 deep',
    code: 2,
    msg: /the expression is nested too deeply for the parser \(40001 characters\)/,
    run: () => ({ args: ['grad', '('.repeat(20000) + 'x' + ')'.repeat(20000), '--at', 'x=1'] }),
  },
];

describe(`${cases.length} faults: exit code, one error line naming the file or flag, nothing lost`, () => {
  for (const c of cases)
    it(c.what, (ctx) => {
      if (c.tmpfs) needsMounts(ctx);
      const { args, env, check } = c.run();
      const r = cli(args, { env });
      if (c.code === 0) expect(r.code, r.stderr).toBe(0);
      else oneError(r, c.code, c.msg);
      check?.(r);
    });
});

describe('signals and file systems that change under a run', () => {
  // The js provider keeps an epoch long enough (about half a second) to act in the middle of a run.
  const SLOW = ['train', '--backend', 'js', '--limit', '1200', '--test-limit', '200', '--hidden', '256', '--epochs', '3'];
  let straight = '';
  beforeAll(() => {
    straight = join(tmp(), 'straight.safetensors');
    const r = cli([...SLOW, '--save', straight]);
    expect(r.code, r.stderr).toBe(0);
  });

  /** Runs args; when its output shows `when`, calls act() (after delayMs). */
  function during(args: string[], when: RegExp, delayMs: number, act: (pid: number) => void): Promise<Run> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      let stdout = '';
      let done = false;
      const watch = () => {
        if (!done && when.test(stdout + stderr)) {
          done = true;
          setTimeout(() => act(p.pid!), delayMs);
        }
      };
      p.stdout.on('data', (d: Buffer) => {
        stdout += d;
        watch();
      });
      p.stderr.on('data', (d: Buffer) => {
        stderr += d;
        watch();
      });
      p.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  for (const [sig, code] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)
    it(`${sig} finishes the batch, writes a checkpoint, exits ${code}; the resumed run ends with the uninterrupted weights`, async () => {
      const d = tmp();
      const ck = join(d, 'ck');
      const r = await during([...SLOW, '--checkpoint', ck, '--save', join(d, 'm.safetensors')], /epoch 1\/3/, 150, (pid) => process.kill(pid, sig));
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(new RegExp(`interrupted by ${sig} at epoch 2, batch \\d+: checkpoint written to .*ck; continue with: backprop train --resume .*ck`));
      expect(r.stderr).not.toMatch(/error/);
      expect(existsSync(join(ck, 'lock'))).toBe(false);
      const resumed = cli(['train', '--resume', ck, '--save', join(d, 'm.safetensors')]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(readFileSync(join(d, 'm.safetensors')).equals(readFileSync(straight))).toBe(true);
    }, 60_000);

  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    it(`${sig} reaches a run whose epochs are one batch each (nothing yields inside such an epoch): exit ${code} with a checkpoint`, async () => {
      const ck = join(tmp(), 'ck');
      const r = await during(['train', '--limit', '100', '--batch-size', '100', '--hidden', '5', '--epochs', '100000', '--checkpoint', ck], /epoch\s+\d+\/100000/, 300, (pid) =>
        process.kill(pid, sig),
      );
      expect(r.code, r.stderr).toBe(code);
      expect(r.stderr).toMatch(/interrupted.* at epoch \d+, batch 0: checkpoint written to/);
      expect(existsSync(join(ck, 'state.json'))).toBe(true);
    }, 60_000);

  it('a second run into the checkpoint directory of a running one is refused; the first ends unharmed', async () => {
    const d = tmp();
    const ck = join(d, 'ck');
    let second: Run | undefined;
    const first = await during([...SLOW, '--checkpoint', ck, '--save', join(d, 'm.safetensors')], /epoch 1\/3/, 0, () => {
      second = cli([...QUICK, '--epochs', '1', '--checkpoint', ck, '--overwrite']);
    });
    expect(first.code, first.stderr).toBe(0);
    oneError(second!, 2, /--checkpoint .*ck: in use by another run \(pid \d+\)/);
    expect(readFileSync(join(d, 'm.safetensors')).equals(readFileSync(straight))).toBe(true);
    expect(existsSync(join(ck, 'lock'))).toBe(false);
  }, 60_000);

  it('a file system that turns read-only during the run: exit 1, one line, the weights rescued byte for byte', async (ctx) => {
    needsMounts(ctx);
    const out = join(REMOUNT!, 'm.safetensors');
    const r = await during([...SLOW, '--save', out], /epoch 1\/3/, 0, () => execFileSync('mount', ['-o', 'remount,ro', REMOUNT!]));
    execFileSync('mount', ['-o', 'remount,rw', REMOUNT!]);
    oneError(r, 1, /--save .*m\.safetensors: cannot write \(EROFS: read-only file system\); the trained weights were saved to \S+ instead/);
    const rescued = /saved to (\S+) instead/.exec(r.stderr)![1];
    expect(readFileSync(rescued).equals(readFileSync(straight))).toBe(true);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

describe('grad on long expressions, in process', () => {
  it('a 30,000-term sum: linear work, no recursion', async () => {
    const n = 30_000;
    const e = await parseExpression(Array.from({ length: n }, (_, i) => `x*${i + 1}`).join(' + '), { x: 2 });
    const order = topologicalOrder(e.root);
    backward(e.root, order);
    expect(e.variables.get('x')!.grad.data[0]).toBe((n * (n + 1)) / 2);
    expect(e.root.scalar).toBe(n * (n + 1)); // 2 Σ i
    expect(order.length).toBe(3 * n); // one x, n constants, n products, n − 1 sums
  });
});
