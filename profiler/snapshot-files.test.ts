import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotFiles, snapshotDir } from './snapshot-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function files(keep: number): { files: SnapshotFiles; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'apptrace-snapfiles-'));
  dirs.push(root);
  return {
    files: new SnapshotFiles({ dbPath: join(root, 'db.json'), keep, log: () => undefined }),
    dir: join(root, 'db.json.snapshots'),
  };
}

describe('SnapshotFiles', () => {
  it('writes the chunks as they come and names the file after its record', async () => {
    const { files: kept, dir } = files(3);
    expect(dir).toBe(snapshotDir(join(dir, '..', 'db.json')));
    const writer = kept.begin();
    writer.write('{"snapshot":');
    writer.write('{}}');
    expect(await writer.finish()).toBe(true);
    expect(writer.commit(7)).toBe('7.heapsnapshot');
    expect(readFileSync(join(dir, '7.heapsnapshot'), 'utf8')).toBe('{"snapshot":{}}');
    expect(readdirSync(dir)).toEqual(['7.heapsnapshot']);
  });

  it('a snapshot cut off mid-stream leaves no file', async () => {
    const { files: kept, dir } = files(3);
    const writer = kept.begin();
    writer.write('{"snapshot":{"meta"');
    writer.abort();
    // The partial file goes once its stream has closed.
    for (let i = 0; i < 50 && readdirSync(dir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps the newest N and deletes older ones', async () => {
    const { files: kept, dir } = files(2);
    for (const index of [1, 2, 3, 4]) {
      const writer = kept.begin();
      writer.write(`snapshot ${index}`);
      await writer.finish();
      writer.commit(index);
    }
    expect(kept.prune()).toEqual([1, 2]);
    expect(readdirSync(dir).sort()).toEqual(['3.heapsnapshot', '4.heapsnapshot']);
    expect(kept.prune()).toEqual([]);
  });

  it('removes partial files a killed profiler left behind, and leaves other files alone', () => {
    const root = mkdtempSync(join(tmpdir(), 'apptrace-snapfiles-'));
    dirs.push(root);
    mkdirSync(join(root, 'db.json.snapshots'));
    writeFileSync(join(root, 'db.json.snapshots', '.123-1.heapsnapshot.partial'), 'half');
    writeFileSync(join(root, 'db.json.snapshots', '5.heapsnapshot'), 'whole');
    writeFileSync(join(root, 'db.json.snapshots', 'notes.txt'), 'mine');
    const kept = new SnapshotFiles({ dbPath: join(root, 'db.json'), keep: 1 });
    expect(readdirSync(join(root, 'db.json.snapshots')).sort()).toEqual(['5.heapsnapshot', 'notes.txt']);
    expect(kept.indexes()).toEqual([5]);
    expect(existsSync(join(root, 'db.json.snapshots', 'notes.txt'))).toBe(true);
  });
});
