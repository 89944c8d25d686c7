/**
 * The pause budget on live targets, side by side in one run (`npm run bench:live`): for
 * heaps of about 10, 75 and 300 MB (e2e/fixtures/pause-app.cjs with a ballast of small
 * objects), browsed at 5 requests/s on loopback, first directly and then through
 * apptrace-proxy with default options (its sidecar profiler attached to the target's
 * inspector). Per heap:
 *
 * - the baseline snapshot's pause (the first after attaching; V8's slowest);
 * - the share of wall time the target was stalled while browsed through the proxy
 *   (measured inside the target: event-loop gaps over 50 ms), over the browsing window
 *   that starts once the baseline is recorded;
 * - requests' p50/p99 latency through the proxy against direct;
 * - records made while browsing, their pauses (timings.pause_ms);
 * - time from a matching response to its record, less the snapshot's capture: for each
 *   record, from the end (client side) of the last request it covers to the moment the
 *   record was served by the API (polled every 25 ms).
 *
 *   node dist/bench/live/run.js [--heaps 10,75,300] [--direct 15] [--browse 60]
 *
 * Bounded loops, loopback only; every process started here is killed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeapRecord } from '../../contract/record.js';
import type { ProfilerStatus } from '../../contract/app-deps.js';

interface Settings {
  heaps: number[];
  directS: number;
  browseS: number;
  /** At most this long for the baseline snapshot, then the heap's row says so. */
  baselineS: number;
  /** At most this long waiting for the budget after the baseline before browsing. */
  budgetWaitS: number;
}

function parseSettings(argv: string[]): Settings {
  const settings: Settings = { heaps: [10, 75, 300], directS: 15, browseS: 60, baselineS: 480, budgetWaitS: 180 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--heaps') settings.heaps = value.split(',').map(Number);
    else if (flag === '--direct') settings.directS = Number(value);
    else if (flag === '--browse') settings.browseS = Number(value);
    else if (flag === '--baseline') settings.baselineS = Number(value);
    else if (flag === '--budget-wait') settings.budgetWaitS = Number(value);
    else throw new Error(`unknown flag ${flag}; see the comment at the top of bench/live/run.ts`);
  }
  return settings;
}

function projectRoot(): string {
  // dist/bench/live/run.js or bench/live/run.ts: the root holds package.json two or three levels up.
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'bench')}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
}

const ROOT = projectRoot();
const APP = join(ROOT, 'e2e', 'fixtures', 'pause-app.cjs');
const PROXY = join(ROOT, 'dist', 'proxy', 'cli.js');
const RATE_MS = 200;
/** Node's own heap without ballast, about. */
const BASE_HEAP_MB = 5;
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Started {
  child: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, timeoutMs: number) => Promise<RegExpExecArray>;
}

