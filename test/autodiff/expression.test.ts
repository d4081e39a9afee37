// parseExpression in-process (the CLI tests of `backprop grad` run dist/, which mutation testing does not reach):
// the values and derivatives it builds, the sub-expressions it shares, the source text it keeps for each node, and
// every message a user sees for an expression it refuses.
import { describe, expect, it } from 'vitest';
import { ExpressionError, parseExpression, type Expression } from '../../src/autodiff/expression.js';
import { backward, topologicalOrder, type Node } from '../../src/autodiff/node.js';

async function grad(source: string, at: Record<string, number>): Promise<{ value: number; d: Record<string, number>; e: Expression }> {
  const e = await parseExpression(source, at);
  backward(e.root);
  return { value: e.root.scalar, d: Object.fromEntries([...e.variables].map(([k, v]) => [k, v.grad.data[0]])), e };
}

/** The message of the ExpressionError that parsing throws. */
async function refusal(source: string, at: Record<string, number> = {}): Promise<string> {
  try {
    await parseExpression(source, at);
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionError);
    expect((e as Error).name).toBe('ExpressionError');
    return (e as Error).message;
  }
  throw new Error(`"${source}" was accepted`);
}

describe('what parseExpression computes', () => {
  const cases: [string, Record<string, number>, number, Record<string, number>][] = [
    ['x*y + sin(x)', { x: 1, y: 2 }, 2 + Math.sin(1), { x: 2 + Math.cos(1), y: 1 }],
    ['x - y', { x: 5, y: 3 }, 2, { x: 1, y: -1 }],
    ['x / y', { x: 3, y: 4 }, 0.75, { x: 0.25, y: -3 / 16 }],
    ['x ^ y', { x: 2, y: 3 }, 8, { x: 12, y: 8 * Math.LN2 }],
    ['-x', { x: 2 }, -2, { x: -1 }],
    ['+x', { x: 2 }, 2, { x: 1 }],
    ['2 x', { x: 3 }, 6, { x: 2 }],
    ['cos(x)', { x: 1 }, Math.cos(1), { x: -Math.sin(1) }],
    ['tan(x)', { x: 1 }, Math.sin(1) / Math.cos(1), { x: 1 / Math.cos(1) ** 2 }],
    ['exp(x)', { x: 2 }, Math.exp(2), { x: Math.exp(2) }],
    ['log(x)', { x: 2 }, Math.LN2, { x: 0.5 }],
    ['log(x, 2)', { x: 8 }, 3, { x: 1 / (8 * Math.LN2) }],
    ['sqrt(x)', { x: 4 }, 2, { x: 0.25 }],
    ['tanh(x)', { x: 0.5 }, Math.tanh(0.5), { x: 1 - Math.tanh(0.5) ** 2 }],
    ['sigmoid(x)', { x: 0 }, 0.5, { x: 0.25 }],
    ['relu(x) + relu(y)', { x: -1, y: 2 }, 2, { x: 0, y: 1 }],
    ['x * pi + e + tau', { x: 1 }, Math.PI + Math.E + 2 * Math.PI, { x: Math.PI }],
    ['e * x', { e: 2, x: 3 }, 6, { e: 3, x: 2 }], // a value given with --at hides the constant of the same name
    ['2 * x + 3', { x: 5 }, 13, { x: 2 }],
    ['0x10 * x', { x: 1 }, 16, { x: 16 }],
  ];
  for (const [source, at, value, d] of cases)
    it(`${source} at ${JSON.stringify(at)}`, async () => {
      const r = await grad(source, at);
      expect(r.value).toBeCloseTo(value, 14);
      for (const [k, v] of Object.entries(d)) expect(r.d[k], `∂/∂${k}`).toBeCloseTo(v, 14);
      expect(Object.keys(r.d).sort()).toEqual(Object.keys(at).sort());
    });

  it('the constants are labelled with their names; variables in order of first appearance', async () => {
    const { e } = await grad('y * pi + x * y', { x: 1, y: 2 });
    expect([...e.variables.keys()]).toEqual(['y', 'x']);
    expect([...(await parseExpression('x * y + sin(z)', { z: 1, y: 2, x: 3 })).variables.keys()]).toEqual(['x', 'y', 'z']);
    const pi = topologicalOrder(e.root).find((n) => n.op === 'constant')!;
    expect([pi.label, pi.scalar]).toEqual(['pi', Math.PI]);
    expect(e.variables.get('y')!.label).toBe('y');
  });
});

