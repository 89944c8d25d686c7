/**
 * Next.js dev (issues 10 and 14): the real `next dev` from npm (Turbopack, its default)
 * started with `NODE_OPTIONS=--inspect=127.0.0.1:P`. The `next` CLI takes port P; the
 * router server that runs the route handlers is a child process and listens on P+1, so
 * that is the inspector apptrace attaches to. The route handler is compiled into a
 * Turbopack chunk whose module factory holds the module scope, with a source map beside
 * it that leads back to app/api/items/route.js.
 * - `apptrace-proxy check` finds the module-level array of the route handler, named by
 *   its original file and line (issue 10, points 3 and 6);
 * - through `apptrace-proxy` with default options, a page load in headless Chromium
 *   takes at most 1.3× the direct one, and only the document makes a record (issue 14).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfilerStatus } from '../../contract/app-deps.js';
import type { HeapRecord } from '../../contract/record.js';
import { openBrowser } from '../../e2e/browser.js';
import { projectRoot } from '../../e2e/stack.js';
import { runCheck } from '../check-run.js';
import { eventually, freePort, startProcess, waitForHttp, type RunningProcess } from '../processes.js';
import { ensureInstalled } from './ensure-installed.js';
import { median } from '../../common/median.js';

let dir: string;
let server: RunningProcess | undefined;
let port: number;
let inspectPort: number;

beforeAll(async () => {
  dir = await ensureInstalled('next-app');
  // A chunk left by an earlier run must not stand in for this one's.
  rmSync(join(dir, '.next'), { recursive: true, force: true });
  port = await freePort();
  inspectPort = await freePort();
  server = startProcess(
    'next dev',
    process.execPath,
    [join(dir, 'node_modules/next/dist/bin/next'), 'dev', '-p', String(port), '-H', '127.0.0.1'],
    {
      cwd: dir,
      env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`, NEXT_TELEMETRY_DISABLED: '1' },
    },
  );
  await server.waitFor(/Ready in/, 60_000);
}, 300_000);

afterAll(async () => {
  await server?.stop();
});

interface InspectorTarget {
  url: string;
}

describe('Next.js dev fixture (Turbopack)', () => {
  it('grows a module-level array per request, served by the process inspected on P+1', {
    timeout: 120_000,
  }, async () => {
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await waitForHttp(`http://127.0.0.1:${port}/api/items`, { timeoutMs: 60_000 });
      counts.push(((await res.json()) as { count: number }).count);
    }
    expect(counts).toEqual([1, 2, 3]);
    const targets = (await (await fetch(`http://127.0.0.1:${inspectPort + 1}/json/list`)).json()) as InspectorTarget[];
    expect(targets.map((t) => t.url).join(' ')).toMatch(/next\/dist\/server\/lib\/start-server\.js/);
    expect(server!.output()).toContain(`Debugger port: ${inspectPort + 1}`);
  });

  it('compiles the route into a Turbopack chunk: a module factory named [project]/app/api/items/route.js, with a map', () => {
    const chunks = join(dir, '.next/dev/server/chunks');
    const name = readdirSync(chunks).find(
      (file) => file.endsWith('.js') && readFileSync(join(chunks, file), 'utf8').includes('const visits = []'),
    );
    expect(name).toBeDefined();
    const text = readFileSync(join(chunks, name!), 'utf8');
    expect(
      text.startsWith(
        'module.exports=["[project]/app/api/items/route.js [app-route] (ecmascript)",((__turbopack_context__) =>',
      ),
    ).toBe(true);
    const map = JSON.parse(readFileSync(join(chunks, `${name!}.map`), 'utf8')) as {
      sections?: { map: { sources: string[] } }[];
      sources?: string[];
    };
    // An index map: one section per module, each naming its original file by a file:// URL
    // (not `turbopack:///[project]/…`, checked on next 16.5.0).
    const sources = [...(map.sources ?? []), ...(map.sections ?? []).flatMap((section) => section.map.sources)];
    expect(sources).toContain(pathToFileURL(join(dir, 'app/api/items/route.js')).href);
  });
});

/** The 1-based line of the first line of the app's `file` containing `text` (read from the app, not from a record). */
function lineOf(file: string, text: string): number {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  const i = lines.findIndex((line) => line.includes(text));
  if (i < 0) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

describe('Next.js dev through apptrace-proxy with default options', () => {
  /** Page loads timed each way, alternating. */
  const LOADS = 4;
  let tmp: string;
  let proxy: RunningProcess | undefined;
  let proxyUrl: string;
  const times = { direct: [] as number[], proxied: [] as number[] };
  let records: HeapRecord[] = [];
  let pageRequests: string[] = [];

  const status = async (): Promise<ProfilerStatus> =>
    (await (await fetch(`${proxyUrl}/_ah/apptrace/api/status`)).json()) as ProfilerStatus;
  /** No snapshot running nor waiting: every signal so far has its record. */
  const settled = () =>
    eventually(
      async () => {
        const s = await status();
        return s.snapshot.running || s.snapshot.pendingSignals > 0 ? undefined : s;
      },
      () => `the snapshots to settle (proxy output:\n${proxy!.output()})`,
      180_000,
    );
  /**
   * Settled, and the pause budget open again: the next signal starts a snapshot at once,
   * the worst case for the page whose document sends it. The budget's wait after a pause
   * of D is D·(1/share − 1) from its end, which is before the record was written.
   */
  const budgetOpen = async () => {
    // The last page's signal may still be held by the proxy until the app is quiet (500 ms).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const s = await settled();
    const share = s.snapshot.maxPauseShare ?? 1;
    const wait = (s.snapshot.lastPauseMs ?? 0) * (1 / share - 1);
    await new Promise((resolve) => setTimeout(resolve, wait + 200));
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'apptrace-next-'));
    proxy = startProcess(
      'apptrace-proxy',
      process.execPath,
      [
        join(projectRoot(), 'dist/proxy/cli.js'),
        '--target',
        `127.0.0.1:${port}`,
        '--listen',
        '127.0.0.1:0',
        '--inspect',
        `127.0.0.1:${inspectPort + 1}`,
        '--db',
        join(tmp, 'db.json'),
      ],
      { cwd: dir },
    );
    [, proxyUrl] = (await proxy.waitFor(/apptrace-proxy: listening on (http:\/\/127\.0\.0\.1:\d+)/, 30_000)) as [
      string,
      string,
    ];
    // The baseline record, taken on attach.
    await eventually(
      async () => ((await status()).records >= 1 ? true : undefined),
      () => `the baseline record (proxy output:\n${proxy!.output()})`,
      120_000,
    );
    const browser = await openBrowser();
    try {
      const page = await browser.newPage();
      page.on('request', (request) => {
        if (request.url().startsWith(proxyUrl)) pageRequests.push(new URL(request.url()).pathname);
      });
      const load = async (base: string): Promise<number> => {
        const started = performance.now();
        const res = await page.goto(`${base}/`, { waitUntil: 'load', timeout: 120_000 });
        const took = performance.now() - started;
        expect(res?.status()).toBe(200);
        return took;
      };
      const direct = `http://127.0.0.1:${port}`;
      // Warm: the first load compiles the page, each origin fills its own cache.
      await load(direct);
      await budgetOpen();
      await load(proxyUrl);
      pageRequests = [];
      for (let i = 0; i < LOADS; i++) {
        await budgetOpen();
        times.direct.push(await load(direct));
        // The budget is open: this page's document starts a snapshot, which must wait
        // until the page has loaded its scripts and styles.
        times.proxied.push(await load(proxyUrl));
      }
    } finally {
      await browser.close();
    }
    // The baseline, the warm-up load's record and one per timed load (the last one's
    // signal waits for the page to go quiet, then for its snapshot).
    records = await eventually(
      async () => {
        const all = (await (await fetch(`${proxyUrl}/_ah/apptrace/api/records`)).json()) as HeapRecord[];
        return all.length >= LOADS + 2 ? all : undefined;
      },
      () => `${LOADS + 2} records (proxy output:\n${proxy!.output()})`,
      120_000,
    );
  }, 600_000);

  afterAll(async () => {
    await proxy?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a page load through the proxy takes at most 1.3× the direct one (medians)', () => {
    const ratio = median(times.proxied) / median(times.direct);
    console.log(
      `next dev page load: direct ${times.direct.map((t) => t.toFixed(0)).join(' ')} ms, ` +
        `proxied ${times.proxied.map((t) => t.toFixed(0)).join(' ')} ms, median ratio ${ratio.toFixed(2)}`,
    );
    expect(ratio).toBeLessThanOrEqual(1.3);
  });

  it('the page loads its scripts, yet static and dev-server requests make no record: one per page, its document', () => {
    // The page really asked for Next's chunks through the proxy.
    expect(pageRequests.filter((path) => path.startsWith('/_next/')).length).toBeGreaterThan(0);
    const after = records.slice(1);
    // The warm-up load and each timed one: a record each, for its document alone.
    expect(after.map((r) => [r.request?.url, r.requests])).toEqual(Array.from({ length: LOADS + 1 }, () => ['/', 1]));
  });

  it('lists the route’s module-level array and handler by their original file and line, not the bundler’s bindings', () => {
    const entries = records.at(-1)!.entries;
    const visits = entries.find((e) => e.name === 'visits');
    expect(visits).toMatchObject({
      filename: 'app/api/items/route.js',
      lineno: lineOf('app/api/items/route.js', 'const visits'),
      module_name: 'app/api/items/route.js',
    });
    expect(entries.find((e) => e.name === 'GET')?.lineno).toBe(lineOf('app/api/items/route.js', 'function GET'));
    // Turbopack's runtime, its factory lists (`module.exports`) and its import bindings are not the app's.
    expect(
      entries.filter((e) => /turbopack/i.test(`${e.module_name} ${e.name}`) || e.name === 'module.exports'),
    ).toEqual([]);
  });
});

