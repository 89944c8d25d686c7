import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_PATH, createApp } from '../ui/app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { sampleRecords } from '../test/sample-records.js';
import { openBrowser, type BrowserSession } from './browser.js';
import { serveApp } from './serve-app.js';

/**
 * The downloads on the overview page in headless Chromium, against the real Hono app
 * over HTTP: links to kept snapshots (live as records arrive) and to the CSV, and the
 * files they download.
 */
describe('overview downloads in Chromium', () => {
  let browser: BrowserSession;
  let server: { url: string; close(): Promise<void> } | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'apptrace-export-page-'));

  beforeAll(async () => {
    browser = await openBrowser();
  });
  afterAll(async () => {
    await server?.close();
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the kept snapshots newest first, live, and downloads them and the CSV', async () => {
    mkdirSync(join(dir, 'db.json.snapshots'));
    const deps = new MemoryDeps({ db: join(dir, 'db.json') });
    const [r1, r2, r3, r4] = sampleRecords({ count: 4 });
    for (const record of [r2!, r3!, r4!]) {
      record.snapshot = `${record.index}.heapsnapshot`;
      writeFileSync(join(dir, 'db.json.snapshots', record.snapshot), `{"snapshot of":${record.index}}`);
    }
    deps.add(r1!);
    deps.add(r2!);
    deps.add(r3!);
    server = await serveApp(createApp(deps).fetch);
    const page = await browser.newPage();
    await page.goto(`${server.url}${BASE_PATH}`);
    await page.waitForFunction(() => document.body.dataset.loadMs !== undefined);

    const links = () => page.$$eval('#kept-list a', (as) => as.map((a) => a.textContent));
    expect(await page.isVisible('#kept')).toBe(true);
    expect(await links()).toEqual(['#3.heapsnapshot', '#2.heapsnapshot']);

    // A record that arrives while the page is open gets its link at the top.
    deps.add(r4!);
    await page.waitForFunction(() => document.querySelectorAll('#kept-list a').length === 3);
    expect(await links()).toEqual(['#4.heapsnapshot', '#3.heapsnapshot', '#2.heapsnapshot']);

    const [snapshot] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#kept-list a >> text=#3.heapsnapshot'),
    ]);
    expect(snapshot.suggestedFilename()).toBe('apptrace-3.heapsnapshot');
    expect(readFileSync((await snapshot.path())!, 'utf8')).toBe('{"snapshot of":3}');

    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    expect(csv.suggestedFilename()).toBe('apptrace-records.csv');
    const rows = readFileSync((await csv.path())!, 'utf8')
      .trimEnd()
      .split('\r\n');
    expect(rows[0]).toMatch(/^index,at,requests,/);
    expect(rows.length).toBe(1 + [r1!, r2!, r3!, r4!].reduce((n, r) => n + r.entries.length, 0));
    expect(browser.problems).toEqual([]);
  });

  it('shows no snapshot list when none is kept', async () => {
    const deps = new MemoryDeps({ db: join(dir, 'none', 'db.json') });
    for (const record of sampleRecords({ count: 2 })) deps.add(record);
    const other = await serveApp(createApp(deps).fetch);
    try {
      const page = await browser.newPage();
      await page.goto(`${other.url}${BASE_PATH}`);
      await page.waitForFunction(() => document.body.dataset.loadMs !== undefined);
      expect(await page.isVisible('#kept')).toBe(false);
      expect(await page.isVisible('#download-csv')).toBe(true);
    } finally {
      await other.close();
    }
  });
});
