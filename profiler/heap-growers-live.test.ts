/**
 * Heap-wide growth (issue #10, points 1, 2, 7) over real framework apps: a real target
 * (`node --inspect`), the real profiler (CDP, analysis worker, lowdb file) and its HTTP
 * API. The apps live in test/frameworks/<name>/ with their own package.json and lock
 * file; their packages come from npm, installed here when node_modules is missing.
 * - express-session: Express 5 and express-session's default MemoryStore keep one
 *   session per cookieless request inside the `session()` middleware's closure, in no
 *   module-level variable;
 * - nestjs: a singleton `@Injectable()` service, held by Nest's DI container, pushes to
 *   `this.history` (TypeScript compiled with decorator metadata and source maps by
 *   typescript@5.9 from the app's own devDependencies).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeapRecord, Suspect } from '../contract/record.js';
import type { ProfilerProcess, Target } from '../test/profiler-processes.js';
import { runCheck } from '../test/check-run.js';
import { ensureInstalled } from '../test/frameworks/ensure-installed.js';
import { kill, killAll, startProfiler, startTarget, waitFor } from '../test/profiler-processes.js';

/** Snapshots after the baseline, each after REQUESTS_PER_ROUND requests. */
const ROUNDS = 8;
const REQUESTS_PER_ROUND = 3;

/** The app installed from its lock file (test/frameworks/ensure-installed.ts), then `build` run in it (a node command). */
async function prepareApp(name: string, build?: string[]): Promise<string> {
  const dir = await ensureInstalled(name);
  if (build) execFileSync(process.execPath, build, { cwd: dir, stdio: 'pipe', timeout: 120_000 });
  return dir;
}

/** The 1-based line of the first line of the app's `file` that contains `text` (read from the app, not from a record). */
function lineOf(dir: string, file: string, text: string): number {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  const i = lines.findIndex((line) => line.includes(text));
  if (i < 0) throw new Error(`${text} not in ${file}`);
  return i + 1;
}

interface Run {
  target: Target;
  profiler: ProfilerProcess;
  records: HeapRecord[];
  suspects: Suspect[];
}

async function profile(dir: string, script: string, path: string, tmp: string): Promise<Run> {
  const target = await startTarget({ dir, script });
  const profiler = await startProfiler(
    [
      '--inspect',
      `127.0.0.1:${target.inspectPort}`,
      '--db',
      join(tmp, 'db.json'),
      '--target',
      `127.0.0.1:${target.httpPort}`,
    ],
    { cwd: dir },
  );
  const count = async () => (await profiler.records()).length;
  await waitFor(async () => (await count()) >= 1, 'the baseline record', 60_000);
  for (let i = 1; i <= ROUNDS; i++) {
    for (let r = 0; r < REQUESTS_PER_ROUND; r++) expect(await target.get(path)).toBe(200);
    expect(await profiler.signal(REQUESTS_PER_ROUND, path)).toBe(202);
    await waitFor(async () => (await count()) >= 1 + i, `record ${1 + i}`, 60_000);
  }
  const records = await profiler.records();
  const suspects = (await (await fetch(`${profiler.base}/api/suspects`)).json()) as Suspect[];
  return { target, profiler, records, suspects };
}

/** `apptrace-proxy check` against the same running app once this file's profiler has let go of it. */
async function checkApp(run: Run, path: string): Promise<Awaited<ReturnType<typeof runCheck>>> {
  await kill(run.profiler.child, 'SIGTERM');
  return runCheck({ appPort: run.target.httpPort, inspectPort: run.target.inspectPort }, ['--request', `GET ${path}`]);
}

function describeSuspects(suspects: readonly Suspect[]): string {
  return suspects
    .slice(0, 8)
    .map((s) => `${s.verdict} ${s.name} ${s.filename}:${s.lineno} ${s.growth_per_request} B/req`)
    .join('\n');
}

describe('heap-wide growth: Express 5 + express-session MemoryStore', () => {
  let tmp: string;
  let dir: string;
  let run: Run;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'apptrace-growers-session-'));
    dir = await prepareApp('express-session');
    run = await profile(dir, 'app.js', '/visit', tmp);
  }, 400_000);

  afterAll(async () => {
    await killAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the first growing suspect is the store’s sessions, placed at the app’s session({...}) call', () => {
    const first = run.suspects[0]!;
    expect(first.verdict, describeSuspects(run.suspects)).toBe('growing');
    expect(first.name).toMatch(/sessions/);
    expect(first.filename).toBe('app.js');
    expect(Math.abs(first.lineno - lineOf(dir, 'app.js', 'session({'))).toBeLessThanOrEqual(3);
    expect(first.owner).toEqual({ kind: 'call', name: 'session(…) from express-session' });
    // The code page marks that call: the app line that creates the holder.
    expect(first.marked_lines?.map((m) => m.line)).toContain(first.lineno);
  });

  it('grows by one session per request, and its retaining path shows the store inside the middleware’s closure', () => {
    const first = run.suspects[0]!;
    expect(first.growth_path!.elements_per_request).toBe(1);
    const steps = first.retainers!;
    expect(steps.at(-1)!.edge).toBe('sessions');
    expect(steps.at(-2)!.name).toBe('MemoryStore');
    expect(steps.map((s) => s.edge)).toContain('(context) store');
  });

  it('records carry the growers with their ids, lengths and owners', () => {
    const last = run.records.at(-1)!;
    const grower = last.growers!.find((g) => g.name === run.suspects[0]!.name)!;
    expect(grower.id).toBeGreaterThan(0);
    // One session per request since the store was created (the baseline's requests too are none).
    expect(grower.length).toBe(ROUNDS * REQUESTS_PER_ROUND);
    expect(grower.owner.kind).toBe('call');
  });

  it('apptrace-proxy check fails (exit 1) and names the sessions', { timeout: 300_000 }, async () => {
    const result = await checkApp(run, '/visit');
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/sessions/);
  });
});

describe('heap-wide growth: NestJS singleton service', () => {
  let tmp: string;
  let dir: string;
  let run: Run;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'apptrace-growers-nest-'));
    dir = await prepareApp('nestjs', ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json']);
    run = await profile(dir, 'dist/main.js', '/visit', tmp);
  }, 400_000);

  afterAll(async () => {
    await killAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the first growing suspect is AppService.history, in src/app.service.ts at the field', () => {
    const first = run.suspects[0]!;
    expect(first.verdict, describeSuspects(run.suspects)).toBe('growing');
    expect(first.name).toBe('AppService.history');
    expect(first.filename).toBe('src/app.service.ts');
    expect(Math.abs(first.lineno - lineOf(dir, 'src/app.service.ts', 'history: Visit[]'))).toBeLessThanOrEqual(3);
    expect(first.owner).toEqual({ kind: 'instance', name: 'AppService.history' });
    expect(first.growth_path!.elements_per_request).toBe(1);
  });

  it('apptrace-proxy check fails (exit 1) and names AppService.history', { timeout: 300_000 }, async () => {
    const result = await checkApp(run, '/visit');
    expect(result.code, result.stdout + result.stderr).toBe(1);
    expect(result.stdout).toMatch(/AppService\.history/);
  });
});
