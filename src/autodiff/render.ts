import { topologicalOrder, type Node } from './node.js';

/** A number with 12 significant digits, without trailing zeros. */
export function fmt(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(12))) : String(v);
}

function describe(n: Node, text: Map<Node, string>): string {
  if (n.op === 'variable') return `${n.label} (variable)`;
  if (n.op === 'constant') return n.label ?? fmt(n.scalar);
  const src = text.get(n);
  return src ? `${n.op}  ${src.length > 40 ? src.slice(0, 39) + '…' : src}` : n.op;
}

function values(n: Node): string {
  return n.isScalar ? `= ${fmt(n.scalar)}  ∂ = ${fmt(n.grad.data[0])}` : `${n.rows}x${n.cols}`;
}

/** Levels of a text tree drawn with their full indentation; deeper ones show their depth instead of the far left of it. */
export const TREE_INDENT_LEVELS = 40;

/**
 * The graph as a text tree from the root, each node with its value and its
 * gradient ∂root/∂node. A node with several parents is expanded under the
 * first and referred to by its number elsewhere. Iterative: deep graphs print.
 * The indentation keeps at most TREE_INDENT_LEVELS levels: a 60,000-term sum
 * is 60,000 levels deep, and its full indentation would be 5.4 billion
 * characters (the lines of deeper nodes start with `[depth d]` instead).
 */
export function textTree(root: Node, text: Map<Node, string>): string {
  const order = topologicalOrder(root);
  const id = new Map(order.map((n, i) => [n, i + 1]));
  const shown = new Set<Node>();
  const lines: string[] = [];
  const stack: { n: Node; prefix: string; last: boolean; top: boolean; depth: number }[] = [{ n: root, prefix: '', last: true, top: true, depth: 0 }];
  while (stack.length) {
    const { n, prefix, last, top, depth } = stack.pop()!;
    const branch = top ? '' : last ? '└─ ' : '├─ ';
    const cut = depth > TREE_INDENT_LEVELS ? `[depth ${depth}] ` : '';
    const head = `${cut}${prefix}${branch}#${id.get(n)} ${describe(n, text)}`;
    if (shown.has(n)) {
      lines.push(`${head}  (shared: see above)`);
      continue;
    }
    shown.add(n);
    lines.push(n.op === 'constant' ? head : `${head}  ${values(n)}`);
    let childPrefix = top ? '' : prefix + (last ? '   ' : '│  ');
    if (childPrefix.length > 3 * TREE_INDENT_LEVELS) childPrefix = childPrefix.slice(3);
    for (let i = n.children.length - 1; i >= 0; i--) {
      stack.push({ n: n.children[i], prefix: childPrefix, last: i === n.children.length - 1, top: false, depth: depth + 1 });
    }
  }
  return lines.join('\n');
}

/** The graph in Graphviz DOT: one box per node (value, gradient), edges from child to parent. */
export function dot(root: Node, text: Map<Node, string>): string {
  const order = topologicalOrder(root);
  const id = new Map(order.map((n, i) => [n, i + 1]));
  const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const lines = ['digraph backprop {', '  rankdir=BT;', '  node [shape=box, fontname="monospace"];'];
  for (const n of order) {
    const label = n.op === 'constant' ? describe(n, text) : `${describe(n, text)}\\n${n.isScalar ? `value ${fmt(n.scalar)}\\ngrad ${fmt(n.grad.data[0])}` : `${n.rows}x${n.cols}`}`;
    const style = n.op === 'variable' ? ', style=filled, fillcolor="#dbeafe"' : n === root ? ', style=filled, fillcolor="#fde68a"' : '';
    lines.push(`  n${id.get(n)} [label="${esc(label).replace(/\\\\n/g, '\\n')}"${style}];`);
  }
  for (const n of order) for (const c of n.children) lines.push(`  n${id.get(c)} -> n${id.get(n)};`);
  lines.push('}');
  return lines.join('\n');
}
