import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, inChromium, needs, SYSTEM } from '../helpers.js';

describe('train --report in headless Chromium', () => {
  it('opens without errors or network requests and shows the learning curves, the rate and, with --monitor, the layer charts', async (ctx) => {
    needs(ctx, SYSTEM.chromium);
    const dir = mkdtempSync(join(tmpdir(), 'backprop-train-report-'));
    const file = join(dir, 'run.html');
    const r = cli([
      'train',
      '--limit',
      '1500',
      '--test-limit',
      '500',
      '--validation',
      '300',
      '--hidden',
      '32,32',
      '--activation',
      'sigmoid',
      '--epochs',
      '4',
      '--schedule',
      'cosine',
      '--monitor',
      '--report',
      file,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).report).toBe(file);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script|<link|src=/); // self-contained, nothing to fetch
    const { errors, requests } = await inChromium(file, async (page) => {
      const charts = await page.$$eval('figure.chart', (els) =>
        els.map((f) => {
          const svg = f.querySelector('svg');
          const b = svg?.getBoundingClientRect();
          return { id: f.id, width: b?.width ?? 0, height: b?.height ?? 0, lines: svg?.querySelectorAll('path').length ?? 0, text: svg?.textContent ?? '' };
        }),
      );
      expect(charts.map((c) => c.id)).toEqual(['learning-curves', 'learning-rate', 'learning-speed', 'saturation']);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(300);
        expect(c.height).toBeGreaterThan(150);
        expect(c.lines).toBeGreaterThan(2);
      }
      expect(charts[0].text).toMatch(/Learning curves/);
      expect(charts[0].text).toMatch(/training.*validation.*test/s);
      expect(charts[3].text).toMatch(/Saturated units/);
      await page.screenshot({ path: join(dir, 'run.png'), fullPage: true });
    });
    expect(errors).toEqual([]);
    expect(requests).toEqual([`file://${file}`]);
    // Without --monitor or a schedule: the curves and the (constant) rate only.
    const plain = join(dir, 'plain.html');
    expect(cli(['train', '--limit', '500', '--epochs', '2', '--hidden', '16', '--report', plain, '-q']).code).toBe(0);
    expect(readFileSync(plain, 'utf8').match(/<figure class="chart" id="([a-z-]+)"/g)).toEqual(['<figure class="chart" id="learning-curves"', '<figure class="chart" id="learning-rate"']);
  }, 120_000);

  it('--report is checked before the run', () => {
    const r = cli(['train', '--report', tmpdir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--report .*: is a directory/);
  });
});
