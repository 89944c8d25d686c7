import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAppError } from '../contract/errors.js';
import type { NewRecord } from './store.js';
import { RecordStore } from './store.js';

function record(requests: number): NewRecord {
  return {
    at: new Date().toISOString(),
    requests,
    request: { method: 'GET', url: '/', status: 200 },
    baseline: false,
    session: 's1',
    heap: { total_size: 1000, node_count: 10, edge_count: 20 },
    timings: { capture_ms: 1, analysis_ms: 1 },
    entries: [
      {
        obj_type: 'Array',
        name: 'leak',
        dominated_size: 100 * requests,
        filename: 'a.mjs',
        lineno: 1,
        module_name: 'a.mjs',
      },
    ],
  };
}

describe('RecordStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the directory and the file, numbers records from 1 and reads them back', async () => {
    const path = join(dir, 'nested', 'db.json');
    const store = await RecordStore.open(path);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, records: [] });
    const appended = [store.append(record(1)), store.append(record(2)), store.append(record(3))];
    expect(appended.map((a) => a.record.index)).toEqual([1, 2, 3]);
    await Promise.all(appended.map((a) => a.written));
    expect(store.since(1).map((r) => r.index)).toEqual([2, 3]);
    expect(store.since(3)).toEqual([]);
    // One writer per store: the first lets go before the file is opened again.
    expect(await store.close()).toBeUndefined();
    const reopened = await RecordStore.open(path);
    expect(reopened.since().map((r) => [r.index, r.requests])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const fourth = reopened.append(record(4));
    expect(fourth.record.index).toBe(4);
    await fourth.written;
    expect((JSON.parse(readFileSync(path, 'utf8')) as { records: unknown[] }).records).toHaveLength(4);
  });

  for (const [what, bytes] of [
    ['invalid JSON', '{"version": 1, "records": [ oops'],
    ['JSON of another shape', '{"users": []}'],
    ['a JSON null', 'null'],
    ['an empty file', ''],
  ] as const) {
    it(`refuses ${what} and leaves the file untouched`, async () => {
      const path = join(dir, 'db.json');
      writeFileSync(path, bytes);
      const error = await RecordStore.open(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isAppError(error, 'STORE_UNREADABLE')).toBe(true);
      expect((error as Error).message).toContain(`${path} is not an apptrace store`);
      expect((error as Error).message).toContain('--db');
      expect(readFileSync(path, 'utf8')).toBe(bytes);
    });
  }
});
