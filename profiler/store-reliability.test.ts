/**
 * Issue #11, the store half, through the real compiled `apptrace-profiler serve` and the
 * fixture target with its inspector: one writer per store, acknowledged means on disk
 * (even after kill -9), read-only and malformed stores refused untouched, a write that
 * fails (a real EFBIG: the profiler runs under `ulimit -f`) leaves no temporary file, and
 * on SIGTERM the records that could not be written are reported.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../demo/ports.js';
import type { HeapRecord } from '../contract/record.js';
import {
  PROFILER_CLI,
  FIXTURE_DIR,
  kill,
  killAll,
  runProfiler,
  startProfiler,
  startTarget,
  waitFor,
} from '../test/profiler-processes.js';

function record(index: number, padding = 0): HeapRecord {
  return {
    index,
    at: new Date(Date.UTC(2026, 10, 25, 10, 0, index)).toISOString(),
    requests: 1,
    request: { method: 'GET', url: `/r${index}`, status: 200 },
    heap: { total_size: 1_000_000 + index, node_count: 100, edge_count: 200 },
    timings: { capture_ms: 10, analysis_ms: 5 },
    entries: [
      {
        obj_type: 'Array',
        name: 'log'.padEnd(3 + padding, '_'),
        dominated_size: 100 * index,
        filename: 'a.js',
        lineno: 1,
        module_name: 'a.js',
      },
    ],
  };
}

function storeText(records: unknown[]): string {
  return JSON.stringify({ version: 1, records }, null, 2);
}

function onDisk(db: string): HeapRecord[] {
  return (JSON.parse(readFileSync(db, 'utf8')) as { records: HeapRecord[] }).records;
}

/** A pid that surely is not running: a process that has exited. */
function deadPid(): number {
  const done = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(done.stdout);
}

