/**
 * Growth paths and the lines that make an entry grow, over a real target (`node
 * --inspect`), the real profiler (CDP, analysis worker, lowdb file) and its HTTP API.
 * The fixture (fixtures/growth-app) adds exactly one item per GET /grow to each of three
 * leaks: a static array of an ES class, a CommonJS Map, an EventEmitter's listeners.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBrowser } from '../e2e/browser.js';
import type { HeapRecord, Suspect } from '../contract/record.js';
import type { ProfilerProcess, Target } from '../test/profiler-processes.js';
import { killAll, startProfiler, startTarget, waitFor } from '../test/profiler-processes.js';
import { growthPathText } from '../ui/growth-text.js';

const APP_DIR = fileURLToPath(new URL('./fixtures/growth-app/', import.meta.url));
/** What one GET /grow adds to each leak (the fixture: one push, one set, one `on`). */
const PER_REQUEST = 1;
const ROUNDS = 6;

/** The 1-based line of the first line of the fixture file that contains `text`. */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(join(APP_DIR, file), 'utf8').split('\n');
  const i = lines.findIndex((line) => line.includes(text));
  if (i < 0) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

describe('growth paths over a live target', () => {
  let dir: string;
  let target: Target;
  let profiler: ProfilerProcess;
  let suspects: Suspect[];
  let records: HeapRecord[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-growth-live-'));
    target = await startTarget({ dir: APP_DIR });
    profiler = await startProfiler(
      [
        '--inspect',
        `127.0.0.1:${target.inspectPort}`,
        '--db',
        join(dir, 'db.json'),
        '--target',
        `127.0.0.1:${target.httpPort}`,
      ],
      { cwd: APP_DIR },
    );
    const count = async () => (await profiler.records()).length;
    await waitFor(async () => (await count()) >= 1, 'the baseline record');
    for (let i = 1; i <= ROUNDS; i++) {
      expect(await target.get('/grow')).toBe(200);
      expect(await profiler.signal(1, '/grow')).toBe(202);
      await waitFor(async () => (await count()) >= 1 + i, `record ${1 + i}`);
    }
    records = await profiler.records();
    suspects = (await (await fetch(`${profiler.base}/api/suspects`)).json()) as Suspect[];
  }, 120_000);

  afterAll(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  function suspect(module: string, name: string): Suspect {
    const found = suspects.find((s) => s.module_name === module && s.name === name);
    if (!found)
      throw new Error(`no suspect ${module} ${name}: ${suspects.map((s) => `${s.module_name} ${s.name}`).join(', ')}`);
    return found;
  }

  it('records a path for each growing entry, ids and all', () => {
    const last = records[records.length - 1]!;
    expect(last.requests).toBe(1);
    const page = last.entries.find((e) => e.name === 'MainPage')!;
    expect(page.path![0]).toMatchObject({ id: page.id, edge: '', name: 'MainPage' });
    expect(page.path![1]).toMatchObject({ edge: 'history', name: 'Array', length: ROUNDS * PER_REQUEST });
  });

  it('an ES class with a static array: MainPage.history, an Array, one element per request', () => {
    const s = suspect('page.mjs', 'MainPage');
    expect(s.verdict).toBe('growing');
    const path = s.growth_path!;
    expect(path.expression).toBe('MainPage.history');
    expect(path.steps.at(-1)).toMatchObject({ edge: 'history', name: 'Array' });
    expect(path.elements_per_request).toBe(PER_REQUEST);
    // Each element holds a 3000-character string: the growth is at least that per request.
    expect(path.bytes_per_request).toBeGreaterThan(3000);
    expect(path.summary).toMatch(/^MainPage\.history → Array: \+1 element, \+[\d.]+ KB per request$/);
    expect(s.marked_lines).toContainEqual({
      line: lineOf('page.mjs', 'MainPage.history.push('),
      reason: 'adds to MainPage.history (push)',
      kind: 'reference',
    });
  });

  it('a CommonJS Map: requestLog, one entry per request', () => {
    const s = suspect('store.cjs', 'requestLog');
    expect(s.verdict).toBe('growing');
    const path = s.growth_path!;
    expect(path.expression).toBe('requestLog');
    expect(path.steps.at(-1)!.name).toBe('Map');
    expect(path.elements_per_request).toBe(PER_REQUEST);
    expect(path.summary).toMatch(/^requestLog → Map: \+1 entry, /);
    expect(s.marked_lines!.map((m) => m.line)).toContain(lineOf('store.cjs', 'requestLog.set('));
  });

  it('listeners piling up on an EventEmitter: bus._events.request, one listener per request', () => {
    const s = suspect('events.mjs', 'bus');
    expect(s.verdict).toBe('growing');
    const path = s.growth_path!;
    expect(path.steps.map((step) => step.edge)).toEqual(['', '_events', 'request']);
    expect(path.expression).toBe('bus._events.request');
    expect(path.steps.at(-1)!.name).toBe('Array');
    expect(path.elements_per_request).toBe(PER_REQUEST);
    expect(s.marked_lines).toContainEqual({
      line: lineOf('events.mjs', "bus.on('request'"),
      reason: 'adds a listener to bus (on)',
      kind: 'reference',
    });
  });

  it('the code browser shows the growth path and marks the definition and the line that adds', async () => {
    const res = await fetch(`${profiler.base}/code?module=page.mjs&name=MainPage`);
    const body = await res.text();
    expect(res.status).toBe(200);
    expect(body).toMatch(/<p id="growth-path" class="growth-summary">.*MainPage\.history → Array: \+1 element/);
    const marked = [...body.matchAll(/<div class="line" id="L(\d+)" data-marked[^>]*>/g)].map((m) => Number(m[1]));
    expect(marked).toEqual([lineOf('page.mjs', 'export class MainPage'), lineOf('page.mjs', 'MainPage.history.push(')]);
    expect(body).toContain('found in the source');
  });

  it('the suspects table shows the growth path and the marked lines under the name (headless Chromium)', async () => {
    const browser = await openBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(profiler.base);
      await page.waitForSelector('#suspects tbody tr .growth-path');
      const rows = await page.$$eval('#suspects tbody tr', (trs) =>
        trs.map((tr) => ({
          name: tr.querySelector('td.name a')?.textContent ?? '',
          growth: tr.querySelector('.growth-path')?.textContent ?? '',
          lines: [...tr.querySelectorAll('.marked-lines a')].map((a) => [a.textContent, a.getAttribute('href')]),
        })),
      );
      const row = rows.find((r) => r.name === 'MainPage')!;
      // The table names where it grows (ui/growth-text.ts); its one byte figure is the growth column.
      expect(row.growth).toBe(growthPathText(suspect('page.mjs', 'MainPage').growth_path));
      expect(row.growth).toMatch(/^MainPage\.history → Array: \+1 element/);
      const push = lineOf('page.mjs', 'MainPage.history.push(');
      expect(row.lines).toEqual([
        [String(push), expect.stringMatching(new RegExp(`/code\\?module=page\\.mjs&name=MainPage#L${push}$`))],
      ]);
      expect(rows.find((r) => r.name === 'requestLog')!.growth).toMatch(/^requestLog → Map: \+1 entry/);
      expect(browser.problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
