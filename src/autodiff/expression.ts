import type { ConstantNode, FunctionNode, MathNode, OperatorNode, ParenthesisNode, SymbolNode } from 'mathjs';
import { Node } from './node.js';
import * as g from './ops.js';
import { mathjsParse } from './mathjs-parse.js';

/** A mistake in the expression or its values: the CLI prints it on one line and exits 2. */
export class ExpressionError extends Error {
  override name = 'ExpressionError';
}

/** An expression as our computation graph: the root, one variable node per name, and each node's source text. */
export interface Expression {
  root: Node;
  variables: Map<string, Node>;
  /** The sub-expression each node computes, for messages and the graph view. */
  text: Map<Node, string>;
}

/** Longest source text kept per node (for messages and the graph view). */
const TEXT_MAX = 200;

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E, tau: 2 * Math.PI };
const FUNCTIONS = ['sin', 'cos', 'tan', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu'] as const;

/**
 * Parses an expression with mathjs's parser (a well-kept one) and builds our
 * own graph from its syntax tree. Identical sub-expressions become one node,
 * so the graph is a DAG: in x*x + x, the node x has three parents.
 */
export async function parseExpression(source: string, at: Record<string, number>): Promise<Expression> {
  if (source.trim() === '') throw new ExpressionError('the expression is empty (e.g. "x*y + sin(x)")');
  const parse = mathjsParse();
  let tree: MathNode;
  try {
    tree = parse(source);
  } catch (e) {
    if (e instanceof RangeError) throw new ExpressionError(`the expression is nested too deeply for the parser (${source.length} characters)`);
    const err = e as Error & { char?: number };
    const where = err.char !== undefined ? ` at character ${err.char}` : '';
    const msg = err.message.replace(/\s*\(char \d+\)$/, '');
    throw new ExpressionError(`syntax error${where} of "${source}": ${msg}`);
  }
  const variables = new Map<string, Node>();
  const text = new Map<Node, string>();
  const shared = new Map<string, Node>();
  const id = new Map<Node, number>();
  const built = new Map<MathNode, Node>();
  const shown = new Map<MathNode, string>();
  const childrenOf = (t: MathNode): MathNode[] =>
    t.type === 'ParenthesisNode' ? [(t as ParenthesisNode).content] : t.type === 'OperatorNode' || t.type === 'FunctionNode' ? (t as OperatorNode | FunctionNode).args : [];

  // Identity of a sub-expression: its operation and the ids of its children's
  // nodes (built first), so the key has constant size and x*y in two places
  // becomes one node. Building it from each node's full text would cost time
  // quadratic in the expression's length (and recursion as deep as its tree).
  const keyOf = (t: MathNode): string => {
    const kids = childrenOf(t)
      .map((c) => id.get(built.get(c)!))
      .join(',');
    switch (t.type) {
      case 'ConstantNode':
        return `c:${String((t as ConstantNode).value)}`;
      case 'SymbolNode':
        return `s:${(t as SymbolNode).name}`;
      case 'OperatorNode':
        return `o:${(t as OperatorNode).fn}(${kids})`;
      case 'FunctionNode':
        return `f:${(t as FunctionNode).fn.name}(${kids})`;
      default:
        return `?:${t.type}(${kids})`;
    }
  };

  // The source text of a sub-expression, from its children's (cut at TEXT_MAX characters: it is for messages).
  const textOf = (t: MathNode): string => {
    const kids = childrenOf(t).map((c) => shown.get(c)!);
    let s: string;
    switch (t.type) {
      case 'ParenthesisNode':
        s = `(${kids[0]})`;
        break;
      case 'OperatorNode': {
        const o = t as OperatorNode;
        s = kids.length === 1 ? `${o.op}${kids[0]}` : o.implicit ? kids.join(' ') : kids.join(` ${o.op} `);
        break;
      }
      case 'FunctionNode':
        s = `${(t as FunctionNode).fn.name}(${kids.join(', ')})`;
        break;
      case 'SymbolNode':
        s = (t as SymbolNode).name;
        break;
      case 'ConstantNode':
        s = String((t as ConstantNode).value);
        break;
      default:
        s = t.toString(); // an unsupported kind of node, refused by convert()
    }
    return s.length > TEXT_MAX ? s.slice(0, TEXT_MAX - 1) + '…' : s;
  };

  /** Our node for every node of mathjs's tree, children first, with an explicit stack: long expressions do not recurse. */
  const build = (top: MathNode): Node => {
    const stack: [MathNode, boolean][] = [[top, false]];
    while (stack.length) {
      const [t, expanded] = stack.pop()!;
      if (built.has(t)) continue;
      if (!expanded) {
        stack.push([t, true]);
        const kids = childrenOf(t);
        for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], false]);
        continue;
      }
      shown.set(t, textOf(t));
      if (t.type === 'ParenthesisNode') {
        built.set(t, built.get((t as ParenthesisNode).content)!);
        continue;
      }
      const key = keyOf(t);
      let n = shared.get(key);
      if (!n) {
        n = convert(t);
        shared.set(key, n);
        if (!id.has(n)) id.set(n, id.size);
        if (!text.has(n)) text.set(n, shown.get(t)!);
      }
      built.set(t, n);
    }
    return built.get(top)!;
  };

  const convert = (t: MathNode): Node => {
    switch (t.type) {
      case 'ConstantNode': {
        const v: unknown = (t as ConstantNode).value;
        // Numbers only: not true, "text", null or undefined (which Number() would read as 1, NaN, 0 and NaN).
        if (typeof v !== 'number') throw new ExpressionError(`"${t.toString()}" is not a number`);
        if (!Number.isFinite(v)) throw new ExpressionError(`a number in the expression is beyond float64's range (±1.8e308)`);
        return g.constant(v);
      }
      case 'SymbolNode': {
        const name = (t as SymbolNode).name;
        if (Object.hasOwn(at, name)) {
          let v = variables.get(name);
          if (!v) variables.set(name, (v = g.variable(name, at[name])));
          return v;
        }
        if (Object.hasOwn(CONSTANTS, name)) return g.constant(CONSTANTS[name], name);
        throw new ExpressionError(`"${name}" has no value: give it with --at ${name}=<number>`);
      }
      case 'OperatorNode': {
        const o = t as OperatorNode<never, never>;
        const args = o.args.map((a) => built.get(a)!);
        const fn = o.fn as string;
        if (args.length === 1 && fn === 'unaryMinus') return g.neg(args[0]);
        if (args.length === 1 && fn === 'unaryPlus') return args[0];
        if (args.length === 2) {
          const [a, b] = args;
          switch (fn) {
            case 'add':
              return g.add(a, b);
            case 'subtract':
              return g.sub(a, b);
            case 'multiply':
              return g.mul(a, b);
            case 'divide':
              return g.div(a, b);
            case 'pow':
              return g.pow(a, b);
          }
        }
        throw new ExpressionError(`operator "${o.op}" is not supported (use + - * / ^)`);
      }
      case 'FunctionNode': {
        const f = t as FunctionNode;
        const name = f.fn.name;
        const args = f.args.map((a) => built.get(a)!);
        const one = () => {
          if (args.length !== 1) throw new ExpressionError(`${name}() takes one argument, got ${args.length}`);
          return args[0];
        };
        switch (name as (typeof FUNCTIONS)[number]) {
          case 'sin':
            return g.sin(one());
          case 'cos':
            return g.cos(one());
          case 'tan': {
            const x = one();
            return g.div(g.sin(x), g.cos(x));
          }
          case 'exp':
            return g.exp(one());
          case 'log':
            if (args.length === 2) return g.div(g.log(args[0]), g.log(args[1])); // log(x, base)
            return g.log(one());
          case 'sqrt':
            return g.pow(one(), g.constant(0.5));
          case 'tanh':
            return g.tanh(one());
          case 'sigmoid':
            return g.sigmoid(one());
          case 'relu':
            return g.relu(one());
        }
        throw new ExpressionError(`unknown function ${name}(): supported are ${FUNCTIONS.join(', ')}`);
      }
      default:
        throw new ExpressionError(`"${shown.get(t)}" (${t.type}) is not supported: use numbers, variables, + - * / ^ and ${FUNCTIONS.join(', ')}`);
    }
  };

  const root = build(tree);
  for (const name of Object.keys(at)) {
    if (!variables.has(name)) throw new ExpressionError(`--at ${name}: "${name}" does not appear in the expression`);
  }
  return { root, variables, text };
}
