import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artefactPath, coloredPixels, openBrowser, type BrowserSession } from './browser.js';
import { eventually, stopAll } from '../test/processes.js';
import { startStack, type Stack } from './stack.js';

/**
 * The UI end to end: a real target (`node --inspect`) with a known leak and a bounded
 * cache, the real apptrace-proxy and its profiler sidecar (compiled, from dist/), a real
 * lowdb file, and headless Chromium looking at http://proxy/_ah/apptrace.
 */

const APP = fileURLToPath(new URL('./fixtures/leak-app.cjs', import.meta.url));
const MODULE = 'leak-app.cjs'; // relative to the app root, the proxy's working directory
const lineOf = (needle: string): number =>
  readFileSync(APP, 'utf8')
    .split('\n')
    .findIndex((line) => line.includes(needle)) + 1;

/** The query a hostile link would carry; sent raw (not percent-encoded) on purpose. */
const INJECTION = '/?q=<script>window.__pwned=1</script>';

/** GET with the path exactly as given: fetch() would percent-encode the `<`. */
function rawGet(base: string, path: string): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('apptrace UI through the real proxy and profiler', () => {
  let dir: string;
  let stack: Stack;
  let browser: BrowserSession;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'apptrace-ui-e2e-'));
    stack = await startStack({ app: APP, db: join(dir, 'db.json') });
    browser = await openBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the leak growing, the cache plateaued, live records, the code, and runs no injected script', async () => {
    // Requests one at a time, each waiting for its own record, so every request is a point.
    // The cache fills after CACHE_LIMIT (8) requests; the suspects' verdict looks at the
    // recent half of the window for growth, so twice that many leave a flat tail.
    const requests = 16;
    let last = 0;
    for (let i = 1; i <= requests; i++) {
      const res = await fetch(`${stack.proxyUrl}/item/${i}`);
      expect(res.status).toBe(200);
      await res.text();
      last = (await stack.waitForRecordOf(`/item/${i}`, last, 60_000)).index;
    }
    expect(await rawGet(stack.proxyUrl, INJECTION)).toBe(200);
    const injected = await stack.waitForRecordOf(INJECTION, last, 60_000);

    const page = await browser.newPage();
    await page.goto(`${stack.proxyUrl}/_ah/apptrace`);
    await page.waitForFunction(() => document.body.dataset.loadMs !== undefined);
    await page.waitForSelector('#suspects tbody tr').catch(async (error: Error) => {
      await page.screenshot({ path: await artefactPath('ui-overview-failed.png') });
      const state = await page.evaluate(() => ({
        ...document.body.dataset,
        error: document.getElementById('st-error')!.textContent,
      }));
      throw new Error(`${error.message}\npage: ${JSON.stringify(state)}\nproblems: ${browser.problems.join('\n')}`);
    });

    // Both charts drew data lines (coloured pixels, not only grey axes).
    expect(await coloredPixels(page, '#chart-entries canvas')).toBeGreaterThan(200);
    expect(await coloredPixels(page, '#chart-heap canvas')).toBeGreaterThan(200);

    const rows = await page.$$eval('#suspects tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.querySelector('td.name a')!.textContent,
        module: tr.querySelector('td.name .module')!.textContent,
        verdict: tr.querySelector('.badge')!.textContent,
      })),
    );
    expect(rows[0]).toEqual({ name: 'requestLog', module: MODULE, verdict: 'growing' });
    expect(rows.find((r) => r.name === 'recentPages')).toEqual({
      name: 'recentPages',
      module: MODULE,
      verdict: 'plateaued',
    });

    // The injected URL is text on the page; nothing ran.
    expect(await page.textContent('#st-latest')).toContain(INJECTION);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

    // Live: a new request shows up without a reload.
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    const before = injected.index;
    const live = await fetch(`${stack.proxyUrl}/item/live-one`);
    await live.text();
    await page.waitForFunction(
      (index) => document.getElementById('st-latest')!.textContent === `#${index} GET /item/live-one → 200`,
      before + 1,
      { timeout: 30_000 },
    );
    expect(await page.textContent('#st-records')).toContain(`latest #${before + 1}`);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(await page.textContent('#st-inspector')).toContain('inspector connected');

    // "Snapshot now" asks the profiler for a manual snapshot; it shows up live too.
    await page.click('#snapshot-now');
    await page.waitForFunction(
      (index) => document.getElementById('st-latest')!.textContent === `#${index} manual snapshot`,
      before + 2,
      { timeout: 30_000 },
    );
    await page.screenshot({ path: await artefactPath('ui-overview.png') });

    // Clicking the leak opens its code with the definition line marked and in view.
    await Promise.all([page.waitForURL(/\/code\?/), page.click('#suspects tbody tr:first-child td.name a')]);
    const marked = page.locator('.line[data-marked][data-mark-kind~="definition"]');
    expect(await marked.getAttribute('id')).toBe(`L${lineOf('const requestLog = [];')}`);
    expect(await marked.textContent()).toContain('const requestLog = [];');
    // The line that adds to it is marked too, as a reference found in the source.
    const adds = page.locator(`#L${lineOf('requestLog.push(')}`);
    expect(await adds.getAttribute('data-mark-kind')).toContain('reference');
    await eventually(
      () =>
        page.evaluate(() => {
          const r = document.querySelector('.line[data-marked][data-mark-kind~="definition"]')!.getBoundingClientRect();
          return r.top >= 0 && r.bottom <= window.innerHeight ? true : undefined;
        }),
      'the marked line in view',
      5_000,
    );
    expect(await page.textContent('#entry-verdict')).toBe('growing');
    await page.screenshot({ path: await artefactPath('ui-code.png') });

    expect(browser.problems).toEqual([]);
    await page.close();
  }, 240_000); // one snapshot per request, ~1–3 s each on a busy machine

  it('answers 404 for paths and non-modules in the code browser, and never shows a file', async () => {
    const page = await browser.newPage();
    const seen = browser.problems.length;
    for (const module of ['../../etc/passwd', '/etc/passwd', 'file:///etc/passwd', 'node:fs', 'package.json']) {
      const res = await page.goto(
        `${stack.proxyUrl}/_ah/apptrace/code?${new URLSearchParams({ module, name: 'requestLog' })}`,
      );
      expect(res!.status()).toBe(404);
      const text = (await page.textContent('body')) ?? '';
      expect(text).not.toContain('root:x:0:0');
      expect(await page.$('.line')).toBeNull();
    }
    expect(browser.problems.slice(seen).filter((p) => !/status of 404/.test(p))).toEqual([]);
    browser.problems.splice(seen);
    await page.close();
  });
});
