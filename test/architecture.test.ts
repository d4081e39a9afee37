import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layers of src/ and their one-way dependencies (docs/architecture.md, "Layers"):
// a folder may import from its own folder and from any folder of a lower rank,
// never from a folder of its own rank or above.
const RANK: Record<string, number> = {
  base: -1, // what every layer may use: the seeded RNG, durable atomic writes, the cache directory
  linalg: 0, // the kernel seam: Matrix, Kernels and the providers
  data: 1, // datasets as Matrix-ready examples
  autodiff: 1, // the graph engine, on Matrix values
  nn: 2, // the four equations: activations, costs, Network, backprop
  train: 3, // SGD over epochs, metrics, diagnosis
  io: 4, // model files and exports of a Network and its training state
  check: 4, // the oracles: finite differences, the graph engine, tfjs
  analysis: 4, // per-layer statistics and the compare study
  learners: 4, // the learners study
  report: 5, // charts and tables of what analysis and learners measured
  cli: 6, // the commands: options in, words and files out
};

// Upward imports the code has today, each with what would remove it. The list
// may only shrink: an entry that no longer occurs fails the test, so that it is
// deleted here when the code is fixed.
const KNOWN: Record<string, string> = {};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The relative module specifiers a file imports or re-exports, statically or with import(). */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  const patterns = [/^\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.[^'"]+)['"]/gm, /^\s*import\s+['"](\.[^'"]+)['"]/gm, /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g];
  for (const p of patterns) for (const m of text.matchAll(p)) out.push(m[1]);
  return out;
}

/** Every import from one folder of src/ into another: "src/a/x.ts -> src/b/y.ts". */
function crossFolderImports(): { edge: string; from: string; to: string }[] {
  const edges: { edge: string; from: string; to: string }[] = [];
  for (const file of sources(src)) {
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      const [from, to] = [file, target].map((f) => relative(src, f).split('/')[0]);
      if (from !== to) edges.push({ edge: `${relative(root, file)} -> ${relative(root, target)}`, from, to });
    }
  }
  return edges;
}

describe('architecture', () => {
  it('reads static, type-only, re-exported and dynamic imports', () => {
    const text = [
      "import { a } from '../nn/x.js';",
      "import type { B } from '../io/y.js';",
      "import {\n  c,\n  d,\n} from '../data/z.js';",
      "export { e } from '../cli/w.js';",
      "  const { f } = await import('../train/v.js');",
      "import 'node:fs'; import { g } from 'vitest';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['../nn/x.js', '../io/y.js', '../data/z.js', '../cli/w.js', '../train/v.js']);
  });

  it('every folder of src/ has a place in the layers', () => {
    const folders = readdirSync(src, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !(f in RANK))).toEqual([]);
  });

  it('no layer imports from its own rank or above, except the known cases', () => {
    const upward = crossFolderImports()
      .filter(({ from, to }) => RANK[to] >= RANK[from])
      .map((e) => e.edge);
    expect([...new Set(upward)].sort()).toEqual(Object.keys(KNOWN).sort());
  });

  it('nothing below the CLI imports it, and nn and linalg know nothing of datasets', () => {
    const edges = crossFolderImports();
    expect(edges.filter((e) => e.to === 'cli' && !(e.edge in KNOWN)).map((e) => e.edge)).toEqual([]);
    expect(edges.filter((e) => (e.from === 'nn' || e.from === 'linalg' || e.from === 'autodiff') && e.to === 'data' && !(e.edge in KNOWN)).map((e) => e.edge)).toEqual([]);
  });
});
