import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkOutputFile,
  cleanStaleTemporaries,
  makeDirectories,
  openAppend,
  STALE_TEMP_MINUTES,
  TEMP_PATTERN,
  tempName,
  writeDirectoryAtomic,
  writeFileAtomic,
  writeRescue,
} from '../../src/base/atomic.js';
import { RunLog } from '../../src/train/run-log.js';
import { execFileSync } from 'node:child_process';
import { encodeSafetensors } from '../../src/io/safetensors.js';
import { Network } from '../../src/nn/network.js';
import { Rng } from '../../src/base/rng.js';
import { cli } from '../helpers.js';

// Class 1 of issue 26: what we write. Every case plants what another user of
// a shared directory could plant, or makes a name the old write path could not.

const dir = () => mkdtempSync(join(tmpdir(), 'backprop-sec-'));
const victim = (d: string) => {
  const v = join(d, 'victim.txt');
  writeFileSync(v, 'precious');
  return v;
};
const longName = (bytes: number, ch = 'a') => ch.repeat(Math.floor(bytes / Buffer.byteLength(ch)));
const old = () => (Date.now() - (STALE_TEMP_MINUTES + 5) * 60_000) / 1000;
const DEAD_PID = 2 ** 22 + 17; // above pid_max's default of 4194304: no such process
const staleTemp = (d: string, name = 'model.safetensors', pid = DEAD_PID) => {
  const t = join(d, `.${name}.bptmp-0123456789abcdef.${pid}.tmp`);
  writeFileSync(t, Buffer.alloc(1024));
  utimesSync(t, old(), old());
  return t;
};
const model = () => encodeSafetensors(Network.create({ sizes: [4, 3, 2], activation: 'tanh', outputActivation: 'softmax', cost: 'log-likelihood' }, 'xavier', new Rng(1)));

interface Case {
  what: string;
  run: () => void;
}