describe('identical sub-expressions are one node', () => {
  it('x*y + x*y: one mul with two parents, so ∂/∂x = 2y', async () => {
    const r = await grad('x*y + x*y', { x: 3, y: 5 });
    expect(topologicalOrder(r.e.root).map((n) => n.op)).toEqual(['variable', 'variable', 'mul', 'add']);
    expect(r.d).toEqual({ x: 10, y: 6 });
  });

  it('sub-expressions that differ only in their operation, function, constant, variable or argument order stay apart', async () => {
    const distinct: [string, Record<string, number>, number][] = [
      ['x + y + (x - y) + x * y + x / y', { x: 6, y: 2 }, 8 + 4 + 12 + 3],
      ['sin(x) + cos(x) + exp(x)', { x: 0 }, 0 + 1 + 1],
      ['x * 2 + x * 3', { x: 1 }, 5],
      ['x * y + y * x + y', { x: 2, y: 3 }, 15],
      ['x - y + (y - x)', { x: 2, y: 7 }, 0],
      ['2 ^ 3 + 3 ^ 2', {}, 17],
      ['log(x, 2) + log(2, x)', { x: 4 }, 2.5],
    ];
    for (const [source, at, value] of distinct) expect((await grad(source, at)).value, source).toBeCloseTo(value, 12);
  });

  it('the identity of a node is its operation and its children’s ids, kept apart by a separator: x1·x12 is not x11·x2', async () => {
    // a + (b + (c + …)) builds the 13 leaves first (ids 0…12), so x1*x12 and x11*x2 have children (1, 12) and (11, 2)
    const leaves = Array.from({ length: 13 }, (_, i) => `x${i}`);
    const nested = leaves.reduceRight((acc, v) => (acc ? `(${v} + ${acc})` : v), '');
    const at = Object.fromEntries(leaves.map((v, i) => [v, i + 1]));
    const r = await grad(`${nested} + x1*x12 + x11*x2`, at);
    expect(r.value).toBe(91 + 2 * 13 + 12 * 3);
  });

  it('a unary plus is its operand: it takes no id of its own, and the operand keeps its own text', async () => {
    // were +x to give x a second id, x and sin(+x) would share one and cos(x) would be taken for cos(sin(+x))
    const r = await grad('cos(sin(+x)) + cos(x) + +(x * y)', { x: 0.5, y: 2 });
    expect(r.value).toBeCloseTo(Math.cos(Math.sin(0.5)) + Math.cos(0.5) + 1, 14);
    const mul = topologicalOrder(r.e.root).find((n) => n.op === 'mul')!;
    expect(r.e.text.get(mul)).toBe('x * y');
    expect(r.e.text.get(r.e.variables.get('x')!)).toBe('x');
  });
});

describe('the source text of each node', () => {
  const textOf = async (source: string, at: Record<string, number>, op: string) => {
    const e = await parseExpression(source, at);
    return topologicalOrder(e.root)
      .filter((n) => n.op === op)
      .map((n) => e.text.get(n));
  };

  it('operators with spaces, implicit products with one, unary signs, parentheses, functions with their arguments', async () => {
    const e = await parseExpression('-(x+y)*2x - log(x,  y) / sin(x)', { x: 1, y: 2 });
    expect(e.text.get(e.root)).toBe('-(x + y) * 2 x - log(x, y) / sin(x)');
    const texts = new Set(e.text.values());
    for (const t of ['x', 'y', '2', 'x + y', '-(x + y)', '2 x', '-(x + y) * 2 x', 'sin(x)', 'log(x, y) / sin(x)']) expect(texts, t).toContain(t);
    expect(await textOf('x ^ 2.5', { x: 1 }, 'pow')).toEqual(['x ^ 2.5']);
    // numbers as written, not as mathjs prints them (1e-4, 1e+5), inside parentheses and function calls too
    const e2 = await parseExpression('(0.0001 + x) * sin(100000 x)', { x: 1 });
    expect(e2.text.get(e2.root)).toBe('(0.0001 + x) * sin(100000 x)');
    expect(await textOf('(x)', { x: 1 }, 'variable')).toEqual(['x']);
  });

  it('is cut to 200 characters, the last an ellipsis; 200 are kept whole', async () => {
    const long = 'y'.repeat(196);
    const whole = await parseExpression(`x + ${long}`, { x: 1, [long]: 2 });
    expect(whole.text.get(whole.root)).toBe(`x + ${long}`);
    const cut = await parseExpression(`x + ${long}y`, { x: 1, [long + 'y']: 2 });
    expect(cut.text.get(cut.root)).toBe(`x + ${long}`.slice(0, 199) + '…');
    expect(cut.text.get(cut.root)).toHaveLength(200);
  });
});

