// train's progress bar fits the terminal: the line never reaches the last column, and at 80 columns it keeps the
// time elapsed and the run's ETA (before, the bar was about 105 columns and the terminal cut it before them).
import { describe, expect, it } from 'vitest';
import { progressLine, type BarFields } from '../../src/cli/progress.js';

const typical: BarFields = { epoch: 1, epochs: 3, value: 1000, total: 1875, speed: '4137', loss: '0.6037', acc: '77.9%', spent: '0:08', left: '0:36' };
const widest: BarFields = { epoch: 100, epochs: 100, value: 60000, total: 60000, speed: '51.2k', loss: '12.3456', acc: '100.0%', spent: '1:23:45', left: '12:34:56' };

describe('progressLine', () => {
  it('fits in columns − 1 at every width, whatever the numbers', () => {
    for (const f of [typical, widest]) for (let columns = 10; columns <= 200; columns++) expect(progressLine(f, columns).length, `${columns} columns`).toBeLessThanOrEqual(columns - 1);
  });

  it('keeps the time elapsed and the ETA at 80 columns, and the loss and accuracy', () => {
    expect(progressLine(typical, 80)).toBe('epoch 1/3 [████░░░░] 1000/1875 · loss 0.6037 · acc 77.9% · 0:08 · ETA 0:36');
    const wide = progressLine(widest, 80);
    expect(wide).toMatch(/ · 1:23:45 · ETA 12:34:56$/);
    expect(wide.length).toBeLessThanOrEqual(79);
  });

  it('shows everything, with a 16-cell bar, on a wide terminal', () => {
    expect(progressLine(typical, 120)).toBe('epoch 1/3 [█████████░░░░░░░] 1000/1875 · 4137 ex/s · loss 0.6037 · acc 77.9% · 0:08 elapsed, run ETA 0:36');
  });

  it('draws the bar from the fraction done: empty, half, full', () => {
    expect(progressLine({ ...typical, value: 0, total: 10 }, 80)).toContain('[░░░░░░░░] 0/10');
    expect(progressLine({ ...typical, value: 5, total: 10 }, 80)).toContain('[████░░░░] 5/10');
    expect(progressLine({ ...typical, value: 10, total: 10 }, 80)).toContain('[████████] 10/10');
  });
});

// compare showed nothing while an activation trained (issue 27): the same bar, with the run's name and n/total.
describe('compare’s bar: the run’s name before the epoch, fitted like train’s', () => {
  const compare: BarFields = { label: 'sigmoid 1/2', epoch: 2, epochs: 3, value: 2133, total: 6000, speed: '-', loss: '0.7286', acc: '-', spent: '0:08', left: '0:15' };

  it('at 80 columns: the run, its epoch, the batches, the loss, the time elapsed and the ETA of all the runs', () => {
    expect(progressLine(compare, 80)).toBe('sigmoid 1/2 epoch 2/3 [███░░░░░] 2133/6000 · loss 0.7286 · 0:08 · ETA 0:15');
    expect(progressLine({ ...compare, label: 'leaky-relu 4/4', epoch: 30, epochs: 30, value: 60000, total: 60000, spent: '1:23:45', left: '12:34:56' }, 80)).toMatch(
      /^leaky-relu 4\/4 epoch 30\/30 \[█+\] 60000\/60000 · 1:23:45 · ETA 12:34:56$/,
    );
  });

  it('fits in columns − 1 at every width', () => {
    for (let columns = 10; columns <= 200; columns++) expect(progressLine(compare, columns).length, `${columns} columns`).toBeLessThanOrEqual(columns - 1);
  });
});