describe('the record store under real profilers', () => {
  let dir: string;
  let db: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-store-'));
    db = join(dir, 'db.json');
  });

  afterEach(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second profiler on the same store, naming the store and the holder; the first keeps recording', async () => {
    const target = await startTarget();
    const first = await startProfiler(['--inspect', `127.0.0.1:${target.inspectPort}`, '--db', db]);
    await waitFor(async () => (await first.records()).length >= 1, 'the baseline');
    const second = await runProfiler([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      db,
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `the record store ${db} is in use by another apptrace profiler (pid ${first.child.pid}`,
    );
    expect(second.stderr).toContain('--db another path');
    // The first is intact: it still records, and the file has everything it acknowledged.
    const manual = await first.snapshot();
    expect(manual.status).toBe(201);
    const index = (manual.body as HeapRecord).index;
    expect(onDisk(db).map((r) => r.index)).toContain(index);
    expect(JSON.parse(readFileSync(`${db}.lock`, 'utf8'))).toMatchObject({ pid: first.child.pid });
  }, 60_000);

  it('takes over a lock whose process is gone, and removes its own lock when it stops', async () => {
    const stale = deadPid();
    writeFileSync(`${db}.lock`, JSON.stringify({ pid: stale, since: '2026-01-01T00:00:00.000Z' }));
    const profiler = await startProfiler(['--inspect', `127.0.0.1:${await freePort()}`, '--db', db]);
    expect(JSON.parse(readFileSync(`${db}.lock`, 'utf8'))).toMatchObject({ pid: profiler.child.pid });
    await kill(profiler.child, 'SIGTERM');
    expect(existsSync(`${db}.lock`)).toBe(false);
  }, 30_000);

  it('lets exactly one of two profilers started at once take over a stale lock; the other names the winner', async () => {
    writeFileSync(`${db}.lock`, JSON.stringify({ pid: deadPid() }));
    const inspect = `127.0.0.1:${await freePort()}`;
    const args = ['serve', '--listen', '127.0.0.1:0', '--inspect', inspect, '--db', db];
    const both = [0, 1].map(() => {
      const child = spawn(process.execPath, [PROFILER_CLI, ...args], {
        cwd: FIXTURE_DIR,
        env: { ...process.env, APPTRACE_DB: '', APPTRACE_INSPECT: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out = { text: '' };
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out.text += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out.text += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      return { child, out, exited };
    });
    try {
      const loser = await Promise.race(both.map((p, i) => p.exited.then(() => i)));
      const winner = both[1 - loser]!;
      expect(await both[loser]!.exited).toBe(1);
      await waitFor(() => /listening on http/.test(winner.out.text), 'the winner to listen', 20_000);
      expect(winner.child.exitCode).toBeNull();
      expect(both[loser]!.out.text).toContain(`is in use by another apptrace profiler (pid ${winner.child.pid}`);
      expect(JSON.parse(readFileSync(`${db}.lock`, 'utf8'))).toMatchObject({ pid: winner.child.pid });
    } finally {
      for (const p of both) await kill(p.child);
    }
  }, 30_000);

  it('has the record on disk when it is killed (SIGKILL) right after answering 201', async () => {
    const target = await startTarget();
    for (let round = 0; round < 3; round++) {
      // Each round's profiler takes over the lock the killed one left.
      const profiler = await startProfiler(['--inspect', `127.0.0.1:${target.inspectPort}`, '--db', db]);
      await waitFor(async () => (await profiler.status()).inspector.state === 'connected', 'the inspector');
      const res = await fetch(`${profiler.base}/api/snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      // No await between the answer and the kill.
      profiler.child.kill('SIGKILL');
      expect(res.status).toBe(201);
      const acknowledged = (await res.json()) as HeapRecord;
      await profiler.exited;
      const saved = onDisk(db).find((r) => r.index === acknowledged.index);
      expect(saved, `record ${acknowledged.index} of round ${round}`).toEqual(acknowledged);
    }
    // Each round added at least its manual record (and a baseline) to the same file.
    expect(onDisk(db).length).toBeGreaterThanOrEqual(3);
  }, 90_000);

  it('refuses a read-only store with a clear message and leaves it as it was (bytes and mode)', async () => {
    const text = storeText([record(1), record(2)]);
    writeFileSync(db, text);
    chmodSync(db, 0o444);
    const before = statSync(db);
    const result = await runProfiler([
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--db',
      db,
      '--inspect',
      `127.0.0.1:${await freePort()}`,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the record store ${db} is read-only; it was left untouched`);
    expect(result.stderr).toContain('chmod u+w');
    expect(readFileSync(db, 'utf8')).toBe(text);
    const after = statSync(db);
    expect(after.mode & 0o777).toBe(0o444);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(after.ino).toBe(before.ino);
    expect(readdirSync(dir)).toEqual(['db.json']);
  }, 30_000);

  const malformed: [string, unknown[], string][] = [
    [
      'entries: [null]',
      [record(1), { ...record(2), entries: [null] }],
      'record 2 (the 2nd in "records") is malformed: entry 1 is not an object',
    ],
    [
      'heap: null',
      [record(1), { ...record(2), heap: null }],
      'record 2 (the 2nd in "records") is malformed: "heap" needs',
    ],
    ['a null record', [record(1), null], 'the 2nd record in "records" is malformed: it is not an object'],
    [
      'an entry without a name',
      [{ ...record(1), entries: [{ ...record(1).entries[0]!, name: 7 }] }],
      'record 1 (the 1st in "records") is malformed: entry 1 has no "name" string',
    ],
    [
      'request: "GET /"',
      [{ ...record(1), request: 'GET /' }],
      'record 1 (the 1st in "records") is malformed: "request"',
    ],
    ['indexes that go back', [record(2), record(1)], 'record 1 (the 2nd in "records") does not follow record 2'],
  ];
  for (const [what, records, message] of malformed) {
    it(`refuses a store with ${what}, naming the file and the record, and leaves it untouched`, async () => {
      const text = storeText(records);
      writeFileSync(db, text);
      const before = statSync(db);
      const result = await runProfiler([
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--db',
        db,
        '--inspect',
        `127.0.0.1:${await freePort()}`,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${db} is not an apptrace store: ${message}`);
      expect(result.stderr).toContain('left untouched');
      expect(readFileSync(db, 'utf8')).toBe(text);
      expect(statSync(db).mtimeMs).toBe(before.mtimeMs);
      // Neither a lock nor a temporary file stays behind.
      expect(readdirSync(dir)).toEqual(['db.json']);
    }, 30_000);
  }

  /** The profiler CLI with a file size limit: writes past `kb` KB fail with EFBIG, as on a full disk. */
  function profilerWithSizeLimit(kb: number, args: string[]) {
    const child = spawn(
      'bash',
      [
        '-c',
        `ulimit -f ${kb} && exec "$@"`,
        'bash',
        process.execPath,
        PROFILER_CLI,
        'serve',
        '--listen',
        '127.0.0.1:0',
        ...args,
      ],
      {
        cwd: FIXTURE_DIR,
        env: { ...process.env, APPTRACE_DB: '', APPTRACE_INSPECT: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const output = { stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output, exited };
  }

  it('refuses to start when the store cannot be written, leaving the file and no temporary file', async () => {
    // ~100 KB of records: rewriting it at start fails under a 16 KB limit.
    const text = storeText(Array.from({ length: 60 }, (_, i) => record(i + 1, 1500)));
    writeFileSync(db, text);
    const run = profilerWithSizeLimit(16, ['--db', db, '--inspect', `127.0.0.1:${await freePort()}`]);
    const code = await run.exited;
    expect(code).toBe(1);
    expect(run.output.stderr).toContain(`cannot write the record store ${db}`);
    expect(readFileSync(db, 'utf8')).toBe(text);
    expect(readdirSync(dir)).toEqual(['db.json']);
  }, 30_000);

  it('does not acknowledge a record it could not write, and on SIGTERM reports the records it lost', async () => {
    const target = await startTarget();
    // The empty store fits in 1 KB; a record of the fixture does not.
    const run = profilerWithSizeLimit(1, ['--db', db, '--inspect', `127.0.0.1:${target.inspectPort}`]);
    try {
      const [, base] = (await waitFor(
        () => /listening on (http:\/\/[^\s]+\/_ah\/apptrace)/.exec(run.output.stdout) ?? undefined,
        'the profiler',
        20_000,
      ))!;
      await waitFor(
        async () => ((await (await fetch(`${base}/api/status`)).json()) as { lastError: unknown }).lastError !== null,
        'the failed write of the baseline',
      );
      const res = await fetch(`${base}/api/snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: string }).error).toContain(`cannot write the record store ${db}`);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(1);
      expect(run.output.stderr).toMatch(/2 record\(s\) \(#1–#2\) could not be written to .*db\.json: .*They are lost/);
      // The file still holds what was last written whole; no temporary file fills the disk.
      expect(onDisk(db)).toEqual([]);
      expect(readdirSync(dir)).toEqual(['db.json']);
    } finally {
      await kill(run.child);
    }
  }, 60_000);
});
