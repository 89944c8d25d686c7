import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewRecord } from './store.js';
import { RecordStore } from './store.js';

function record(size: number): NewRecord {
  return {
    at: new Date().toISOString(),
    requests: 1,
    request: { method: 'GET', url: '/', status: 200 },
    session: 's1',
    heap: { total_size: 1000, node_count: 10, edge_count: 20 },
    timings: { capture_ms: 1, analysis_ms: 1 },
    entries: [
      { obj_type: 'Array', name: 'leak', dominated_size: size, filename: 'a.mjs', lineno: 1, module_name: 'a.mjs' },
    ],
  };
}

describe('RecordStore.clear', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-store-clear-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('empties the file on disk, says how many went, and numbers the next record 1 again', async () => {
    const path = join(dir, 'db.json');
    const store = await RecordStore.open(path);
    for (const size of [100, 200, 300]) store.append(record(size));
    await store.flush();
    expect(JSON.parse(readFileSync(path, 'utf8')).records).toHaveLength(3);

    expect(await store.clear()).toBe(3);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, records: [] });
    expect(store.size).toBe(0);
    expect(store.lastIndex).toBe(0);
    expect(store.since(0)).toEqual([]);

    const { record: next, written } = store.append(record(400));
    await written;
    expect(next.index).toBe(1);
    await store.close();
    const reopened = await RecordStore.open(path);
    expect(reopened.since(0).map((r) => [r.index, r.entries[0]!.dominated_size])).toEqual([[1, 400]]);
  });

  it('waits for a write already under way, so a record appended before the clear does not come back', async () => {
    const path = join(dir, 'db.json');
    const store = await RecordStore.open(path);
    store.append(record(100));
    // No flush: the append's write is still queued when clear starts.
    expect(await store.clear()).toBe(1);
    await store.flush();
    expect(JSON.parse(readFileSync(path, 'utf8')).records).toEqual([]);
  });
});
