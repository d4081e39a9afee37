import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { create as Create, FactoryFunctionMap, parse as Parse } from 'mathjs';

/**
 * The files of mathjs (lib/cjs) that define `parse` and everything it needs:
 * mathjs's own `parseDependencies`, closed over the dependencies that are not
 * optional. Each file names the factory it exports.
 *
 * `import('mathjs')` builds every one of mathjs's ~600 functions and takes
 * about a second; these 36 factories, given to mathjs's `create`, give the
 * same parser in about a tenth of that. test/autodiff/mathjs-parse.test.ts
 * checks this list against `parseDependencies` of the installed mathjs.
 */
export const PARSE_FACTORIES: Record<string, string> = {
  createParse: 'expression/parse.js',
  createTyped: 'core/function/typed.js',
  createNumeric: 'function/utils/numeric.js',
  createNumber: 'type/number.js',
  createNode: 'expression/node/Node.js',
  createAccessorNode: 'expression/node/AccessorNode.js',
  createArrayNode: 'expression/node/ArrayNode.js',
  createAssignmentNode: 'expression/node/AssignmentNode.js',
  createBlockNode: 'expression/node/BlockNode.js',
  createConditionalNode: 'expression/node/ConditionalNode.js',
  createConstantNode: 'expression/node/ConstantNode.js',
  createFunctionAssignmentNode: 'expression/node/FunctionAssignmentNode.js',
  createFunctionNode: 'expression/node/FunctionNode.js',
  createIndexNode: 'expression/node/IndexNode.js',
  createObjectNode: 'expression/node/ObjectNode.js',
  createOperatorNode: 'expression/node/OperatorNode.js',
  createParenthesisNode: 'expression/node/ParenthesisNode.js',
  createRangeNode: 'expression/node/RangeNode.js',
  createRelationalNode: 'expression/node/RelationalNode.js',
  createSymbolNode: 'expression/node/SymbolNode.js',
  createResultSet: 'type/resultset/ResultSet.js',
  createIsBounded: 'function/utils/isBounded.js',
  createIsInteger: 'function/utils/isInteger.js',
  createSize: 'function/matrix/size.js',
  createSubset: 'function/matrix/subset.js',
  createZeros: 'function/matrix/zeros.js',
  createConcat: 'function/matrix/concat.js',
  createMatrix: 'type/matrix/function/matrix.js',
  createMatrixClass: 'type/matrix/Matrix.js',
  createDenseMatrixClass: 'type/matrix/DenseMatrix.js',
  createSparseMatrixClass: 'type/matrix/SparseMatrix.js',
  createBigNumberClass: 'type/bignumber/BigNumber.js',
  createAdd: 'function/arithmetic/add.js',
  createAddScalar: 'function/arithmetic/addScalar.js',
  createEqual: 'function/relational/equal.js',
  createEqualScalar: 'function/relational/equalScalar.js',
};

let cached: typeof Parse | undefined;

/** mathjs's `parse`, from a mathjs instance that holds only the parser's factories. */
export function mathjsParse(): typeof Parse {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  // mathjs's package exports only its entry points; its factory files sit beside the CommonJS one.
  const lib = dirname(require.resolve('mathjs'));
  const load = (file: string): Record<string, unknown> => require(join(lib, file)) as Record<string, unknown>;
  const factories: FactoryFunctionMap = {};
  for (const [name, file] of Object.entries(PARSE_FACTORIES)) factories[name] = load(file)[name] as FactoryFunctionMap[string];
  const create = load('core/create.js').create as typeof Create;
  cached = create(factories, {}).parse;
  return cached;
}
