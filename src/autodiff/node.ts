import { Matrix } from '../linalg/index.js';

/**
 * A node of the computation graph (a DAG): its children, a value computed by
 * the forward pass and a gradient ∂root/∂value computed by the backward pass.
 * Values are float64 matrices; a scalar is 1×1.
 */
export class Node {
  /** ∂root/∂(this value), same shape as value; filled by backward(). */
  readonly grad: Matrix;

  constructor(
    /** Operation name ("add", "matmul", ...), "variable" or "constant". */
    readonly op: string,
    readonly children: readonly Node[],
    public value: Matrix,
    /** Recomputes value from the children's values (the forward rule); absent for leaves. */
    private readonly evaluate?: (self: Node) => void,
    /** Adds this node's δ = grad times ∂value/∂child into each child's grad (the backward rule). */
    private readonly pushBack?: (self: Node) => void,
    /** A variable's name, or a display label. */
    readonly label?: string,
  ) {
    this.grad = Matrix.zeros(value.rows, value.cols, 'float64');
  }

  get rows(): number {
    return this.value.rows;
  }

  get cols(): number {
    return this.value.cols;
  }

  get isScalar(): boolean {
    return this.value.rows === 1 && this.value.cols === 1;
  }

  /** The value of a 1×1 node. */
  get scalar(): number {
    return this.value.data[0];
  }

  /** Runs this node's forward rule (children must be current). */
  recompute(): void {
    this.evaluate?.(this);
  }

  /** Runs this node's backward rule (its own grad must be complete). */
  propagate(): void {
    this.pushBack?.(this);
  }
}

/**
 * The nodes reachable from root, children before parents, each exactly once
 * (iterative depth-first search: deep chains do not grow the call stack).
 */
export function topologicalOrder(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>([root]);
  const stack: [Node, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.children.length) {
      top[1] = i + 1;
      const child = node.children[i];
      if (!seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order;
}

/** Forward pass: evaluates every node after its children (after changing a variable's value). */
export function forward(root: Node, order = topologicalOrder(root)): Node {
  for (const n of order) n.recompute();
  return root;
}

/**
 * Backward pass: every gradient to 0, the root's to 1, then each node in
 * reverse topological order pushes its gradient to its children, which
 * accumulate it (a node with several parents sums what they send).
 */
export function backward(root: Node, order = topologicalOrder(root)): void {
  if (!root.isScalar) throw new Error(`backward needs a scalar root, got ${root.rows}x${root.cols}`);
  for (const n of order) n.grad.data.fill(0);
  root.grad.data[0] = 1;
  for (let i = order.length - 1; i >= 0; i--) order[i].propagate();
}
