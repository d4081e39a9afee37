// Screenshots an HTML file with the system's headless Chromium (no download):
//   node scripts/screenshot.mjs report.html docs/compare-report.png [width]
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [file, out, width = '1200'] = process.argv.slice(2);
if (!file || !out) {
  console.error('usage: node scripts/screenshot.mjs FILE.html OUT.png [width]');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: Number(width), height: 800 }, deviceScaleFactor: 1 });
  await page.goto(pathToFileURL(resolve(file)).href);
  await page.screenshot({ path: out, fullPage: true });
} finally {
  await browser.close();
}
