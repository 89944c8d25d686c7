/**
 * Measuring without disturbing (issue 10, point 4), on Express 5 + DataLoader from npm:
 * a module-level loader caches one promise per user id. With V8's debugger active, each
 * `await users.load(id)` would link the cached promise to the route handler's async
 * function, and with it the request, the response and the socket (~7 KB per entry instead
 * of a few hundred bytes). Those links are set when the promise is awaited and stay, so
 * the reference is a second instance of the app that no inspector ever attached to: it
 * serves the same requests and writes a snapshot of itself (`v8.writeHeapSnapshot`),
 * analysed offline the same way. The retained size of `users` in the live record must
 * match it within 10%.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, type RunningProcess } from '../processes.js';
import { projectRoot, startStack, type Stack } from '../../e2e/stack.js';
import type { Entry, Suspect } from '../../contract/record.js';
import { runCheck } from '../check-run.js';
import { ensureInstalled } from './ensure-installed.js';

const REQUESTS = 16;

let dir: string;
let work: string;
let stack: Stack | undefined;
let plain: RunningProcess | undefined;

beforeAll(async () => {
  dir = await ensureInstalled('express-dataloader');
  work = mkdtempSync(join(tmpdir(), 'apptrace-dataloader-'));
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  await plain?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('Express + DataLoader', () => {
  it("records the loader's retained size as a self-written snapshot without an inspector sees it (within 10%)", {
    timeout: 180_000,
  }, async () => {
    stack = await startStack({ app: join(dir, 'server.js'), db: join(work, 'db.json') });
    await stack.waitForRecords(1);
    // One snapshot per request, so that the verdict has its points.
    for (let i = 1; i <= REQUESTS; i++) {
      const res = await fetch(`${stack.proxyUrl}/users/${i}`);
      expect(res.status).toBe(200);
      await res.text();
      await stack.waitForRecordOf(`/users/${i}`);
    }
    const records = await stack.records();
    const live = loaderOf(records[records.length - 1]!.entries);

    // The same requests to an instance of the app without any inspector; it writes its own snapshot.
    plain = startProcess('plain target', process.execPath, ['server.js'], { cwd: dir, env: { PORT: '0' } });
    const [, plainPort] = await plain.waitFor(/listening on (\d+)/);
    for (let i = 1; i <= REQUESTS; i++) await (await fetch(`http://127.0.0.1:${plainPort}/users/${i}`)).text();
    const file = join(work, 'self.heapsnapshot');
    const res = await fetch(`http://127.0.0.1:${plainPort}/write-snapshot?file=${encodeURIComponent(file)}`, {
      method: 'POST',
    });
    expect(res.status).toBe(200);
    await res.text();
    const analysed = spawnSync(
      process.execPath,
      [join(projectRoot(), 'dist', 'profiler', 'cli.js'), 'analyze', file, '--root', dir, '--json'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(analysed.status, analysed.stderr).toBe(0);
    const offline = loaderOf((JSON.parse(analysed.stdout) as { entries: Entry[] }).entries);

    console.log(
      `users after ${REQUESTS} ids: live ${live.dominated_size} B, self-written without inspector ${offline.dominated_size} B`,
    );
    expect(Math.abs(live.dominated_size - offline.dominated_size) / offline.dominated_size).toBeLessThan(0.1);
    expect(live.filename).toBe('server.js');
  });

  it('names the loader as the first growing suspect, at its line, with the line that hands it the keys; check fails', {
    timeout: 180_000,
  }, async () => {
    const js = readFileSync(join(dir, 'server.js'), 'utf8');
    const suspects = (await (await fetch(`${stack!.proxyUrl}/_ah/apptrace/api/suspects`)).json()) as Suspect[];
    const first = suspects[0]!;
    expect(first).toMatchObject({ name: 'users', verdict: 'growing', filename: 'server.js', obj_type: 'DataLoader' });
    expect(Math.abs(first.lineno - lineOf(js, 'const users'))).toBeLessThanOrEqual(3);
    expect(first.growth_path?.summary).toMatch(/^users\._cacheMap → Map: \+1 entry/);
    expect(first.marked_lines?.map((m) => m.line)).toContain(lineOf(js, 'users.load('));

    await stack!.proxy.stop();
    const run = await runCheck(stack!, ['--request', 'GET /users/c{i}', '--requests', '8']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toContain(`users (DataLoader) at server.js:${first.lineno}`);
  });
});

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`no line has ${needle}`);
  return index + 1;
}

function loaderOf(entries: Entry[]): Entry {
  const found = entries.find((e) => e.name === 'users');
  if (!found) throw new Error(`no entry named users among ${entries.map((e) => e.name).join(', ')}`);
  return found;
}
