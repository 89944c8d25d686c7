import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotFiles, snapshotDir } from './snapshot-files.js';

/** Issue #11: snapshots are kept per store, and pruning never deletes what is not the store's. */
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function keep(files: SnapshotFiles, index: number): Promise<void> {
  const writer = files.begin();
  writer.write(`{"of":${index}}`);
  await writer.finish();
  writer.commit(index);
}

describe('snapshots per store', () => {
  it('gives two stores in one folder two snapshot folders, so neither prunes the other', async () => {
    const root = mkdtempSync(join(tmpdir(), 'apptrace-per-store-'));
    dirs.push(root);
    expect(snapshotDir(join(root, 'a.json'))).toBe(join(root, 'a.json.snapshots'));
    expect(snapshotDir(join(root, 'b.json'))).toBe(join(root, 'b.json.snapshots'));
    const a = new SnapshotFiles({ dbPath: join(root, 'a.json'), keep: 2, log: () => undefined });
    const b = new SnapshotFiles({ dbPath: join(root, 'b.json'), keep: 2, log: () => undefined });
    for (const index of [1, 2]) await keep(a, index);
    for (const index of [21, 22, 23]) await keep(b, index);
    expect(b.prune()).toEqual([21]);
    expect(a.prune()).toEqual([]);
    expect(readdirSync(a.dir).sort()).toEqual(['1.heapsnapshot', '2.heapsnapshot']);
    expect(readdirSync(b.dir).sort()).toEqual(['22.heapsnapshot', '23.heapsnapshot']);
  });

  it('counts and deletes only the files that the store’s records name: a foreign 23.heapsnapshot stays and pushes none out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'apptrace-per-store-'));
    dirs.push(root);
    const files = new SnapshotFiles({ dbPath: join(root, 'db.json'), keep: 2, log: () => undefined });
    for (const index of [1, 2, 3]) await keep(files, index);
    writeFileSync(join(files.dir, '23.heapsnapshot'), 'not ours');
    const ours = new Set([1, 2, 3]);
    expect(files.prune((index) => ours.has(index))).toEqual([1]);
    expect(readdirSync(files.dir).sort()).toEqual(['2.heapsnapshot', '23.heapsnapshot', '3.heapsnapshot']);
  });
});
