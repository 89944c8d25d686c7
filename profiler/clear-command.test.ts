import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runClearCommand } from './clear-command.js';
import { RecordStore } from './store.js';

const run = promisify(execFile);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'profiler', 'cli.js');

async function storeWith(path: string, count: number): Promise<void> {
  const store = await RecordStore.open(path);
  for (let i = 0; i < count; i++) {
    store.append({
      at: new Date().toISOString(),
      requests: 1,
      request: { method: 'GET', url: `/${i}`, status: 200 },
      session: 's',
      heap: { total_size: 1, node_count: 1, edge_count: 1 },
      timings: { capture_ms: 1, analysis_ms: 1 },
      entries: [],
    });
  }
  await store.close();
}

const records = (path: string): unknown[] => (JSON.parse(readFileSync(path, 'utf8')) as { records: unknown[] }).records;

describe('apptrace-profiler clear', () => {
  let dir: string;
  let db: string;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-clear-'));
    db = join(dir, 'db.json');
    await storeWith(db, 3);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('asks first: "y" deletes the records, anything else keeps them (exit 1)', async () => {
    const questions: string[] = [];
    const out: string[] = [];
    const io = (answer: string) => ({
      ask: async (q: string) => {
        questions.push(q);
        return answer;
      },
      out: (t: string) => out.push(t),
    });
    expect(await runClearCommand(['--db', db], io('n'))).toBe(1);
    expect(records(db)).toHaveLength(3);
    expect(questions[0]).toContain(`Delete all 3 records (#1–#3) from ${db}?`);
    expect(out.join('')).toContain('nothing deleted');

    expect(await runClearCommand(['--db', db], io('y'))).toBe(0);
    expect(records(db)).toEqual([]);
    expect(out.join('')).toContain(`deleted 3 records from ${db}`);
  });

  it('as a process: --yes clears the file; without a terminal and without --yes it exits 2 and deletes nothing', async () => {
    expect(existsSync(CLI)).toBe(true);
    const refused = await run(process.execPath, [CLI, 'clear', '--db', db]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect(records(db)).toHaveLength(3);

    // The command's help and the profiler's own help both name it.
    expect((await run(process.execPath, [CLI, 'clear', '--help'])).stdout).toContain('Usage: apptrace-profiler clear');
    expect((await run(process.execPath, [CLI, '--help'])).stdout).toContain('apptrace-profiler clear');

    const done = await run(process.execPath, [CLI, 'clear', '--db', db, '--yes']);
    expect(done.stdout).toContain('deleted 3 records');
    expect(records(db)).toEqual([]);
  });

  it('leaves a missing store alone (no file created) and says there is nothing to clear', async () => {
    const missing = join(dir, 'none', 'db.json');
    const out: string[] = [];
    expect(await runClearCommand(['--db', missing, '--yes'], { out: (t) => out.push(t) })).toBe(0);
    expect(existsSync(missing)).toBe(false);
    expect(out.join('')).toContain('nothing to clear');
  });
});
