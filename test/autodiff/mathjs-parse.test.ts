import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { mathjsParse, PARSE_FACTORIES } from '../../src/autodiff/mathjs-parse.js';

// The whole of mathjs, loaded the usual (slow) way: the oracle for the parser built from a few of its factories.
const require = createRequire(import.meta.url);
type Factory = ((...args: never[]) => unknown) & { fn?: string; dependencies?: string[]; meta?: { isTransformFunction?: boolean } };
const full = require('mathjs') as Record<string, unknown> & { parse: (s: string) => { type: string; toString(): string } };

describe('the parser-only mathjs instance', () => {
  it('holds exactly the factories that parse needs, by the dependency lists of the installed mathjs', () => {
    const byName = new Map<string, string>();
    for (const [key, f] of Object.entries(full)) {
      const fac = f as Factory;
      if (key.startsWith('create') && typeof fac === 'function' && fac.fn && !fac.meta?.isTransformFunction) byName.set(fac.fn, key);
    }
    const provided = new Set(['config', 'math', 'mathWithTransform']); // given by mathjs's create itself
    const needed = new Set<string>();
    const stack = ['parse'];
    while (stack.length) {
      const name = stack.pop()!;
      if (provided.has(name)) continue;
      const key = byName.get(name);
      expect(key, `no factory for ${name}`).toBeDefined();
      if (needed.has(key!)) continue;
      needed.add(key!);
      for (const d of (full[key!] as Factory).dependencies ?? []) if (!d.startsWith('?')) stack.push(d);
    }
    expect(Object.keys(PARSE_FACTORIES).sort()).toEqual([...needed].sort());
    // Each file holds the very factory mathjs exports under that name.
    const lib = require.resolve('mathjs').replace(/index\.js$/, '');
    for (const [key, file] of Object.entries(PARSE_FACTORIES)) expect((require(lib + file) as Record<string, unknown>)[key], key).toBe(full[key]);
  });

  it('parses as the full mathjs does', () => {
    const parse = mathjsParse();
    for (const src of ['x*y + sin(x)', '-x^2^3 / (1 - y)', '2x + 3.5e-2', 'sigmoid(relu(x) - tanh(y))', 'a.b', '[1, 2]', 'x = 3', 'f(x) = x', '1e400', '"text"', 'x ? y : 1', 'pi * e']) {
      const ours = parse(src),
        theirs = full.parse(src);
      expect(ours.type, src).toBe(theirs.type);
      expect(ours.toString(), src).toBe(theirs.toString());
    }
    for (const bad of ['x +', '(x', 'x y )', 'sin(']) {
      let message = '';
      try {
        full.parse(bad);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, bad).not.toBe('');
      expect(() => parse(bad), bad).toThrow(message);
    }
  });
});

describe('the parser-only mathjs', () => {
  it('is built once and then reused', () => {
    expect(mathjsParse()).toBe(mathjsParse());
  });
});
