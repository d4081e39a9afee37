import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, inChromium, needs, SYSTEM } from '../helpers.js';

describe('the compare report in headless Chromium (Debian chromium, installed by .ci/run)', () => {
  it('opens without errors or network requests and shows every chart as a non-empty SVG', async (ctx) => {
    needs(ctx, SYSTEM.chromium);
    const dir = mkdtempSync(join(tmpdir(), 'backprop-report-'));
    const file = join(dir, 'report.html');
    const r = cli(['compare', '--epochs', '1', '--limit', '2000', '--every', '50', '--report', file]);
    expect(r.code, r.stderr).toBe(0);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script|<link|src=/); // self-contained, nothing to fetch
    const { errors, requests } = await inChromium(file, async (page) => {
      const charts = await page.$$eval('figure.chart > svg', (els) =>
        els.map((e) => {
          const b = e.getBoundingClientRect();
          return { width: b.width, height: b.height, marks: e.querySelectorAll('path, rect, line').length, text: e.textContent ?? '' };
        }),
      );
      expect(await page.$$eval('h2', (h) => h.map((x) => x.textContent))).toEqual(['Speed of learning ‖∂C/∂bl‖ at initialisation and at the end']);
      expect(charts).toHaveLength(4);
      // Each chart carries its title inside the SVG, and a caption below it.
      expect(charts.map((c) => c.text)).toEqual([
        expect.stringContaining('Learning curves'),
        expect.stringContaining('Speed of learning per hidden layer'),
        expect.stringContaining('Saturated and dead units'),
        expect.stringContaining('Activation histograms'),
      ]);
      expect(await page.$$eval('figure.chart > figcaption', (f) => f.length)).toBe(4);
      for (const c of charts) {
        expect(c.width).toBeGreaterThan(200);
        expect(c.height).toBeGreaterThan(100);
        expect(c.marks).toBeGreaterThan(20);
      }
      expect(charts[1].text).toMatch(/layer 1/);
      expect(charts[1].text).toMatch(/sigmoid/);
    });
    expect(errors).toEqual([]);
    expect(requests).toEqual([`file://${file}`]);
  }, 120_000);
});
