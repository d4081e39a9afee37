import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Matrix } from '../src/linalg/index.js';
import { Rng } from '../src/nn/rng.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BIN = fileURLToPath(new URL('../bin/backprop', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../datasets/fixtures', import.meta.url));
export const FASHION = '/usr/share/datasets/fashion-mnist';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI (built by `npm install`/`npm ci` via the prepare script). */
export function cli(args: string[], opts: { cwd?: string; timeout?: number; env?: Record<string, string> } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...opts.env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function randomMatrix(rng: Rng, rows: number, cols: number, dtype: 'float32' | 'float64' = 'float64'): Matrix {
  const m = Matrix.zeros(rows, cols, dtype);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal();
  return m;
}

/** One-hot targets for labels, one column per example. */
export function oneHot(labels: number[], classes: number, dtype: 'float32' | 'float64' = 'float64'): Matrix {
  const y = Matrix.zeros(classes, labels.length, dtype);
  labels.forEach((l, j) => y.set(l, j, 1));
  return y;
}

/** Runs the CLI without blocking the event loop (for tests that serve HTTP in this process). */
export function cliAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A safetensors file with its JSON header rewritten by `edit` (to make bad model files). */
export function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
  edit(h);
  const json = Buffer.from(JSON.stringify(h));
  const out = Buffer.alloc(8 + json.length + bytes.length - 8 - n);
  out.writeBigUInt64LE(BigInt(json.length));
  json.copy(out, 8);
  Buffer.from(bytes.subarray(8 + n)).copy(out, 8 + json.length);
  return out;
}