describe('Next.js dev: apptrace-proxy check on the route handler', () => {
  it('fails (exit 1) and names the module-level array at its line in app/api/items/route.js', {
    timeout: 300_000,
  }, async () => {
    const result = await runCheck({ appPort: port, inspectPort: inspectPort + 1 }, [
      '--request',
      'GET /api/items',
      '--json',
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as {
      suspects: { name: string; filename: string; lineno: number; module_name: string }[];
    };
    const first = report.suspects[0]!;
    expect(first.name).toBe('visits');
    expect(first.filename).toBe('app/api/items/route.js');
    expect(Math.abs(first.lineno - lineOf('app/api/items/route.js', 'const visits'))).toBeLessThanOrEqual(3);
    // Turbopack's runtime chunk is not the user's module.
    expect(report.suspects.some((s) => s.module_name.includes('[turbopack]_runtime'))).toBe(false);
  });
});

describe('Next.js dev with webpack (`next dev --webpack`): apptrace-proxy check', () => {
  let webpackDev: RunningProcess | undefined;
  let webpackPort: number;
  let webpackInspect: number;
  let tmp: string;

  beforeAll(async () => {
    // One dev server at a time in this folder: both write .next/dev.
    await server?.stop();
    rmSync(join(dir, '.next'), { recursive: true, force: true });
    tmp = mkdtempSync(join(tmpdir(), 'apptrace-next-webpack-'));
    webpackPort = await freePort();
    webpackInspect = await freePort();
    webpackDev = startProcess(
      'next dev --webpack',
      process.execPath,
      [join(dir, 'node_modules/next/dist/bin/next'), 'dev', '--webpack', '-p', String(webpackPort), '-H', '127.0.0.1'],
      {
        cwd: dir,
        env: { NODE_OPTIONS: `--inspect=127.0.0.1:${webpackInspect}`, NEXT_TELEMETRY_DISABLED: '1' },
      },
    );
    await webpackDev.waitFor(/Ready in/, 60_000);
    // The route compiled and run once before the check's baseline.
    await waitForHttp(`http://127.0.0.1:${webpackPort}/api/items`, { timeoutMs: 120_000 });
  }, 300_000);

  afterAll(async () => {
    await webpackDev?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('fails (exit 1) naming visits at its line; the eval’d module’s variables are entries by original file', {
    timeout: 300_000,
  }, async () => {
    const db = join(tmp, 'db.json');
    const result = await runCheck({ appPort: webpackPort, inspectPort: webpackInspect + 1 }, [
      '--request',
      'GET /api/items',
      '--json',
      '--db',
      db,
    ]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as { suspects: { name: string; filename: string; lineno: number }[] };
    const first = report.suspects[0]!;
    expect(first.name).toBe('visits');
    expect(first.filename).toBe('app/api/items/route.js');
    expect(Math.abs(first.lineno - lineOf('app/api/items/route.js', 'const visits'))).toBeLessThanOrEqual(3);
    // Webpack runs the module as `webpack-internal:///(rsc)/./app/api/items/route.js`.
    const stored = JSON.parse(readFileSync(db, 'utf8')) as { records: HeapRecord[] };
    const entries = stored.records.at(-1)!.entries;
    expect(entries.find((e) => e.name === 'visits')).toMatchObject({
      filename: 'app/api/items/route.js',
      lineno: lineOf('app/api/items/route.js', 'const visits'),
    });
    expect(entries.filter((e) => e.name.startsWith('__webpack'))).toEqual([]);
  });
});
