import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeapRecord, Suspect } from '../contract/record.js';
import { formatGrowth } from '../ui/format.js';
import { growthPathText } from '../ui/growth-text.js';
import type { ProfilerStatus } from '../contract/app-deps.js';
import { artefactPath, openBrowser, type BrowserSession } from './browser.js';
import { eventually, freePort, startProcess, stopAll, type RunningProcess } from '../test/processes.js';
import { projectRoot } from './stack.js';

/**
 * The overview's figures against the real stack: a target with `--inspect` on fixed
 * ports (so it can be restarted as nodemon would), the compiled apptrace-proxy with its
 * profiler sidecar, a real lowdb file, headless Chromium. One rate per object in the
 * table, the growth path and the code page; a session separator after a restart; and
 * "Clear records" from the button to the file on disk.
 */

const APP = fileURLToPath(new URL('./fixtures/leak-app.cjs', import.meta.url));
/** requestLog.push(...) once per request in the fixture: one element per request. */
const PUSHES_PER_REQUEST = readFileSync(APP, 'utf8').match(/requestLog\.push\(/g)!.length;

describe('UI figures, sessions and clearing, through the real proxy and profiler', () => {
  let dir: string;
  let db: string;
  let appPort: number;
  let inspectPort: number;
  let target: RunningProcess;
  let proxy: RunningProcess;
  let base: string;
  let browser: BrowserSession;
  let page: Page;
  let sent = 0;

  const api = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${base}/_ah/apptrace/api${path}`)).json()) as T;
  const records = () => api<HeapRecord[]>('/records');
  const status = () => api<ProfilerStatus>('/status');

  function startTarget(): RunningProcess {
    return startProcess('target', process.execPath, [`--inspect=127.0.0.1:${inspectPort}`, APP], {
      cwd: dirname(APP),
      env: { PORT: String(appPort) },
    });
  }

  /** One request, then its record: every request is a point of its own. */
  async function request(path = '/'): Promise<void> {
    const res = await fetch(`${base}${path}`);
    await res.text();
    sent++;
    const want = sent;
    await eventually(
      async () => ((await records()).reduce((n, r) => n + r.requests, 0) >= want ? true : undefined),
      () => `the record of request ${want}\n${proxy.output()}`,
      30_000,
    );
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'apptrace-ui-figures-'));
    db = join(dir, 'db.json');
    appPort = await freePort();
    inspectPort = await freePort();
    target = startTarget();
    await target.waitFor(/listening on (\d+)/);
    proxy = startProcess(
      'apptrace-proxy',
      process.execPath,
      [
        join(projectRoot(), 'dist', 'proxy', 'cli.js'),
        ...[
          '--target',
          `127.0.0.1:${appPort}`,
          '--listen',
          '127.0.0.1:0',
          '--inspect',
          `127.0.0.1:${inspectPort}`,
          '--db',
          db,
        ],
        // One snapshot per request: the figures are compared record by record (small heap).
        ...['--max-pause-share', '1'],
      ],
      // The app root (module names are relative to it) is the app's folder, as in e2e/stack.ts.
      { cwd: dirname(APP) },
    );
    [, base] = (await proxy.waitFor(/apptrace-proxy: listening on (http:\/\/127\.0\.0\.1:\d+)/, 30_000)) as [
      string,
      string,
    ];
    await eventually(
      async () => ((await status().catch(() => undefined))?.inspector.state === 'connected' ? true : undefined),
      'the inspector',
      30_000,
    );
    browser = await openBrowser();
    page = await browser.newPage();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    // The proxy first, so its sidecar profiler stops while the target is still there
    // (stopped together, the sidecar outlived them; see e2e/stack.ts, which does the same).
    await proxy?.stop();
    await target?.stop();
    await stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows one rate per object: the table, the growth path and the code page agree; flat objects show no figure', async () => {
    for (let i = 0; i < 10; i++) await request(`/page/${i}`);
    const suspects = await api<Suspect[]>('/suspects');
    const leak = suspects.find((s) => s.name === 'requestLog')!;
    expect(leak.verdict).toBe('growing');
    const rate = formatGrowth(leak.growth_per_request);
    const pathText = growthPathText(leak.growth_path);
    // Whole elements: the fixture pushes one entry per request.
    expect(pathText).toBe(`requestLog → Array: +${PUSHES_PER_REQUEST} element per request`);

    await page.goto(`${base}/_ah/apptrace`);
    await page.waitForSelector('#suspects tbody tr .growth-path');
    const rows = await page.$$eval('#suspects tbody tr', (trs) =>
      trs.map((tr) => ({
        name: tr.querySelector('td.name a')?.textContent ?? '',
        verdict: tr.querySelector('.badge')?.textContent ?? '',
        growth: tr.querySelector('td.rate')?.textContent ?? '',
        path: tr.querySelector('.growth-path')?.textContent ?? null,
        href: tr.querySelector('td.name a')?.getAttribute('href') ?? '',
      })),
    );
    const row = rows.find((r) => r.name === 'requestLog')!;
    expect(row.growth).toBe(rate);
    expect(row.path).toBe(pathText);
    // A flat object never shows a growth figure that contradicts its verdict.
    const flat = rows.filter((r) => r.verdict === 'flat');
    expect(flat.length).toBeGreaterThan(0);
    for (const r of flat) expect(r.growth, r.name).toBe('—');

    await page.screenshot({ path: await artefactPath('ui-figures-table.png'), fullPage: true });
    const code = await browser.newPage();
    await code.goto(new URL(row.href, base).toString());
    expect(await code.textContent('#entry-growth')).toBe(rate);
    expect(await code.textContent('#growth-path code')).toBe(pathText);
    // The steps list sizes and counts, no second rate.
    expect(
      await code.$$eval('.growth-steps li', (lis) =>
        lis.map((li) => li.textContent ?? '').filter((t) => /\/req/.test(t)),
      ),
    ).toEqual([]);
    await code.close();
    expect(browser.problems).toEqual([]);
  }, 120_000);

  it('separates sessions after a target restart: the current one on its own, earlier ones one click away and dimmed', async () => {
    const before = await records();
    const firstSession = before.at(-1)!.session;
    await target.stop();
    target = startTarget();
    await target.waitFor(/listening on (\d+)/);
    // The profiler re-attaches and takes a baseline of the new session.
    const second = await eventually(
      async () => (await records()).find((r) => r.session !== firstSession && r.index > before.at(-1)!.index),
      () => `a record of the new session\n${proxy.output()}`,
      40_000,
    );
    for (let i = 0; i < 4; i++) await request(`/again/${i}`);
    const all = await records();
    const last = all.at(-1)!;
    expect(last.session).toBe(second.session);

    // The open page followed live: it now shows the new session only.
    await page.waitForFunction((index) => document.body.dataset.viewLast === String(index), last.index, {
      timeout: 15_000,
    });
    expect(await page.evaluate(() => document.body.dataset.viewFirst)).toBe(String(second.index));
    expect(await page.evaluate(() => document.body.dataset.sessions)).toBe('2');
    const buttons = await page.$$eval('#sessions button', (bs) =>
      bs.map((b) => [b.dataset.session, b.getAttribute('aria-pressed'), b.textContent]),
    );
    expect(buttons.map((b) => b[0])).toEqual(['1', '2', 'all']);
    expect(buttons[1]![1]).toBe('true');
    expect(buttons[1]![2]).toContain(`#${second.index}–#${last.index}`);
    expect(await page.$$('#chart-entries .session-sep')).toHaveLength(0);

    // One click shows them all, with a separator where the restart happened.
    await page.click('#sessions button[data-session="all"]');
    await page.waitForSelector('#chart-entries .session-sep');
    expect(await page.evaluate(() => document.body.dataset.viewFirst)).toBe(String(all[0]!.index));
    expect(await page.$eval('#chart-entries .session-sep', (el) => (el as HTMLElement).dataset.index)).toBe(
      String(second.index),
    );
    await page.screenshot({ path: await artefactPath('ui-figures-sessions.png'), fullPage: true });

    // And the earlier session on its own.
    await page.click('#sessions button[data-session="1"]');
    await page.waitForFunction((index) => document.body.dataset.viewLast === String(index), before.at(-1)!.index);
    expect(await page.evaluate(() => document.body.dataset.viewFirst)).toBe(String(all[0]!.index));
    await page.click('#sessions button[data-session="2"]');
    expect(browser.problems).toEqual([]);
  }, 120_000);

  it('clears records after a confirmation: gone from the page and the store file, and new records start again', async () => {
    expect((await records()).length).toBeGreaterThan(0);
    // Declined: nothing happens.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.click('#clear-records');
    expect((await records()).length).toBeGreaterThan(0);

    let question = '';
    page.once('dialog', (dialog) => {
      question = dialog.message();
      void dialog.accept();
    });
    const reloaded = page.waitForEvent('load');
    await page.click('#clear-records');
    await reloaded;
    expect(question).toContain(`from ${db}`);
    expect(await records()).toEqual([]);
    expect(JSON.parse(readFileSync(db, 'utf8')).records).toEqual([]);
    await page.waitForFunction(() => document.body.dataset.loadMs !== undefined);
    expect(await page.isVisible('#empty')).toBe(true);
    expect(await page.isDisabled('#clear-records')).toBe(true);

    // New records start again from #1 and appear on the open page.
    sent = 0;
    await request('/after-clear');
    const fresh = await records();
    expect(fresh[0]!.index).toBe(1);
    await page.waitForFunction(
      () => /^#\d+ GET \/after-clear/.test(document.getElementById('st-latest')?.textContent ?? ''),
      undefined,
      {
        timeout: 15_000,
      },
    );
    expect(await page.isVisible('#empty')).toBe(false);
    await page.screenshot({ path: await artefactPath('ui-figures-cleared.png'), fullPage: true });

    // The same operation from the terminal, through the running profiler (here via the proxy).
    const cli = startProcess('apptrace-profiler clear', process.execPath, [
      join(projectRoot(), 'dist', 'profiler', 'cli.js'),
      ...['clear', '--profiler', base, '--yes'],
    ]);
    expect(await cli.exited).toBe(0);
    expect(cli.output()).toContain('deleted 1 record through');
    expect(await records()).toEqual([]);
    expect(JSON.parse(readFileSync(db, 'utf8')).records).toEqual([]);
    // The open page starts over by itself (the status event says the store is empty).
    await page.waitForFunction(() => document.getElementById('empty')?.hidden === false, undefined, {
      timeout: 15_000,
    });
    expect(browser.problems).toEqual([]);
  }, 120_000);
});
