import { decimal } from '../data/csv.js';
import { Command, InvalidArgumentError } from 'commander';
import { backward, topologicalOrder } from '../autodiff/node.js';
import { ExpressionError, parseExpression, type Expression } from '../autodiff/expression.js';
import { dot, fmt, textTree } from '../autodiff/render.js';
import { graphDifference } from '../check/finite-diff.js';
import { compare } from '../check/compare.js';
import { EXIT, UsageError } from './errors.js';
import { Output, style } from './output.js';
import { choiceOption, examples, oneOf } from './options.js';

/** Tolerance of --check: allclose |analytic − numeric| ≤ atol + rtol·|numeric|. */
export const GRAD_CHECK = { rtol: 1e-6, atol: 1e-8 };

interface GradOptions {
  at?: Record<string, number>;
  check: boolean;
  graph?: true | 'text' | 'dot';
  json: boolean;
}

/** Parses --at x=1,y=2. */
export function assignments(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(part);
    const x = m ? decimal(m[2]) : NaN;
    if (!m || !Number.isFinite(x) || m[2].trim() === '') throw new InvalidArgumentError(`"${part}" is not name=number (e.g. x=1,y=2).`);
    if (m[1] in out) throw new InvalidArgumentError(`${m[1]} is given twice.`);
    out[m[1]] = x;
  }
  return out;
}

export function gradCommand(): Command {
  return new Command('grad')
    .description('value and every partial derivative of an expression, by reverse-mode autodiff on a computation graph')
    .argument('<expression>', 'e.g. "x*y + sin(x)"; + - * / ^, sin cos tan exp log sqrt tanh sigmoid relu, pi, e')
    .option('--at <values>', 'the point, e.g. x=1,y=2', assignments)
    .option('--check', 'compare every derivative with centered finite differences', false)
    .addOption(choiceOption('--graph [format]', 'print the computation graph with values and gradients (text when no format is given)', ['text', 'dot'], oneOf(['text', 'dot'] as const)))
    .option('--json', 'print one JSON result on stdout', false)
    .addHelpText(
      'after',
      examples([
        ['the value, and ∂f/∂x and ∂f/∂y each checked against finite differences', 'backprop grad "x*y + sin(x)" --at x=1,y=2 --check'],
        ['one sigmoid neuron, with every node of its graph: value and gradient', 'backprop grad "sigmoid(w*x + b)" --at w=0.5,x=2,b=-1 --graph'],
        ['the graph in Graphviz dot', 'backprop grad "log(exp(a) + exp(b))" --at a=1,b=2 --graph dot'],
      ]),
    )
    .action(async (source: string, opts: GradOptions) => {
      process.exitCode = await runGrad(source.trim(), opts);
    });
}

/**
 * An expression that starts with "-" ("-x^2") would be taken for an unknown
 * option: in `backprop grad …` arguments, before any other positional, the
 * first one that starts with a single "-" and is not one of grad's options
 * (nor a value of --at) is the expression,
 * and moves, with a leading space, right after `grad`, where the option parser
 * leaves it alone.
 */
export function protectExpression(argv: string[]): string[] {
  const i0 = argv.indexOf('grad');
  if (i0 < 0 || argv.slice(2, i0).some((a) => !a.startsWith('-'))) return argv;
  const cmd = gradCommand();
  const takesValue = new Set(cmd.options.filter((o) => o.required).map((o) => o.long));
  const known = new Set(cmd.options.flatMap((o) => [o.long, o.short]).concat(['-h', '--help']));
  const out = argv.slice();
  for (let i = i0 + 1; i < out.length; i++) {
    const a = out[i];
    if (a === '--') break;
    if (!a.startsWith('-')) break; // the expression is already there: leave the rest to the parser
    const name = a.split('=')[0];
    if (known.has(name)) {
      if (takesValue.has(name) && !a.includes('=')) i++; // its value
      if (name === '--graph' && (out[i + 1] === 'text' || out[i + 1] === 'dot')) i++;
      continue;
    }
    if (a.startsWith('--')) break; // a misspelt long option, for the parser to name
    out.splice(i, 1);
    out.splice(i0 + 1, 0, ` ${a}`); // first, where no option can take it for its value
    break;
  }
  return out;
}

