#!/usr/bin/env node
// The NTK regression of `backprop learners --learners ntk`, timed against the
// same regression in numpy (the same kernel formula, ridge and data), in one
// run on the same machine: numpy first, then ours, `--rounds N` times.
// Usage: npm run build && node scripts/ntk-vs-numpy.mjs [--rounds N] [--backend blas]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEmbedded } from '../dist/data/embedded.js';
import { getKernels } from '../dist/linalg/index.js';
import { NTK_DEFAULTS, NtkLearner } from '../dist/learners/ntk.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const rounds = Number(arg('--rounds', '1'));
const backend = arg('--backend', 'blas');

const PY = String.raw`
import sys, time, json, numpy as np
d = sys.argv[1]; hidden = int(sys.argv[2]); ridge = float(sys.argv[3])
X = np.fromfile(d + '/trainx', dtype=np.float32).reshape(-1, 784).astype(np.float64); y = np.fromfile(d + '/trainy', dtype=np.uint8)
Xt = np.fromfile(d + '/testx', dtype=np.float32).reshape(-1, 784).astype(np.float64); yt = np.fromfile(d + '/testy', dtype=np.uint8)
def ntk(A, B):
    K = 2 * (A @ B.T) / A.shape[1]
    da = 2 * (A * A).sum(1) / A.shape[1]; db = 2 * (B * B).sum(1) / B.shape[1]
    norm = np.sqrt(np.outer(da, db)); T = K.copy()
    for _ in range(hidden):
        c = np.clip(K / norm, -1, 1); t = np.arccos(c)
        K = norm * (np.sqrt(1 - c * c) + (np.pi - t) * c) / np.pi
        T = T * (np.pi - t) / np.pi + K
    return T
t0 = time.perf_counter()
K = ntk(X, X); n = len(y)
K[np.diag_indices(n)] += ridge * np.trace(K) / n
t1 = time.perf_counter()
try:
    from scipy.linalg import cho_factor, cho_solve
    alpha = cho_solve(cho_factor(K, lower=True, overwrite_a=True, check_finite=False), np.eye(10)[y], check_finite=False); how = 'scipy cho_factor/cho_solve'
except ImportError:
    alpha = np.linalg.solve(K, np.eye(10)[y]); how = 'numpy.linalg.solve'
t2 = time.perf_counter()
acc = float((np.argmax(ntk(Xt, X) @ alpha, 1) == yt).mean())
t3 = time.perf_counter()
print(json.dumps({'accuracy': acc, 'kernel': t1 - t0, 'solve': t2 - t1, 'predict': t3 - t2, 'total': t3 - t0, 'solver': how, 'numpy': np.__version__}))
`;

const ds = loadEmbedded();
const dir = mkdtempSync(join(tmpdir(), 'ntk-'));
try {
  for (const [name, ex] of [
    ['train', ds.train],
    ['test', ds.test],
  ]) {
    writeFileSync(join(dir, name + 'x'), ex.features);
    writeFileSync(join(dir, name + 'y'), ex.labels);
  }
  const kernels = await getKernels(backend);
  for (let r = 1; r <= rounds; r++) {
    const py = spawnSync('python3', ['-c', PY, dir, String(NTK_DEFAULTS.hidden), String(NTK_DEFAULTS.ridge)], { encoding: 'utf8' });
    if (py.status !== 0) console.log(`round ${r} numpy: failed: ${py.stderr.trim().split('\n').pop()}`);
    else {
      const p = JSON.parse(py.stdout);
      console.log(
        `round ${r} numpy ${p.numpy}: ${(100 * p.accuracy).toFixed(2)}% in ${p.total.toFixed(1)} s (kernel ${p.kernel.toFixed(1)} s, ${p.solver} ${p.solve.toFixed(1)} s, predict ${p.predict.toFixed(1)} s)`,
      );
    }
    const l = new NtkLearner(NTK_DEFAULTS, ds.classes);
    const t0 = performance.now();
    const fit = await l.fit(ds, { kernels, seed: 1, budget: {}, test: ds.test });
    const total = (performance.now() - t0) / 1000;
    const d = fit.details;
    console.log(
      `round ${r} backprop ${kernels.name}: ${(100 * fit.trace[0].testAccuracy).toFixed(2)}% in ${total.toFixed(1)} s (kernel ${d['kernel seconds'].toFixed(1)} s, ${d.solver} ${d['solve seconds'].toFixed(1)} s, predict ${(total - d['kernel seconds'] - d['solve seconds']).toFixed(1)} s)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
