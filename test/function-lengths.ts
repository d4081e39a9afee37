import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/** Every .ts file under dir. */
export function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
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
export function longFunctions(root: string, files: string[], over: number): Record<string, number> {
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
