import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { eventually, stopAll } from '../test/processes.js';
import { projectRoot, startStack, type Stack } from './stack.js';

/**
 * The data path of docs/design.md end to end, with real parts only: a target with
 * `--inspect`, apptrace-proxy with its sidecar profiler, a lowdb file. Only URLs that
 * match `--url-pattern` make records; a burst of concurrent matching requests is
 * answered without waiting for snapshots, and the snapshots that cover it never overlap
 * and add up to exactly the requests sent.
 */
const APP = join(projectRoot(), 'e2e', 'fixtures', 'leak-app.cjs');
const BURST = 50;

let dir = '';
let db = '';
let stack: Stack;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-data-path-'));
  db = join(dir, 'db.json');
  stack = await startStack({ app: APP, db, proxyArgs: ['--url-pattern', '^/item/'] });
  await stack.waitForRecords(1); // the baseline, taken on attach
}, 90_000);

afterAll(async () => {
  await stack?.stop();
  await stopAll();
  await rm(dir, { recursive: true, force: true });
});

/** When each snapshot began and ended: `at` is its end; capture and analysis precede it. */
function spans(records: HeapRecord[]): { index: number; start: number; end: number }[] {
  return records.map((r) => {
    const end = Date.parse(r.at);
    return { index: r.index, start: end - r.timings.capture_ms - r.timings.analysis_ms, end };
  });
}

describe('the data path through apptrace-proxy', () => {
  it('makes no record for URLs that do not match --url-pattern', async () => {
    const before = (await stack.status()).records;
    for (const path of ['/', '/other', '/items', '/_ah/apptrace/api/status']) {
      const res = await fetch(`${stack.proxyUrl}${path}`);
      expect(res.status).toBe(200);
      await res.text();
    }
    // A matching request afterwards is the marker: once its record is there, every
    // signal the proxy would have sent for the requests before it has arrived too.
    const marker = await fetch(`${stack.proxyUrl}/item/marker`);
    await marker.text();
    const record = await stack.waitForRecordOf('/item/marker');
    const after = await stack.records(0);
    expect(after.length).toBe(before + 1);
    expect(record.requests).toBe(1);
    expect(after.every((r) => r.request === null || r.request.url.startsWith('/item/'))).toBe(true);
  });

  it(`answers ${BURST} concurrent matching requests without waiting for snapshots; requests add up, snapshots never overlap`, async () => {
    const since = (await stack.status()).lastIndex;
    const answered = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const res = await fetch(`${stack.proxyUrl}/item/${i}`);
        const body = await res.text();
        return { status: res.status, body, at: Date.now() };
      }),
    );
    const allAnswered = Math.max(...answered.map((a) => a.at));
    expect(answered.map((a) => a.status)).toEqual(Array(BURST).fill(200));
    expect(answered.every((a) => a.body.includes('leak app'))).toBe(true);

    const records = await eventually(
      async () => {
        const list = await stack.records(since);
        const total = list.reduce((n, r) => n + r.requests, 0);
        const status = await stack.status();
        return total >= BURST && !status.snapshot.running && status.snapshot.pendingSignals === 0 ? list : undefined;
      },
      () => `records covering ${BURST} requests\n${stack.proxy.output()}`,
      120_000,
    );
    // Every request counted exactly once.
    expect(records.reduce((n, r) => n + r.requests, 0)).toBe(BURST);
    // Requests that arrive while a snapshot runs are folded: fewer snapshots than requests.
    expect(records.length).toBeLessThan(BURST);
    // The responses did not wait for the profiler: all of them were in before the last
    // snapshot covering them had finished.
    expect(allAnswered).toBeLessThan(Date.parse(records.at(-1)!.at));
    // One snapshot at a time.
    const all = spans(await stack.records(0));
    for (let i = 1; i < all.length; i++) {
      expect(all[i]!.start, `record ${all[i]!.index} starts after ${all[i - 1]!.index} ended`).toBeGreaterThanOrEqual(
        all[i - 1]!.end,
      );
    }
    // The lowdb file on disk holds the same records (written atomically, valid JSON).
    const stored = await eventually(async () => {
      const data = JSON.parse(await readFile(db, 'utf8')) as { records: HeapRecord[] };
      return data.records.length === all.length ? data.records : undefined;
    }, 'the store file to catch up');
    expect(stored.map((r) => r.index)).toEqual(all.map((s) => s.index));
  }, 180_000);
});
