import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
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

/** The name a function is known by: its own, its class's and method's, or the variable or property it is assigned to. */
function nameOf(node: ts.Node, sf: ts.SourceFile): string | undefined {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node)) && node.name) {
    const cls = node.parent && ts.isClassDeclaration(node.parent) && node.parent.name ? `${node.parent.name.text}.` : '';
    return cls + node.name.getText(sf);
  }
  if (ts.isConstructorDeclaration(node) && ts.isClassDeclaration(node.parent) && node.parent.name) return `${node.parent.name.text}.constructor`;
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
    const p = node.parent;
    if (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) return p.name.getText(sf);
    if (ts.isMethodDeclaration(p)) return undefined;
  }
  return undefined;
}

/**
 * The functions of the files with more than `over` lines, as "path:name" → lines
 * (from the line of its first token to the line of its last, both counted). A
 * function's lines include the functions nested in it; an anonymous callback is
 * counted only as part of the function that holds it.
 */
function longFunctions(root: string, files: string[], over: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      const name = ts.isFunctionLike(node) ? nameOf(node, sf) : undefined;
      if (name) {
        const lines = sf.getLineAndCharacterOfPosition(node.getEnd()).line - sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        if (lines > over) out[`${relative(root, file)}:${name}`] = lines;
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return out;
}

// Functions of src/ over 60 lines, by "file:name", with their length today. Like tinygrad's line
// budget, the list may only shrink: a new function over 60 lines fails, a listed one that grew
// fails, and one that shrank to 60 or fewer (or was removed) fails until its entry is deleted here.
// A function's lines run from its first token to its last and include the functions nested in it;
// an anonymous callback counts only as part of the function that holds it.
// Today's numbers: the features of 2026-12-06 (conv layers, batch normalisation, the learner harness,
// download retries) grew decodeSafetensors, getInto, trainingCharts and wasmKernels; they are the
// new baseline, to shrink from.
const LONG_FUNCTIONS: Record<string, number> = {
  'src/autodiff/expression.ts:parseExpression': 188,
  'src/report/compare-charts.ts:compareCharts': 121,
  'src/learners/rbm.ts:RbmLearner.fit': 90,
  'src/learners/ode.ts:OdeLearner.fit': 77,
  'src/report/training.ts:trainingCharts': 115,
  'src/learners/ga.ts:GaLearner.fit': 73,
  'src/data/fetch.ts:getInto': 102,
  'src/autodiff/expression.ts:convert': 79,
  'src/io/safetensors.ts:decodeSafetensors': 111,
  'src/train/session.ts:runTraining': 72,
  'src/linalg/wasm.ts:wasmKernels': 73,
  'src/cli/grad.ts:runGrad': 66,
  'src/data/image.ts:toMnist': 66,
  'src/linalg/js.ts:rowStream': 65,
  // added 2026-12-06, when conv layers, batch normalisation, the learner harness and the download retries landed:
  'src/learners/ode-solvers.ts:odeSolveSteps': 100,
  'src/io/tfjs-export.ts:exportTfjs': 83,
  'src/linalg/blas.ts:loadOne': 78,
  'src/check/gradcheck.ts:gradcheck': 68,
  'src/data/fetch.ts:fetchFile': 68,
  'src/check/parity.ts:trainParity': 62,
};

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

  it('functions over 60 lines: the list may only shrink', () => {
    const long = longFunctions(root, sources(src), 60);
    const news = Object.keys(long).filter((f) => !(f in LONG_FUNCTIONS));
    const grown = Object.keys(long).filter((f) => f in LONG_FUNCTIONS && long[f] > LONG_FUNCTIONS[f]);
    const shrunk = Object.keys(LONG_FUNCTIONS).filter((f) => !(f in long) || long[f] < LONG_FUNCTIONS[f]);
    expect({ new: news.map((f) => `${f}: ${long[f]} lines`), grown: grown.map((f) => `${f}: ${LONG_FUNCTIONS[f]} → ${long[f]} lines`) }).toEqual({ new: [], grown: [] });
    // Shorter than listed: lower its number here (or delete its entry at 60 lines or fewer), so that it cannot grow back.
    expect(shrunk.map((f) => `${f}: ${LONG_FUNCTIONS[f]} → ${long[f] ?? '≤ 60'} lines`)).toEqual([]);
  });

  it('the function-length parser counts named functions, methods and arrows, not anonymous callbacks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-arch-'));
    const file = join(dir, 'x.ts');
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    writeFileSync(file, [`export function a() {`, body(3), `}`, `class K {`, `  m() {`, body(4), `  }`, `}`, `const f = () => {`, body(2), `};`, `[1].map(() => {`, body(9), `});`].join('\n'));
    expect(longFunctions(dir, [file], 2)).toEqual({ 'x.ts:a': 5, 'x.ts:K.m': 6, 'x.ts:f': 4 });
    expect(longFunctions(dir, [file], 5)).toEqual({ 'x.ts:K.m': 6 });
  });

  it('no function in src/cli/ is over 80 lines, outside the list above', () => {
    const long = longFunctions(root, sources(join(src, 'cli')), 80);
    expect(Object.keys(long).filter((f) => !(f in LONG_FUNCTIONS))).toEqual([]);
  });

  it('nothing below the CLI imports it, and nn and linalg know nothing of datasets', () => {
    const edges = crossFolderImports();
    expect(edges.filter((e) => e.to === 'cli' && !(e.edge in KNOWN)).map((e) => e.edge)).toEqual([]);
    expect(edges.filter((e) => (e.from === 'nn' || e.from === 'linalg' || e.from === 'autodiff') && e.to === 'data' && !(e.edge in KNOWN)).map((e) => e.edge)).toEqual([]);
  });
});

describe('the tests themselves', () => {
  // A skip must say why, in the report: ctx.skip(reason), or needs()/needsTmpfs() in test/helpers.ts, which fail
  // instead under BACKPROP_REQUIRE_SYSTEM=1 (.ci/run). skipIf/runIf skipped the learners' disk-full case in CI unseen.
  it('no test skips without its reason: no skipIf, runIf, skip, todo or only modifiers; each ctx.skip names why', () => {
    const found: string[] = [];
    for (const file of sources(join(root, 'test'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\b(it|test|describe)\.(skipIf|runIf|skip|todo|only)\b|\bctx\.skip\(\s*\)/.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });
});
