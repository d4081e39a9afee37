import { describe, expect, it } from 'vitest';
import { LEARNER_COLOURS, learnersCharts, learnersReport, type LearnerRun } from '../../src/report/learners.js';

// The learners report's charts (issue 27): cost in GFLOP on one axis for every learner, one fixed colour
// per learner whatever the order or the set of learners, the legend in run order.

const run = (name: string, gflop: number): LearnerRun => ({
  name,
  description: name,
  testAccuracy: 0.9,
  seconds: 1,
  wallSeconds: 2,
  work: 100,
  flops: gflop * 1e9,
  parametersUpdated: 1,
  peakBytes: 1,
  trace: [
    { seconds: 0.5, work: 50, flops: (gflop / 2) * 1e9, testAccuracy: 0.5 },
    { seconds: 1, work: 100, flops: gflop * 1e9, testAccuracy: 0.9 },
  ],
});

describe('learners report charts', () => {
  it('the cost chart plots GFLOP, so a neural ODE (780 GFLOP) and SGD (1.1) are not on one work scale', () => {
    const [, cost] = learnersCharts([run('sgd', 1.1), run('ode', 780)]);
    const spec = cost.spec as { encoding: { x: { field: string } }; data: { values: { learner: string; GFLOP: number }[] } };
    expect(spec.encoding.x.field).toBe('GFLOP');
    expect(spec.data.values.filter((v) => v.learner === 'ode').map((v) => v.GFLOP)).toEqual([390, 780]);
  });

  it('each learner keeps its colour across reports, and the legend follows the run order', () => {
    for (const names of [
      ['sgd', 'ga', 'ntk'],
      ['ode', 'rbm', 'sgd'],
      ['ga', 'ode'],
    ]) {
      for (const c of learnersCharts(names.map((n) => run(n, 1)))) {
        const color = (c.spec as { encoding: { color: { scale: { domain: string[]; range: string[] }; sort: string[] } } }).encoding.color;
        expect(color.scale.domain).toEqual(names);
        expect(color.sort).toEqual(names);
        expect(color.scale.range).toEqual(names.map((n) => LEARNER_COLOURS[n]));
      }
    }
    expect(new Set(Object.values(LEARNER_COLOURS)).size).toBe(5);
  });

  it('the table shows the wall time with the test evaluations and the train time without', async () => {
    const html = await learnersReport([run('sgd', 1)], 't', 'd', []);
    expect(html).toMatch(/<th>wall time<\/th><th>train time \(no test evaluations\)<\/th>/);
    expect(html).toMatch(/<td>2\.00 s<\/td><td>1\.00 s<\/td>/);
  });
});