const cases: Case[] = [
  {
    what: 'a link planted at the old predictable temporary name (.NAME.PID.tmp) is not followed',
    run: () => {
      const d = dir();
      const v = victim(d);
      symlinkSync(v, join(d, `.out.bin.${process.pid}.tmp`));
      writeFileAtomic(join(d, 'out.bin'), 'new');
      expect(readFileSync(v, 'utf8')).toBe('precious');
      expect(readFileSync(join(d, 'out.bin'), 'utf8')).toBe('new');
    },
  },
  {
    what: 'temporary names are unpredictable (16 random hex digits), match the cleaning pattern and stay short',
    run: () => {
      const a = tempName('/x/' + longName(250));
      const b = tempName('/x/' + longName(250));
      expect(a).not.toBe(b);
      const name = a.slice(3);
      expect(name).toMatch(TEMP_PATTERN);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(100);
    },
  },
  {
    what: 'a 250-byte file name can be written (the temporary name is shortened)',
    run: () => {
      const d = dir();
      writeFileAtomic(join(d, longName(250)), 'x');
      expect(readFileSync(join(d, longName(250)), 'utf8')).toBe('x');
    },
  },
  {
    what: 'a 250-byte file name of two-byte characters can be written (shortened by bytes, not characters)',
    run: () => {
      const d = dir();
      writeFileAtomic(join(d, longName(250, 'é')), 'x');
      expect(readdirSync(d)).toEqual([longName(250, 'é')]);
    },
  },
  {
    what: 'checkOutputFile accepts a 250-byte file name (its probe is shortened too)',
    run: () => {
      const d = dir();
      expect(() => checkOutputFile(join(d, longName(250)), '--save')).not.toThrow();
      expect(readdirSync(d)).toEqual([]);
    },
  },
  {
    what: 'writeDirectoryAtomic creates a directory with a 250-byte name',
    run: () => {
      const d = dir();
      writeDirectoryAtomic(join(d, longName(250)), [{ name: 'model.json', data: '{}' }]);
      expect(readFileSync(join(d, longName(250), 'model.json'), 'utf8')).toBe('{}');
    },
  },
  {
    what: 'a new directory from writeDirectoryAtomic gets 0755 less the umask, not the private staging mode',
    run: () => {
      const d = dir();
      writeDirectoryAtomic(join(d, 'web'), [{ name: 'a', data: '1' }]);
      expect(statSync(join(d, 'web')).mode & 0o777).toBe(0o755 & ~process.umask());
    },
  },
  {
    what: 'replacing a 0600 file keeps it 0600 (a private model stays private)',
    run: () => {
      const d = dir();
      const f = join(d, 'secret.safetensors');
      writeFileSync(f, 'old', { mode: 0o600 });
      writeFileAtomic(f, 'new');
      expect(statSync(f).mode & 0o777).toBe(0o600);
    },
  },
  {
    what: 'a new file gets 0644 less the umask',
    run: () => {
      const d = dir();
      writeFileAtomic(join(d, 'm'), 'new');
      expect(statSync(join(d, 'm')).mode & 0o777).toBe(0o644 & ~process.umask());
    },
  },
  {
    what: 'an exclusive write (a rescue) refuses a link planted at its name and leaves the link target alone',
    run: () => {
      const d = dir();
      const v = victim(d);
      symlinkSync(v, join(d, 'rescued'));
      expect(() => writeFileAtomic(join(d, 'rescued'), 'weights', { exclusive: true })).toThrow(/EEXIST|exists/);
      expect(readFileSync(v, 'utf8')).toBe('precious');
      expect(readdirSync(d).filter((f) => TEMP_PATTERN.test(f))).toEqual([]);
    },
  },
  {
    what: 'writeRescue never writes through a link and names each rescue anew',
    run: () => {
      const d = dir();
      const a = writeRescue('model.safetensors', 'w1', [d]);
      const b = writeRescue('model.safetensors', 'w2', [d]);
      expect(a).not.toBe(b);
      expect(lstatSync(a!).isFile()).toBe(true);
      expect(readFileSync(b!, 'utf8')).toBe('w2');
    },
  },
  {
    what: 'a stale temporary (writer dead, older than the limit, ours) is removed by the next write to its directory',
    run: () => {
      const d = dir();
      const t = staleTemp(d);
      writeFileAtomic(join(d, 'other'), 'x');
      expect(existsSync(t)).toBe(false);
    },
  },
  {
    what: 'a recent temporary is kept (a write in progress elsewhere)',
    run: () => {
      const d = dir();
      const t = staleTemp(d);
      utimesSync(t, new Date(), new Date());
      writeFileAtomic(join(d, 'other'), 'x');
      expect(existsSync(t)).toBe(true);
    },
  },
  {
    what: 'an old temporary whose writer still runs is kept',
    run: () => {
      const d = dir();
      const t = staleTemp(d, 'm', process.ppid);
      writeFileAtomic(join(d, 'other'), 'x');
      expect(existsSync(t)).toBe(true);
    },
  },
  {
    what: 'an old temporary owned by another user is kept (not ours to remove)',
    run: () => {
      if (process.getuid?.() !== 0) return; // only root can give a file away; elsewhere the uid check is the same code
      const d = dir();
      const t = staleTemp(d);
      chownSync(t, 65534, 65534);
      utimesSync(t, old(), old());
      expect(cleanStaleTemporaries(d)).toEqual([]);
      expect(existsSync(t)).toBe(true);
    },
  },
  {
    what: 'a link named like a stale temporary is neither followed nor removed',
    run: () => {
      const d = dir();
      const v = victim(d);
      const l = join(d, `.x.bptmp-0123456789abcdef.${DEAD_PID}.tmp`);
      symlinkSync(v, l);
      expect(cleanStaleTemporaries(d, Date.now() + 1e9)).toEqual([]);
      expect(readFileSync(v, 'utf8')).toBe('precious');
      expect(lstatSync(l).isSymbolicLink()).toBe(true);
    },
  },
  {
    what: 'a file that merely ends in .tmp is never cleaned',
    run: () => {
      const d = dir();
      const f = join(d, `.notes.${DEAD_PID}.tmp`);
      writeFileSync(f, 'mine');
      utimesSync(f, old(), old());
      writeFileAtomic(join(d, 'other'), 'x');
      expect(existsSync(f)).toBe(true);
    },
  },
  {
    what: 'a stale staging directory of a killed export is removed by the next export there',
    run: () => {
      const d = dir();
      const s = join(d, `.web.bptmp-0123456789abcdef.${DEAD_PID}.tmp`);
      mkdirSync(s);
      writeFileSync(join(s, 'weights.bin'), Buffer.alloc(100));
      utimesSync(s, old(), old());
      writeDirectoryAtomic(join(d, 'web'), [{ name: 'a', data: '1' }]);
      expect(existsSync(s)).toBe(false);
    },
  },
  {
    what: '--log onto a dangling link (a run log is appended to, not replaced) is refused and creates nothing where it points',
    run: () => {
      const d = dir();
      symlinkSync(join(d, 'elsewhere.jsonl'), join(d, 'run.jsonl'));
      expect(() => new RunLog({ json: join(d, 'run.jsonl') })).toThrow(/^--log .*run\.jsonl: is a symbolic link to .*elsewhere\.jsonl, which does not exist/);
      expect(existsSync(join(d, 'elsewhere.jsonl'))).toBe(false);
    },
  },
  {
    what: '--csv onto a dangling link is refused too, and the --log opened before it is closed again',
    run: () => {
      const d = dir();
      symlinkSync('/nonexistent-backprop/x.csv', join(d, 'run.csv'));
      expect(() => new RunLog({ json: join(d, 'ok.jsonl'), csv: join(d, 'run.csv') })).toThrow(/^--csv .*run\.csv: is a symbolic link/);
      expect(lstatSync(join(d, 'run.csv')).isSymbolicLink()).toBe(true);
    },
  },
  {
    what: '--log onto a link to an existing file appends to that file and keeps the link (as --save follows a live link)',
    run: () => {
      const d = dir();
      const v = victim(d);
      symlinkSync(v, join(d, 'run.jsonl'));
      const log = new RunLog({ json: join(d, 'run.jsonl') });
      log.record({ kind: 'epoch', epoch: 1, loss: 0.5 });
      log.close();
      expect(readFileSync(v, 'utf8')).toBe('precious{"kind":"epoch","epoch":1,"loss":0.5}\n');
      expect(lstatSync(join(d, 'run.jsonl')).isSymbolicLink()).toBe(true);
    },
  },
  {
    what: '--csv naming a FIFO is refused at once (an append open of a FIFO without a reader would block)',
    run: () => {
      const d = dir();
      execFileSync('mkfifo', [join(d, 'p.csv')]);
      expect(() => new RunLog({ csv: join(d, 'p.csv') })).toThrow(/^--csv .*p\.csv: exists and is a FIFO, not a regular file/);
    },
  },
  {
    what: 'openAppend of a link to a directory names it (not an EISDIR from deep inside)',
    run: () => {
      const d = dir();
      symlinkSync(d, join(d, 'dirlink'));
      expect(() => openAppend(join(d, 'dirlink'), '--log')).toThrow(/^--log .*dirlink: exists and is a directory, not a regular file/);
    },
  },
  {
    what: 'a checkpoint file name holding a link (replaceLink) is replaced by the new file, the link target left alone',
    run: () => {
      const d = dir();
      const v = victim(d);
      symlinkSync(v, join(d, 'state.json'));
      writeFileAtomic(join(d, 'state.json'), '{}', { replaceLink: true });
      expect(readFileSync(v, 'utf8')).toBe('precious');
      expect(lstatSync(join(d, 'state.json')).isFile()).toBe(true);
      expect(statSync(join(d, 'state.json')).mode & 0o777).toBe(0o644 & ~process.umask());
    },
  },
  {
    what: 'replaceLink replaces a dangling link too (nothing is created where it points)',
    run: () => {
      const d = dir();
      symlinkSync(join(d, 'elsewhere'), join(d, 'model-3.safetensors'));
      writeFileAtomic(join(d, 'model-3.safetensors'), 'm', { replaceLink: true });
      expect(existsSync(join(d, 'elsewhere'))).toBe(false);
      expect(readFileSync(join(d, 'model-3.safetensors'), 'utf8')).toBe('m');
    },
  },
  {
    what: 'train --resume of a checkpoint whose state.json is a link writes its new state.json in the checkpoint, not over the link target',
    run: () => {
      const d = dir();
      const ck = join(d, 'ck');
      writeFileSync(join(d, 'two.csv'), Array.from({ length: 20 }, (_, i) => `${i % 2},0.${i},0.5`).join('\n') + '\n');
      const first = cli(['train', '--data', join(d, 'two.csv'), '--hidden', '2', '--epochs', '1', '--checkpoint', ck, '--save', join(d, 'm.st')]);
      expect(first.code, first.stderr).toBe(0);
      // The received checkpoint's state.json is a link to a file elsewhere, which holds a valid state (asking for one more epoch).
      const elsewhere = join(d, 'elsewhere.json');
      writeFileSync(elsewhere, readFileSync(join(ck, 'state.json'), 'utf8').replace('"epochs": 1', '"epochs": 2'));
      const before = readFileSync(elsewhere, 'utf8');
      execFileSync('rm', [join(ck, 'state.json')]);
      symlinkSync(elsewhere, join(ck, 'state.json'));
      const r = cli(['train', '--resume', ck, '--save', join(d, 'm.st')]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(elsewhere, 'utf8')).toBe(before);
      expect(lstatSync(join(ck, 'state.json')).isFile()).toBe(true);
      expect(JSON.parse(readFileSync(join(ck, 'state.json'), 'utf8')).generation).toBe(2);
    },
  },
  {
    what: 'export --out onto a dangling link: one line naming the link (it said ENOTDIR: a part of the path is not a directory)',
    run: () => {
      const d = dir();
      writeFileSync(join(d, 'm.safetensors'), model());
      symlinkSync(join(d, 'web-target'), join(d, 'web'));
      const r = cli(['export', '--model', join(d, 'm.safetensors'), '--out', join(d, 'web')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^backprop: error: --out .*web: is a symbolic link to .*web-target, which does not exist; a write follows no dangling link/);
      expect(existsSync(join(d, 'web-target'))).toBe(false);
    },
  },
  {
    what: "makeDirectories under /proc fails at once with the level it could not make (Node's recursive mkdir loops for ever there)",
    run: () => {
      expect(() => makeDirectories('/proc/nope-backprop/backprop')).toThrow(/^cannot create the directory \/proc\/nope-backprop \(ENOENT/);
      const d = dir();
      makeDirectories(join(d, 'a', 'b', 'c'));
      makeDirectories(join(d, 'a', 'b', 'c')); // already there: nothing to do
      expect(statSync(join(d, 'a', 'b', 'c')).isDirectory()).toBe(true);
      writeFileSync(join(d, 'f'), '');
      expect(() => makeDirectories(join(d, 'f', 'g'))).toThrow(/ENOTDIR/);
    },
  },
];

describe(`${cases.length} writes: no link followed, no name reused, no temporary left for ever`, () => {
  for (const c of cases) it(c.what, c.run);
});

describe('a write killed half-way, in another process', () => {
  const ATOMIC = fileURLToPath(new URL('../../dist/base/atomic.js', import.meta.url));
  it('its temporary is private (0600) while written, and the next write there removes it once stale', async () => {
    const d = dir();
    const target = join(d, 'big.safetensors');
    const script = `import('${ATOMIC}').then((m) => m.writeFileAtomic(${JSON.stringify(target)}, Buffer.alloc(1 << 20)))`;
    const p = spawn(process.execPath, ['-e', script], { env: { ...process.env, BACKPROP_TEST_STALL_WRITE: 'big.safetensors' } });
    let temps: string[] = [];
    for (let i = 0; i < 200 && temps.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      temps = readdirSync(d).filter((f) => TEMP_PATTERN.test(f));
    }
    p.kill('SIGKILL');
    await new Promise((r) => p.on('exit', r));
    expect(temps).toHaveLength(1);
    const t = join(d, temps[0]);
    expect(statSync(t).mode & 0o777).toBe(0o600);
    expect(statSync(t).size).toBe(1 << 19);
    expect(existsSync(target)).toBe(false);
    writeFileAtomic(join(d, 'next'), 'x'); // too recent: kept
    expect(existsSync(t)).toBe(true);
    utimesSync(t, old(), old());
    writeFileAtomic(join(d, 'next'), 'x');
    expect(existsSync(t)).toBe(false);
  }, 30_000);

  it('export --out with a 250-byte directory name writes the model', () => {
    const d = dir();
    writeFileSync(join(d, 'm.safetensors'), model());
    const out = join(d, longName(250));
    const r = cli(['export', '--model', join(d, 'm.safetensors'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['model.json', 'weights.bin']);
  }, 60_000);
});
