import { InvalidArgumentError, type Command } from 'commander';
import type { Available, BackendName, DType } from '../linalg/index.js';
import { providerFor } from '../linalg/precision.js';
import { style, type Output } from './output.js';

export const DTYPES: readonly DType[] = ['float32', 'float64'];

export function dtypeName(v: string): DType {
  if (!(DTYPES as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected ${DTYPES.join(' or ')}.`);
  return v as DType;
}

/** --dtype: the number type of the weights and of every product (wasm and tensorflow compute float32 only). */
export function addDtypeOption(cmd: Command, help = 'number type of weights and arithmetic: float32 (default) or float64 (float64 runs on blas or js)'): Command {
  return cmd.option('--dtype <type>', help, dtypeName);
}

/** The provider for --backend and --dtype; a fallback from a float32-only provider is said on one line. */
export async function providerForDtype(opts: { backend: BackendName }, dtype: DType, out: Output): Promise<Available> {
  const c = await providerFor(opts.backend, dtype);
  if (c.fallback) out.line(style.warn(c.fallback));
  return c.provider;
}
