import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOutputFile, danglingLink, OutputPathError, writeFileAtomic } from '../../src/base/atomic.js';
import { cli } from '../helpers.js';

// A symbolic link at the output name whose target does not exist: following it would create a file wherever it
// points, replacing it would write elsewhere than the link says. Refused, before the run and at the write.
describe('a dangling symbolic link at the output name is refused, and left as it was', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bp-dangling-'));
  const cases: [string, string][] = [
    ['to a missing file', 'missing.bin'],
    ['to a file in a missing directory', 'nowhere/m.bin'],
    ['to itself (a loop)', 'loop.bin'],
  ];
  for (const [what, to] of cases)
    it(what, () => {
      const link = join(dir, to === 'loop.bin' ? 'loop.bin' : `link-${to.replace(/\W/g, '-')}`);
      symlinkSync(to, link);
      // a loop was said not to exist (fourth hunt): it is said to be a loop
      const why = to === 'loop.bin' ? `${to}, a loop of links that leads to no file` : `${to}, which does not exist`;
      expect(danglingLink(link)).toBe(why);
      expect(() => checkOutputFile(link, '--save')).toThrow(OutputPathError);
      expect(() => checkOutputFile(link, '--save')).toThrow(`--save ${link}: is a symbolic link to ${why}; a write follows no dangling link`);
      expect(() => writeFileAtomic(link, 'data')).toThrow(`is a symbolic link to ${why} (a write follows no dangling link`);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe(to);
      expect(existsSync(join(dir, 'missing.bin'))).toBe(false);
    });

  it('a link to an existing file is still followed: its target is replaced', () => {
    const target = join(dir, 'target.bin'),
      link = join(dir, 'good-link.bin');
    writeFileSync(target, 'old');
    symlinkSync('target.bin', link);
    expect(danglingLink(link)).toBeUndefined();
    checkOutputFile(link, '--save');
    writeFileAtomic(link, 'new');
    expect(readFileSync(target, 'utf8')).toBe('new');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('train --save onto a dangling link: one line naming the flag and the link, exit 2, before any training', () => {
    const link = join(dir, 'model.safetensors');
    symlinkSync('gone/m.safetensors', link);
    const r = cli(['train', '--limit', '100', '--epochs', '1', '--save', link]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe(`backprop: error: --save ${link}: is a symbolic link to gone/m.safetensors, which does not exist; a write follows no dangling link: remove it or choose another name\n`);
    expect(r.stdout).toBe('');
    expect(readlinkSync(link)).toBe('gone/m.safetensors');
  });
});
