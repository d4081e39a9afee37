// Prints the peak memory of a neural ODE's gradient against the number of RK4 steps,
// adjoint method versus backprop through the stored steps. Run after `npm run build`:
//   node scripts/ode-memory.mjs
import { jsKernels } from '../dist/linalg/index.js';
import { gradientMemory, memoryTable } from '../dist/learners/ode-memory.js';

console.log('one gradient of a batch of 64 (state 32, f 32-32-32, float64):');
console.log(memoryTable(await gradientMemory(jsKernels, [8, 16, 32, 64, 128, 256])));