async function runGrad(source: string, opts: GradOptions): Promise<number> {
  // `… --graph dot | dot -Tsvg`: without --json, stdout carries the DOT alone and the rest goes to stderr.
  const dotOnStdout = opts.graph === 'dot' && !opts.json;
  const out = new Output(opts.json || dotOnStdout);
  let expr: Expression;
  try {
    expr = await parseExpression(source, opts.at ?? {});
  } catch (e) {
    if (e instanceof ExpressionError) throw new UsageError(e.message);
    throw e;
  }
  const { root, variables, text } = expr;
  const order = topologicalOrder(root);
  if (!root.isScalar) throw new UsageError('the expression must have a scalar value');
  backward(root, order);
  const names = [...variables.keys()].sort();
  const bad = order.find((n) => !Number.isFinite(n.scalar));
  if (bad) {
    const point = names.map((n) => `${n}=${opts.at![n]}`).join(', ');
    throw new UsageError(`non-finite result: ${text.get(bad) ?? bad.op} = ${bad.scalar} at ${point || 'no variables'}`);
  }
  const gradient = Object.fromEntries(names.map((n) => [n, variables.get(n)!.grad.data[0]]));
  for (const n of names) {
    if (!Number.isFinite(gradient[n])) throw new UsageError(`non-finite derivative: ∂/∂${n} = ${gradient[n]} (the expression is not differentiable there)`);
  }

  out.line(`${style.bold('f')} = ${source}`);
  if (names.length) out.line(`at ${names.map((n) => `${n} = ${fmt(opts.at![n])}`).join(', ')}`);
  out.line(`value   ${fmt(root.scalar)}`);
  for (const n of names) out.line(`∂f/∂${n}`.padEnd(8) + fmt(gradient[n]));
  out.line(style.dim(`${order.length} nodes, one forward and one backward pass`));

  let check: { h: Record<string, number>; numeric: Record<string, number>; absError: Record<string, number>; pass: boolean } | undefined;
  if (opts.check) {
    const h: Record<string, number> = {};
    const numeric: Record<string, number> = {};
    const absError: Record<string, number> = {};
    let pass = true;
    for (const n of names) {
      h[n] = 1e-6 * Math.max(1, Math.abs(opts.at![n]));
      numeric[n] = graphDifference(root, variables.get(n)!, h[n], order);
      absError[n] = Math.abs(gradient[n] - numeric[n]);
      const ok = compare([gradient[n]], [numeric[n]], GRAD_CHECK.rtol, GRAD_CHECK.atol).violations === 0;
      pass &&= ok;
      out.line(`check ∂f/∂${n}: finite differences ${fmt(numeric[n])} (h = ${h[n].toExponential(0)}), |Δ| = ${absError[n].toExponential(1)} ` + (ok ? style.good('PASS') : style.bad('FAIL')));
    }
    check = { h, numeric, absError, pass };
  }
  if (dotOnStdout) process.stdout.write(dot(root, text) + '\n');
  else if (opts.graph) {
    out.line('');
    out.line(opts.graph === 'dot' ? dot(root, text) : textTree(root, text));
  }
  if (opts.json)
    out.result({
      command: 'grad',
      expression: source,
      at: opts.at ?? {},
      value: root.scalar,
      gradient,
      nodes: order.length,
      check: check && { ...check, tolerance: GRAD_CHECK },
      graph: opts.graph ? (opts.graph === 'dot' ? dot(root, text) : textTree(root, text)) : undefined,
    });
  return check && !check.pass ? EXIT.failed : EXIT.ok;
}
