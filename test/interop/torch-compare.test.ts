import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needs, PYTHON, ROOT, SYSTEM } from '../helpers.js';

// scripts/torch-compare.py: our new rules, schedules and regularisers against PyTorch's from the same
// weights (docs/guide/regularisers.md has its whole output). One case of each kind here, to stay cheap.
const CASES = ['sgd label-smoothing 0.1', 'sgd η=1 clip-norm 1', 'amsgrad λ=1e-3', 'rmsprop λ=1e-3', 'adagrad λ=1e-3', 'adam onecycle η=3e-3', 'sgd plateau factor 0.5 patience 0 (val-loss)'];

describe('scripts/torch-compare.py', () => {
  it('each case ends within 1e-9 of PyTorch in float64, with the same η and clipped steps', (ctx) => {
    needs(ctx, SYSTEM.torch);
    const r = spawnSync(PYTHON, [join(ROOT, 'scripts', 'torch-compare.py'), ...CASES.flatMap((c) => ['--case', c])], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').slice(1);
    expect(lines).toHaveLength(CASES.length);
    for (const line of lines) {
      expect(line).toMatch(/^ok {3}/);
      const diff = Number(/ (\d\.\de[-+]\d+) {2}\(the weights moved up to/.exec(line)?.[1]);
      expect(diff).toBeLessThanOrEqual(1e-9);
    }
    expect(r.stdout).toMatch(/η per epoch: ours \[0\.8, 0\.8, 0\.4, 0\.4, 0\.4\], torch \[0\.8, 0\.8, 0\.4, 0\.4, 0\.4\]/); // plateau dropped η
  }, 600_000);
});
