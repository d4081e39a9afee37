// The graph views of `backprop grad --graph` (text and Graphviz dot), in-process: the CLI tests run dist/, which
// mutation testing does not reach. Every line is compared whole.
import { describe, expect, it } from 'vitest';
import { Matrix } from '../../src/linalg/index.js';
import { parseExpression } from '../../src/autodiff/expression.js';
import { backward } from '../../src/autodiff/node.js';
import * as g from '../../src/autodiff/ops.js';
import { dot, fmt, textTree } from '../../src/autodiff/render.js';

async function graph(source: string, at: Record<string, number>) {
  const e = await parseExpression(source, at);
  backward(e.root);
  return e;
}

/** A graph built without source text: a matrix product, a sum, and a variable whose name needs escaping in dot. */
function matrixGraph() {
  const A = g.variable('A', Matrix.from(2, 2, [1, 2, 3, 4], 'float64'));
  const q = g.variable('q"\\', 1);
  const root = g.add(g.sum(g.matmul(A, A)), g.mul(q, g.constant(1 / 3)));
  backward(root);
  return root;
}

describe('fmt', () => {
  it('12 significant digits, no trailing zeros, non-finite values by name', () => {
    expect([1 / 3, 2 / 3, 0.1 + 0.2, 1e21, 123456789012345, -2.5, 0, 1e-7].map(fmt)).toEqual(['0.333333333333', '0.666666666667', '0.3', '1e+21', '123456789012000', '-2.5', '0', '1e-7']);
    expect([Infinity, -Infinity, NaN].map(fmt)).toEqual(['Infinity', '-Infinity', 'NaN']);
  });
});

describe('textTree', () => {
  it('x*x + x: the shared x expanded once, referred to by number elsewhere', async () => {
    const e = await graph('x*x + x', { x: 3 });
    expect(textTree(e.root, e.text)).toBe(
      [
        '#3 add  x * x + x  = 12  ∂ = 1',
        '├─ #2 mul  x * x  = 9  ∂ = 1',
        '│  ├─ #1 x (variable)  = 3  ∂ = 7',
        '│  └─ #1 x (variable)  (shared: see above)',
        '└─ #1 x (variable)  (shared: see above)',
      ].join('\n'),
    );
  });

  it('a deeper tree: branches, continued and finished, and constants without values', async () => {
    const e = await graph('sigmoid(w*x + b) - log(x, 2)', { w: 0.5, x: 2, b: -1 });
    expect(textTree(e.root, e.text)).toBe(
      [
        '#11 sub  sigmoid(w * x + b) - log(x, 2)  = -0.5  ∂ = 1',
        '├─ #6 sigmoid  sigmoid(w * x + b)  = 0.5  ∂ = 1',
        '│  └─ #5 add  w * x + b  = 0  ∂ = 0.25',
        '│     ├─ #3 mul  w * x  = 1  ∂ = 0.25',
        '│     │  ├─ #1 w (variable)  = 0.5  ∂ = 0.5',
        '│     │  └─ #2 x (variable)  = 2  ∂ = -0.596347520444',
        '│     └─ #4 b (variable)  = -1  ∂ = 0.25',
        '└─ #10 div  log(x, 2)  = 1  ∂ = -1',
        '   ├─ #7 log  = 0.69314718056  ∂ = -1.44269504089',
        '   │  └─ #2 x (variable)  (shared: see above)',
        '   └─ #9 log  = 0.69314718056  ∂ = 1.44269504089',
        '      └─ #8 2',
      ].join('\n'),
    );
  });

  it('matrices by their shape; nodes without source text by their operation; a constant by its value', () => {
    expect(textTree(matrixGraph(), new Map())).toBe(
      [
        '#7 add  = 54.3333333333  ∂ = 1',
        '├─ #3 sum  = 54  ∂ = 1',
        '│  └─ #2 matmul  2x2',
        '│     ├─ #1 A (variable)  2x2',
        '│     └─ #1 A (variable)  (shared: see above)',
        '└─ #6 mul  = 0.333333333333  ∂ = 1',
        '   ├─ #4 q"\\ (variable)  = 1  ∂ = 0.333333333333',
        '   └─ #5 0.333333333333',
      ].join('\n'),
    );
  });

  it('a lone variable or constant', async () => {
    const e = await graph('x', { x: 3 });
    expect(textTree(e.root, e.text)).toBe('#1 x (variable)  = 3  ∂ = 1');
    const pi = await graph('pi', {});
    expect(textTree(pi.root, pi.text)).toBe('#1 pi');
  });

  it('source text longer than 40 characters is cut to 39 and an ellipsis; 40 are kept', async () => {
    const a40 = 'a'.repeat(36),
      a41 = 'a'.repeat(37);
    const kept = await graph(`${a40} + b`, { [a40]: 1, b: 2 });
    expect(textTree(kept.root, kept.text).split('\n')[0]).toBe(`#3 add  ${a40} + b  = 3  ∂ = 1`);
    const cut = await graph(`${a41} + b`, { [a41]: 1, b: 2 });
    expect(textTree(cut.root, cut.text).split('\n')[0]).toBe(`#3 add  ${`${a41} + b`.slice(0, 39)}…  = 3  ∂ = 1`);
  });
});

