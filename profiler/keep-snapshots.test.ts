/**
 * --keep-snapshots with a real target, a real profiler and real snapshots: the raw
 * snapshot of a record downloads from the API, `apptrace-profiler analyze` on it gives
 * the record's totals and entries, and only the newest N files stay.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Entry, HeapRecord } from '../contract/record.js';
import { FIXTURE_DIR, killAll, runProfiler, startProfiler, startTarget, waitFor } from '../test/profiler-processes.js';

const dir = mkdtempSync(join(tmpdir(), 'apptrace-keep-'));
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sizes = (entries: Entry[]) =>
  Object.fromEntries(entries.map((e) => [`${e.module_name}:${e.name}`, e.dominated_size]));

describe('--keep-snapshots', () => {
  it('keeps the newest N raw snapshots, downloadable, and analyze on one gives the record', {
    timeout: 90_000,
  }, async () => {
    const target = await startTarget();
    const db = join(dir, 'db.json');
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      db,
      '--keep-snapshots',
      '2',
    ]);
    // The baseline, then three records, one at a time.
    await waitFor(async () => (await profiler.records()).length >= 1 || undefined, 'the baseline');
    for (let i = 2; i <= 4; i++) {
      expect(await target.get('/leak')).toBe(200);
      expect(await profiler.signal(1, '/leak')).toBe(202);
      await waitFor(async () => (await profiler.records()).length >= i || undefined, `record ${i}`);
    }
    const records: HeapRecord[] = await profiler.records();
    expect(records.map((r) => r.index)).toEqual([1, 2, 3, 4]);

    // Only the newest two files stay; the older records no longer say they have one.
    const files = readdirSync(join(dir, 'db.json.snapshots')).sort();
    expect(files).toEqual(['3.heapsnapshot', '4.heapsnapshot']);
    expect(records.map((r) => r.snapshot ?? null)).toEqual([null, null, '3.heapsnapshot', '4.heapsnapshot']);
    const pruned = await fetch(`${profiler.base}/api/records/1/snapshot`);
    expect(pruned.status).toBe(404);
    await pruned.text();

    // The newest one downloads as a file DevTools can load…
    const res = await fetch(`${profiler.base}/api/records/4/snapshot`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="apptrace-4.heapsnapshot"');
    const downloaded = join(dir, 'downloaded.heapsnapshot');
    writeFileSync(downloaded, Buffer.from(await res.arrayBuffer()));

    // …and the offline analysis of it gives the same totals and entries as the record.
    const run = await runProfiler(['analyze', downloaded, '--json', '--root', FIXTURE_DIR], 60_000);
    expect(run.code, run.stderr).toBe(0);
    const offline = JSON.parse(run.stdout) as {
      total_size: number;
      node_count: number;
      edge_count: number;
      entries: Entry[];
    };
    const record = records[3]!;
    expect(offline.total_size).toBe(record.heap.total_size);
    expect(offline.node_count).toBe(record.heap.node_count);
    expect(offline.edge_count).toBe(record.heap.edge_count);
    expect(sizes(offline.entries)).toEqual(sizes(record.entries));
    expect(sizes(record.entries)['server.mjs:messages']).toBeGreaterThan(0);

    // The CSV has a row per record × entry.
    const csv = await (await fetch(`${profiler.base}/api/records.csv`)).text();
    const rows = csv.trimEnd().split('\r\n');
    expect(rows.length).toBe(1 + records.reduce((n, r) => n + Math.max(1, r.entries.length), 0));
  });

  it('a snapshot cut off when the target dies mid-stream leaves no file', { timeout: 90_000 }, async () => {
    // A larger heap, so that the snapshot streams for a while.
    const target = await startTarget({ env: { BALLAST: '100000' } });
    const sub = mkdtempSync(join(dir, 'cut-'));
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      join(sub, 'db.json'),
      '--keep-snapshots',
      '5',
    ]);
    await waitFor(async () => {
      const status = await profiler.status();
      return status.records >= 1 && !status.snapshot.running;
    }, 'the baseline');
    expect(await profiler.signal(1)).toBe(202);
    // Streaming has begun: V8 is done building and bytes have arrived.
    await waitFor(
      async () => {
        const { snapshot } = await profiler.status();
        return (
          snapshot.running && snapshot.progress !== null && snapshot.progress.total === 0 && snapshot.progress.done > 0
        );
      },
      'the snapshot to stream',
      40_000,
    );
    target.child.kill('SIGKILL');
    await waitFor(async () => {
      const status = await profiler.status();
      return !status.snapshot.running && status.lastError !== null;
    }, 'the snapshot to be discarded');
    // Only the baseline's file: no partial one, none named after a record that does not exist.
    await waitFor(() => readdirSync(join(sub, 'db.json.snapshots')).length === 1, 'the partial file to go', 5_000);
    expect(readdirSync(join(sub, 'db.json.snapshots'))).toEqual(['1.heapsnapshot']);
    expect((await profiler.records()).map((r) => r.snapshot)).toEqual(['1.heapsnapshot']);
  });

  it('without the flag keeps nothing', { timeout: 60_000 }, async () => {
    const target = await startTarget();
    const sub = mkdtempSync(join(dir, 'off-'));
    const profiler = await startProfiler([
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      join(sub, 'db.json'),
    ]);
    const record = await waitFor(async () => (await profiler.records())[0], 'the baseline');
    expect(record.snapshot).toBeUndefined();
    // (The store's own temporary file may be there while it writes.)
    expect(readdirSync(sub)).not.toContain('db.json.snapshots');
  });
});
