// Prints the peak memory of a neural ODE's gradient against the number of RK4 steps,
// adjoint method versus backprop through the stored steps, then what each costs with
// the adaptive Dormand–Prince solver. Run after `npm run build`:
//   node scripts/ode-memory.mjs
import { jsKernels, Matrix } from '../dist/linalg/index.js';
import { gradientMemory, memoryTable } from '../dist/learners/ode-memory.js';
import { OdeNet } from '../dist/learners/ode.js';
import { Rng } from '../dist/base/rng.js';

console.log('one gradient of a batch of 64 (state 32, f 32-32-32, float64):');
console.log(memoryTable(await gradientMemory(jsKernels, [8, 16, 32, 64, 128, 256])));

const net = new OdeNet(784, 32, 32, 10, 'float64', jsKernels).init(new Rng(1));
for (let i = net.fStart; i < net.fEnd; i++) net.theta[i] *= 10; // livelier dynamics than at initialisation
const rng = new Rng(2);
const x = Matrix.zeros(64, 784, 'float64');
for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform();
const labels = Array.from({ length: 64 }, (_, j) => j % 10);
console.log('\nthe same gradient with Dormand–Prince (T = 3):');
for (const tol of [1e-3, 1e-6, 1e-9]) {
  const opts = { method: 'dopri5', rtol: tol, atol: tol / 10 };
  const row = ['adjoint', 'unrolled'].map((method) => {
    const r = net.lossAndGradient(x, labels, opts, 3, method, new Float64Array(net.theta.length));
    return `${method} ${r.forward.nfe} forward + ${r.backward.nfe} backward evaluations (${r.backward.steps} steps back)`;
  });
  console.log(`rtol ${tol}: ${row.join('; ')}`);
}