function start(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Started {
  const child = spawn(command, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  return {
    child,
    output: () => text,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = re.exec(text);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in:\n${text}`);
        await sleep(50);
      }
    },
  };
}

async function stop(started: Started): Promise<void> {
  if (started.child.exitCode !== null) return;
  const exited = new Promise((resolve) => started.child.once('exit', resolve));
  started.child.kill('SIGTERM');
  const timer = setTimeout(() => started.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Browses `base` at 5 requests/s for `seconds` (open loop); resolves with each request's latency and end time. */
async function browse(
  base: string,
  seconds: number,
  tag: string,
): Promise<{ latency: number[]; endedAt: Map<string, number> }> {
  const latency: number[] = [];
  const endedAt = new Map<string, number>();
  const answers: Promise<void>[] = [];
  const begin = Date.now();
  const count = Math.round((seconds * 1000) / RATE_MS);
  for (let i = 0; i < count; i++) {
    const due = begin + i * RATE_MS;
    if (due > Date.now()) await sleep(due - Date.now());
    const url = `/leak?${tag}=${i}`;
    const sent = performance.now();
    answers.push(
      fetch(`${base}${url}`, { headers: { accept: '*/*', 'sec-fetch-dest': 'empty' } }).then(async (res) => {
        await res.text();
        latency.push(performance.now() - sent);
        endedAt.set(url, Date.now());
      }),
    );
  }
  await Promise.all(answers);
  return { latency, endedAt };
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function median(values: number[]): number {
  return quantile(values, 0.5);
}

interface Row {
  heapMb: number;
  snapshotMb: number;
  baselinePauseMs: number;
  stalledShare: number;
  longestStallMs: number;
  records: number;
  pausesMs: number[];
  direct: { p50: number; p99: number };
  proxied: { p50: number; p99: number };
  toRecordMinusCaptureMs: number[];
  /** How long the browsing waited for the budget after the baseline (0: started at once). */
  waitedMs: number;
  note: string;
}

async function measureHeap(heapMb: number, settings: Settings): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'apptrace-bench-live-'));
  const target = start(
    process.execPath,
    ['--inspect=127.0.0.1:0', APP],
    { PORT: '0', BALLAST_MB: String(Math.max(0, heapMb - BASE_HEAP_MB)) },
    dirname(APP),
  );
  let proxy: Started | undefined;
  try {
    const [, appPort] = await target.waitFor(/listening on (\d+)/, 600_000);
    const [, inspectPort] = await target.waitFor(/ws:\/\/127\.0\.0\.1:(\d+)\//, 10_000);
    const direct = `http://127.0.0.1:${appPort}`;
    const directRun = await browse(direct, settings.directS, 'direct');

    proxy = start(
      process.execPath,
      [
        PROXY,
        '--target',
        `127.0.0.1:${appPort}`,
        '--inspect',
        `127.0.0.1:${inspectPort}`,
        '--listen',
        '127.0.0.1:0',
        '--db',
        join(dir, 'db.json'),
      ],
      {},
      dirname(APP),
    );
    const [, proxyUrl] = await proxy.waitFor(/apptrace-proxy: listening on (http:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const api = `${proxyUrl}/_ah/apptrace/api`;
    // The baseline: the first snapshot after attaching.
    let baseline: HeapRecord | undefined;
    const deadline = Date.now() + settings.baselineS * 1000;
    while (!baseline) {
      if (Date.now() > deadline) {
        const empty = { p50: NaN, p99: NaN };
        return {
          heapMb,
          snapshotMb: NaN,
          baselinePauseMs: NaN,
          stalledShare: NaN,
          longestStallMs: NaN,
          records: 0,
          pausesMs: [],
          direct: { p50: median(directRun.latency), p99: quantile(directRun.latency, 0.99) },
          proxied: empty,
          toRecordMinusCaptureMs: [],
          waitedMs: 0,
          note: `no baseline within ${settings.baselineS} s`,
        };
      }
      await sleep(250);
      baseline = (await json<HeapRecord[]>(`${api}/records`).catch(() => [])).find((r) => r.baseline);
    }
    // The budget's wait after the baseline (9 × its pause), as when a developer starts
    // apptrace and opens the app a little later; bounded, then browsing starts anyway.
    const budgetFree = Date.parse(baseline.at) - baseline.timings.analysis_ms + (baseline.timings.pause_ms ?? 0) * 9;
    const waitedMs = Math.max(0, Math.min(budgetFree - Date.now(), settings.budgetWaitS * 1000));
    await sleep(waitedMs);
    const early = budgetFree > Date.now();

    // Browse through the proxy; watch records appear (to time response → record).
    await fetch(`${direct}/stall/reset`);
    const seenAt = new Map<number, number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        for (const record of await json<HeapRecord[]>(`${api}/records?since=${baseline!.index}`).catch(() => [])) {
          if (!seenAt.has(record.index)) seenAt.set(record.index, Date.now());
        }
        await sleep(25);
      }
    })();
    const proxied = await browse(proxyUrl!, settings.browseS, 'proxied');
    const stall = await json<{ stalledMs: number; longestMs: number; wallMs: number }>(`${direct}/stall`);
    // Records of requests sent while browsing, made after it ended, still count for the timing.
    const settleBy = Date.now() + 2_000;
    while (Date.now() < settleBy) {
      const status = await json<ProfilerStatus>(`${api}/status`);
      if (!status.snapshot.running) break;
      await sleep(100);
    }
    watching = false;
    await watcher;
    const records = (await json<HeapRecord[]>(`${api}/records?since=${baseline.index}`)).filter((r) => !r.baseline);
    const toRecord: number[] = [];
    for (const record of records) {
      const ended = record.request ? proxied.endedAt.get(record.request.url) : undefined;
      const seen = seenAt.get(record.index);
      if (ended !== undefined && seen !== undefined) toRecord.push(seen - ended - record.timings.capture_ms);
    }
    return {
      heapMb,
      snapshotMb: baseline.heap.total_size / 1024 / 1024,
      baselinePauseMs: baseline.timings.pause_ms ?? baseline.timings.capture_ms,
      stalledShare: stall.stalledMs / stall.wallMs,
      longestStallMs: stall.longestMs,
      records: records.length,
      pausesMs: records.map((r) => r.timings.pause_ms ?? r.timings.capture_ms),
      direct: { p50: median(directRun.latency), p99: quantile(directRun.latency, 0.99) },
      proxied: { p50: median(proxied.latency), p99: quantile(proxied.latency, 0.99) },
      toRecordMinusCaptureMs: toRecord,
      waitedMs,
      note: early ? 'browsing began before the budget allowed a snapshot' : '',
    };
  } finally {
    if (proxy) await stop(proxy);
    await stop(target);
    rmSync(dir, { recursive: true, force: true });
  }
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return '—';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const rows: Row[] = [];
  for (const heap of settings.heaps) {
    process.stderr.write(`bench:live: ~${heap} MB heap…\n`);
    const row = await measureHeap(heap, settings);
    rows.push(row);
    // Each heap's figures as soon as they are known (the 300 MB one takes long).
    process.stderr.write(`bench:live: ${JSON.stringify(row)}\n`);
  }
  const header = ['', ...rows.map((r) => `~${r.heapMb} MB`)];
  const lines: string[][] = [
    header,
    ['snapshot heap', ...rows.map((r) => `${r.snapshotMb.toFixed(0)} MB`)],
    ['baseline pause', ...rows.map((r) => ms(r.baselinePauseMs))],
    ['then waited for the budget', ...rows.map((r) => ms(r.waitedMs))],
    [`stalled while browsed ${settings.browseS} s`, ...rows.map((r) => `${(r.stalledShare * 100).toFixed(1)}%`)],
    ['longest stall', ...rows.map((r) => ms(r.longestStallMs))],
    ['records while browsed', ...rows.map((r) => String(r.records))],
    ['their pauses (median)', ...rows.map((r) => ms(median(r.pausesMs)))],
    ['p50 direct / proxy', ...rows.map((r) => `${ms(r.direct.p50)} / ${ms(r.proxied.p50)}`)],
    ['p99 direct / proxy', ...rows.map((r) => `${ms(r.direct.p99)} / ${ms(r.proxied.p99)}`)],
    [
      'response→record − capture (median, max)',
      ...rows.map((r) => `${ms(median(r.toRecordMinusCaptureMs))}, ${ms(Math.max(...r.toRecordMinusCaptureMs))}`),
    ],
  ];
  lines.push(['note', ...rows.map((r) => r.note || '—')]);
  const widths = header.map((_, c) => Math.max(...lines.map((l) => l[c]!.length)));
  process.stdout.write(
    `bench/live: 5 requests/s on loopback, default options (--max-pause-share 0.1); direct ${settings.directS} s, through apptrace ${settings.browseS} s\n`,
  );
  for (const line of lines)
    process.stdout.write(
      `${line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}\n`,
    );
}

await main();