describe('dot', () => {
  it('x*x + x: one box per node (variables blue, the root yellow), an edge per use', async () => {
    const e = await graph('x*x + x', { x: 3 });
    expect(dot(e.root, e.text)).toBe(
      [
        'digraph backprop {',
        '  rankdir=BT;',
        '  node [shape=box, fontname="monospace"];',
        '  n1 [label="x (variable)\\nvalue 3\\ngrad 7", style=filled, fillcolor="#dbeafe"];',
        '  n2 [label="mul  x * x\\nvalue 9\\ngrad 1"];',
        '  n3 [label="add  x * x + x\\nvalue 12\\ngrad 1", style=filled, fillcolor="#fde68a"];',
        '  n1 -> n2;',
        '  n1 -> n2;',
        '  n2 -> n3;',
        '  n1 -> n3;',
        '}',
      ].join('\n'),
    );
  });

  it('matrices by their shape, constants by their value alone, quotes and backslashes escaped', () => {
    expect(dot(matrixGraph(), new Map())).toBe(
      [
        'digraph backprop {',
        '  rankdir=BT;',
        '  node [shape=box, fontname="monospace"];',
        '  n1 [label="A (variable)\\n2x2", style=filled, fillcolor="#dbeafe"];',
        '  n2 [label="matmul\\n2x2"];',
        '  n3 [label="sum\\nvalue 54\\ngrad 1"];',
        '  n4 [label="q\\"\\\\ (variable)\\nvalue 1\\ngrad 0.333333333333", style=filled, fillcolor="#dbeafe"];',
        '  n5 [label="0.333333333333"];',
        '  n6 [label="mul\\nvalue 0.333333333333\\ngrad 1"];',
        '  n7 [label="add\\nvalue 54.3333333333\\ngrad 1", style=filled, fillcolor="#fde68a"];',
        '  n1 -> n2;',
        '  n1 -> n2;',
        '  n2 -> n3;',
        '  n4 -> n6;',
        '  n5 -> n6;',
        '  n3 -> n7;',
        '  n6 -> n7;',
        '}',
      ].join('\n'),
    );
  });

  it('a named constant by its name; a variable that is the root is drawn as a variable', async () => {
    const e = await graph('pi * x', { x: 1 });
    expect(dot(e.root, e.text).split('\n')[3]).toBe('  n1 [label="pi"];');
    const x = await graph('x', { x: 1 });
    expect(dot(x.root, x.text).split('\n')[3]).toBe('  n1 [label="x (variable)\\nvalue 1\\ngrad 1", style=filled, fillcolor="#dbeafe"];');
  });
});
