import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { BASE_PATH, createApp } from '../ui/app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { sampleRecord, sampleRecords } from '../test/sample-records.js';
import { artefactPath, coloredPixels, openBrowser, type BrowserSession } from './browser.js';
import { serveApp } from './serve-app.js';

/**
 * Page behaviour in headless Chromium against the real Hono app over a real HTTP server,
 * with hand-built records (MemoryDeps) instead of a profiler: live updates, status
 * changes, hostile strings, the code browser's scrolling, and loading 1,000 records of 50
 * entries. The whole tool (proxy, profiler, target) is driven by e2e/ui.test.ts.
 */

const PWN_URL = '/?q=<script>window.__pwned=1</script>';
const PWN_NAME = '<img src=x onerror="window.__pwned=2">';
const DEFINITION_LINE = 150;
const LONG_SOURCE =
  Array.from({ length: DEFINITION_LINE - 1 }, (_, i) => `// line ${i + 1} <b>not markup</b>`).join('\n') +
  '\nconst leakyList = [];\n' +
  Array.from({ length: 100 }, (_, i) => `const after${i} = ${i};`).join('\n') +
  '\n';

/** Sample records whose leak is defined on DEFINITION_LINE and whose URLs are hostile. */
function hostileRecords(count: number, from = 1): HeapRecord[] {
  return sampleRecords({ count, from, url: () => PWN_URL }).map(withHostileEntry);
}
function withHostileEntry(record: HeapRecord): HeapRecord {
  record.entries[0]!.lineno = DEFINITION_LINE;
  record.entries.push({ ...record.entries[2]!, name: PWN_NAME, lineno: 1 });
  return record;
}

async function openOverview(page: Page, url: string): Promise<void> {
  await page.goto(`${url}${BASE_PATH}`);
  await page.waitForFunction(() => document.body.dataset.loadMs !== undefined);
}