describe('what parseExpression refuses, and the one line it says', () => {
  const FUNCTIONS = 'sin, cos, tan, exp, log, sqrt, tanh, sigmoid, relu';
  const refusals: [string, Record<string, number>, string][] = [
    ['', {}, 'the expression is empty (e.g. "x*y + sin(x)")'],
    ['  \t ', {}, 'the expression is empty (e.g. "x*y + sin(x)")'],
    ['x*(y', { x: 1, y: 2 }, 'syntax error at character 5 of "x*(y": Parenthesis ) expected'],
    ['x +', { x: 1 }, 'syntax error at character 4 of "x +": Unexpected end of expression'],
    ['0x', {}, 'syntax error of "0x": String "0x" is not a valid number'],
    ['x + y + z * (w', { x: 1, y: 2, z: 3, w: 4 }, 'syntax error at character 15 of "x + y + z * (w": Parenthesis ) expected'],
    ['x @(char 3)', { x: 1 }, 'syntax error at character 3 of "x @(char 3)": Syntax error in part "@(char 3)"'],
    ['"\\\n"', {}, 'syntax error at character 2 of ""\\\n"": Bad escape character \\'], // only the last "(char N)" and the blank before it are cut
    ['true', {}, '"true" is not a number'],
    ['"5"', {}, '""5"" is not a number'],
    ['"text"', {}, '""text"" is not a number'],
    ['undefined', {}, '"undefined" is not a number'],
    ['1e400', {}, "a number in the expression is beyond float64's range (±1.8e308)"],
    ['x * y', { x: 1 }, '"y" has no value: give it with --at y=<number>'],
    ['x', { x: 1, z: 2 }, '--at z: "z" does not appear in the expression'],
    ['x % y', { x: 1, y: 2 }, 'operator "%" is not supported (use + - * / ^)'],
    ['x!', { x: 3 }, 'operator "!" is not supported (use + - * / ^)'],
    ['x == y', { x: 1, y: 2 }, 'operator "==" is not supported (use + - * / ^)'],
    ['sin(x, y)', { x: 1, y: 2 }, 'sin() takes one argument, got 2'],
    ['cos()', {}, 'cos() takes one argument, got 0'],
    ['log(x, y, x)', { x: 1, y: 2 }, 'log() takes one argument, got 3'],
    ['tan(x, x)', { x: 1 }, 'tan() takes one argument, got 2'],
    ['exp(x, x)', { x: 1 }, 'exp() takes one argument, got 2'],
    ['sqrt(x, x)', { x: 1 }, 'sqrt() takes one argument, got 2'],
    ['tanh(x, x)', { x: 1 }, 'tanh() takes one argument, got 2'],
    ['sigmoid(x, x)', { x: 1 }, 'sigmoid() takes one argument, got 2'],
    ['relu(x, x)', { x: 1 }, 'relu() takes one argument, got 2'],
    ['foo(x)', { x: 1 }, `unknown function foo(): supported are ${FUNCTIONS}`],
    ['[1, 2]', {}, `"[1, 2]" (ArrayNode) is not supported: use numbers, variables, + - * / ^ and ${FUNCTIONS}`],
    ['x ? y : 1', { x: 1, y: 2 }, `"x ? y : 1" (ConditionalNode) is not supported: use numbers, variables, + - * / ^ and ${FUNCTIONS}`],
    ['x + (y = 3)', { x: 1, y: 2 }, `"y = 3" (AssignmentNode) is not supported: use numbers, variables, + - * / ^ and ${FUNCTIONS}`],
  ];
  for (const [source, at, message] of refusals)
    it(`${JSON.stringify(source)}: ${message.slice(0, 60)}`, async () => {
      expect(await refusal(source, at)).toBe(message);
    });

  // Number(null) is 0, so "null" is taken for the number 0 where "undefined", "true" and "text" are refused.
  it('refuses "null" as not a number (Number() would read it as 0)', async () => {
    expect(await refusal('null')).toBe('"null" is not a number');
  });

  it("names inherited by every object (constructor, toString) are variables like any other, not the object's", async () => {
    expect(await refusal('x * constructor', { x: 2 })).toBe('"constructor" has no value: give it with --at constructor=<number>');
    expect(await refusal('toString')).toBe('"toString" has no value: give it with --at toString=<number>');
  });

  it('an expression nested deeper than the parser’s stack, by its length', async () => {
    const deep = '('.repeat(20_000) + 'x' + ')'.repeat(20_000);
    expect(await refusal(deep, { x: 1 })).toBe('the expression is nested too deeply for the parser (40001 characters)');
  });

  it('an unsupported part longer than 200 characters is named by its first 199 and an ellipsis', async () => {
    const items = Array.from({ length: 80 }, (_, i) => i).join(', ');
    const message = await refusal(`[${items}]`);
    expect(message).toBe(`"${`[${items}]`.slice(0, 199)}…" (ArrayNode) is not supported: use numbers, variables, + - * / ^ and ${FUNCTIONS}`);
  });
});

it('a long sum builds without recursion, shared leaves once', async () => {
  const e = await parseExpression(Array.from({ length: 5000 }, (_, i) => `x*${i % 7}`).join(' + '), { x: 2 });
  backward(e.root);
  const nodes: Node[] = topologicalOrder(e.root);
  expect(nodes.filter((n) => n.op === 'mul')).toHaveLength(7);
  expect(e.root.scalar).toBe(2 * Array.from({ length: 5000 }, (_, i) => i % 7).reduce((a, b) => a + b, 0));
});
