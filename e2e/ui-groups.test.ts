import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_PATH, createApp } from '../ui/app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { sampleRecords } from '../test/sample-records.js';
import { artefactPath, openBrowser, type BrowserSession } from './browser.js';
import { serveApp } from './serve-app.js';

/**
 * The overview's grouping of small flat series in headless Chromium, over hand-built
 * records (test/sample-records.ts): a leak, a bounded cache, a flat handler and FILLERS
 * small flat objects, whose lines would pile up at the bottom of the chart.
 */
const FILLERS = 12;

describe('small flat series in the overview chart', () => {
  let browser: BrowserSession;
  let server: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    const deps = new MemoryDeps();
    for (const record of sampleRecords({ count: 30, extra: FILLERS })) deps.add(record);
    server = await serveApp(createApp(deps).fetch);
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const legend = (page: import('playwright-core').Page) =>
    page.$$eval('#chart-entries .u-legend .u-series th', (ths) =>
      ths.map((th) => th.textContent?.trim() ?? '').slice(1),
    );

  it('draws them as one summed line, one click from the lines one by one, and keeps the climbing one apart', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}${BASE_PATH}`);
    await page.waitForFunction(() => document.body.dataset.loadMs !== undefined);
    const grouped = await legend(page);
    // The fillers (≈200 B each, changing by < 50 B) and the 640 B handler are small and flat.
    expect(grouped).toContain(`${FILLERS + 1} small flat objects (sum)`);
    expect(grouped.some((l) => l.includes('leakyList'))).toBe(true);
    expect(grouped.some((l) => l.includes('filler'))).toBe(false);
    await page.screenshot({ path: await artefactPath('ui-groups-grouped.png'), fullPage: true });

    const toggle = page.locator('#toggle-flat');
    expect(await toggle.textContent()).toBe(`show the ${FILLERS + 1} small flat objects one by one`);
    await toggle.click();
    const all = await legend(page);
    expect(all.filter((l) => l.includes('filler'))).toHaveLength(FILLERS);
    expect(all.some((l) => l.includes('small flat objects'))).toBe(false);
    await toggle.click();
    expect(await legend(page)).toEqual(grouped);
    expect(browser.problems).toEqual([]);
  });
});
