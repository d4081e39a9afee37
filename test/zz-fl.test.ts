import { it } from 'vitest';
import { longFunctions, tsFiles } from './function-lengths.js';
it('list', () => {
  const r = longFunctions('/work/wt/run', tsFiles('/work/wt/run/src'), Number(process.env.OVER ?? 60));
  console.log(Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${v} ${k}`).join('\n'));
});