describe('UI pages in Chromium (hand-built records)', () => {
  let browser: BrowserSession;
  const servers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    browser = await openBrowser();
  });
  beforeEach(() => {
    // Each test answers for its own pages' problems only.
    browser.problems.length = 0;
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await browser?.close();
  });

  async function start(deps: MemoryDeps): Promise<string> {
    const server = await serveApp(createApp(deps).fetch);
    servers.push(server);
    return server.url;
  }

  it('draws both charts, ranks the leak first, updates live, and never runs hostile strings', async () => {
    const deps = new MemoryDeps({}, new Map([['server.js', { url: 'file:///app/server.js', source: LONG_SOURCE }]]));
    for (const r of hostileRecords(40)) deps.add(r);
    const url = await start(deps);
    const page = await browser.newPage();
    await openOverview(page, url);

    expect(await coloredPixels(page, '#chart-entries canvas')).toBeGreaterThan(200);
    expect(await coloredPixels(page, '#chart-heap canvas')).toBeGreaterThan(200);
    await page.waitForSelector('#suspects tbody tr');
    const rows = await page.$$eval('#suspects tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.querySelector('td.name a')!.textContent,
        verdict: tr.querySelector('.badge')!.textContent,
      })),
    );
    expect(rows[0]).toEqual({ name: 'leakyList', verdict: 'growing' });
    expect(rows.find((r) => r.name === 'boundedCache')?.verdict).toBe('plateaued');
    // The hostile name is a row, shown as text.
    expect(rows.some((r) => r.name === PWN_NAME)).toBe(true);
    expect(await page.textContent('#st-latest')).toBe(`#40 GET ${PWN_URL} → 200`);
    await page.waitForFunction(() => document.getElementById('st-live')!.textContent === 'live');

    // Hovering the chart shows values, and the request URL as text, in the legend.
    const box = (await page.$('#chart-entries .u-over'))!;
    const b = (await box.boundingBox())!;
    await page.mouse.move(b.x + b.width * 0.9, b.y + b.height / 2);
    const legend = await page.textContent('#chart-entries .u-legend');
    expect(legend).toContain(PWN_URL);
    expect(legend).toMatch(/server\.js · leakyList\s*\d+(\.\d+)? KB/);

    // A legend click hides a series.
    const leakLabel = page.locator('#chart-entries .u-legend .u-series', { hasText: 'server.js · leakyList' });
    await leakLabel.click();
    expect(await leakLabel.getAttribute('class')).toContain('u-off');
    await leakLabel.click();

    // Live: a new record and a status change arrive without a reload.
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const before = await page.$eval('#chart-entries canvas', (c) => (c as HTMLCanvasElement).toDataURL());
    deps.add(withHostileEntry(sampleRecord(41, { url: () => '/live/41' })));
    await page.waitForFunction(() => document.getElementById('st-latest')!.textContent === '#41 GET /live/41 → 200');
    expect(await page.textContent('#st-records')).toContain('latest #41');
    await page.waitForFunction(
      (old) => (document.querySelector('#chart-entries canvas') as HTMLCanvasElement).toDataURL() !== old,
      before,
    );
    // A record the page never heard of (a gap in the events) is fetched with since=.
    const asked: string[] = [];
    page.on('request', (r) => asked.push(r.url()));
    deps.store.push(withHostileEntry(sampleRecord(42, { url: () => '/silent/42' })));
    deps.add(withHostileEntry(sampleRecord(43, { url: () => '/live/43' })));
    await page.waitForFunction(() => document.getElementById('st-latest')!.textContent === '#43 GET /live/43 → 200');
    expect(asked).toContain(`${url}${BASE_PATH}/api/records?since=41`);
    deps.setStatus({
      inspector: {
        address: '127.0.0.1:9229',
        state: 'disconnected',
        hint: 'restart it: node --inspect=127.0.0.1:9229 app.js',
      },
      lastError: { at: new Date().toISOString(), message: '<b>target exited</b>' },
    });
    await page.waitForSelector('#no-inspector', { state: 'visible' });
    expect(await page.textContent('#ni-hint')).toBe('restart it: node --inspect=127.0.0.1:9229 app.js');
    expect(await page.textContent('#st-error')).toBe('last error: <b>target exited</b>');
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await page.screenshot({ path: await artefactPath('ui-page-overview.png') });

    // Clicking the leak opens the code browser with its definition marked and in view.
    await Promise.all([page.waitForURL(/\/code\?/), page.click('#suspects tbody tr:first-child td.name a')]);
    const marked = page.locator('.line[data-marked]');
    expect(await marked.getAttribute('id')).toBe(`L${DEFINITION_LINE}`);
    expect(await marked.textContent()).toContain('const leakyList = [];');
    await page.waitForFunction(() => {
      const r = document.querySelector('.line[data-marked]')!.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    });
    const firstLine = await page.$eval('#L1', (el) => el.getBoundingClientRect().bottom);
    expect(firstLine).toBeLessThan(0); // scrolled: line 1 is above the view
    expect(await page.textContent('#L1')).toContain('<b>not markup</b>');
    await page.screenshot({ path: await artefactPath('ui-page-code.png') });

    // The hostile name's own code page shows it as text.
    await page.goto(`${url}${BASE_PATH}/code?${new URLSearchParams({ module: 'server.js', name: PWN_NAME })}`);
    expect(await page.textContent('h2')).toContain(PWN_NAME);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(browser.problems).toEqual([]);
    await page.close();
  });

  it('keeps an open page live across a restart of the server, catching up what it missed', async () => {
    const deps = new MemoryDeps();
    for (const r of sampleRecords({ count: 5 })) deps.add(r);
    const first = await serveApp(createApp(deps).fetch);
    const page = await browser.newPage();
    const seen = browser.problems.length;
    await openOverview(page, first.url);
    await page.waitForFunction(() => document.getElementById('st-live')!.textContent === 'live');
    await first.close();
    await page.waitForFunction(() => document.getElementById('st-live')!.textContent === 'reconnecting…');
    // Records made while the page could not hear about them.
    deps.add(sampleRecord(6));
    deps.add(sampleRecord(7, { url: () => '/while/away' }));
    const second = await serveApp(createApp(deps).fetch, first.port);
    servers.push(second);
    await page.waitForFunction(
      () => document.getElementById('st-latest')!.textContent === '#7 GET /while/away → 200',
      undefined,
      {
        timeout: 20_000,
      },
    );
    expect(await page.textContent('#st-live')).toBe('live');
    // Only the refused reconnection attempts may have been logged.
    expect(browser.problems.slice(seen).filter((p) => !p.includes('/events'))).toEqual([]);
    browser.problems.splice(seen);
    await page.close();
  });

  it('refuses paths and foreign modules in the code browser with a 404 page', async () => {
    const deps = new MemoryDeps({}, new Map([['server.js', { url: 'file:///app/server.js', source: LONG_SOURCE }]]));
    for (const r of sampleRecords({ count: 3 })) deps.add(r);
    const url = await start(deps);
    const page = await browser.newPage();
    const seen = browser.problems.length;
    for (const module of ['../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', 'node:fs', 'package.json']) {
      const res = await page.goto(`${url}${BASE_PATH}/code?${new URLSearchParams({ module, name: 'x' })}`);
      expect(res!.status()).toBe(404);
      const text = await page.textContent('body');
      expect(text).not.toContain('root:x:0:0');
      expect(text).not.toContain('"devDependencies"');
      expect(await page.$('.line')).toBeNull();
    }
    // Chromium logs each 404 document as a failed resource; nothing else may appear.
    expect(browser.problems.slice(seen).filter((p) => !/status of 404/.test(p))).toEqual([]);
    browser.problems.splice(seen);
    await page.close();
  });

  it('before the first record shows the traced URLs and a link to make a request', async () => {
    const url = await start(new MemoryDeps({ urlPatterns: ['^/(?!_ah/apptrace)'] }));
    const page = await browser.newPage();
    await openOverview(page, url);
    expect(await page.isVisible('#empty')).toBe(true);
    expect(await page.textContent('#empty-patterns')).toBe('^/(?!_ah/apptrace)');
    expect(await page.textContent('#empty-example')).toBe(`${url}/`);
    expect(await page.isVisible('#no-inspector')).toBe(false);
    await page.screenshot({ path: await artefactPath('ui-page-empty.png') });
    expect(browser.problems).toEqual([]);
    await page.close();
  });

  it('loads 1,000 records of 50 entries (figures printed, not asserted)', async () => {
    const deps = new MemoryDeps();
    for (const r of sampleRecords({ count: 1000, extra: 47 })) deps.add(r);
    expect(deps.store[0]!.entries).toHaveLength(50);
    const url = await start(deps);
    const page = await browser.newPage();
    await openOverview(page, url);
    const figures = await page.evaluate(() => ({ ...document.body.dataset }));
    expect(figures.records).toBe('1000');
    expect(await coloredPixels(page, '#chart-entries canvas')).toBeGreaterThan(200);
    // Moving the cursor over 50 series × 1,000 points: time 20 hover updates.
    const over = (await (await page.$('#chart-entries .u-over'))!.boundingBox())!;
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await page.mouse.move(over.x + (over.width * i) / 20, over.y + over.height / 2);
    const hoverMs = (Date.now() - t0) / 20;
    process.stdout.write(
      `ui scale: 1000 records x 50 entries: page ready ${figures.loadMs} ms after navigation ` +
        `(fetch+parse ${figures.fetchMs} ms, series+draw ${figures.drawMs} ms), hover ~${hoverMs.toFixed(1)} ms/move\n`,
    );
    await page.screenshot({ path: await artefactPath('ui-page-scale.png') });
    expect(browser.problems).toEqual([]);
    await page.close();
  });
});
