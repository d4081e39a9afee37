import { describe, expect, it } from 'vitest';
import { cli } from '../helpers.js';

describe('backprop grad', () => {
  it('x*y + sin(x) at x=1, y=2 (--json --check)', () => {
    const r = cli(['grad', 'x*y + sin(x)', '--at', 'x=1,y=2', '--json', '--check']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.value).toBeCloseTo(2.8414709848, 10);
    expect(res.gradient.x).toBeCloseTo(2.5403023059, 10);
    expect(res.gradient.y).toBe(1);
    expect(res.check.pass).toBe(true);
    expect(Math.abs(res.check.numeric.x - res.gradient.x)).toBeLessThan(1e-8);
  });

  it('prints value and partials for people', () => {
    const r = cli(['grad', 'x^3 - 2*x*y + exp(y)', '--at', 'x=2,y=0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/value\s+9\n/); // 8 − 0 + 1
    expect(r.stdout).toMatch(/∂f\/∂x\s+12\n/); // 3x² − 2y
    expect(r.stdout).toMatch(/∂f\/∂y\s+-3\n/); // −2x + e^y
  });

  it('--graph shows the DAG with values and gradients; shared nodes once', () => {
    const r = cli(['grad', 'x*x + x', '--at', 'x=3', '--graph']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/#3 add .*= 12 {2}∂ = 1/);
    expect(r.stdout).toMatch(/#1 x \(variable\) {2}= 3 {2}∂ = 7/);
    expect(r.stdout.match(/shared: see above/g)).toHaveLength(2);
    const d = cli(['grad', 'x*x + x', '--at', 'x=3', '--graph', 'dot']);
    expect(d.stdout).toMatch(/digraph backprop \{/);
    expect(d.stdout).toMatch(/n1 \[label="x \(variable\)\\nvalue 3\\ngrad 7"/);
    expect(d.stdout.match(/->/g)).toHaveLength(4);
  });

  it('--check fails (exit 1) when the derivative is wrong — here, a kink where finite differences disagree', () => {
    const r = cli(['grad', 'relu(x)', '--at', 'x=0', '--check', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).check.pass).toBe(false);
  });

  const errors: [string, string[], RegExp][] = [
    ['syntax error with position', ['x*(y', '--at', 'x=1,y=2'], /syntax error at character 5 of "x\*\(y": Parenthesis \) expected/],
    ['missing --at value', ['x*y', '--at', 'x=1'], /"y" has no value: give it with --at y=<number>/],
    ['unknown variable in --at', ['x', '--at', 'x=1,z=2'], /--at z: "z" does not appear in the expression/],
    ['unknown function', ['foo(x)', '--at', 'x=1'], /unknown function foo\(\)/],
    ['non-finite value', ['log(x)', '--at', 'x=0'], /non-finite result: log\(x\) = -Infinity at x=0/],
    ['non-finite derivative', ['sqrt(x)', '--at', 'x=0'], /non-finite derivative: ∂\/∂x = Infinity/],
    ['bad --at', ['x', '--at', 'x=abc'], /"x=abc" is not name=number/],
    ['empty expression', [''], /the expression is empty/],
  ];
  for (const [what, args, msg] of errors)
    it(`${what}: one line, exit 2`, () => {
      const r = cli(['grad', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    });
});
