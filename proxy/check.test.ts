/**
 * `apptrace-proxy check` against a real app (proxy/fixtures/check-app) with its inspector
 * on, through the compiled CLI: its own proxy, its own profiler, real snapshots.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROXY_CLI, type Started, eventually, fixture, killAll, startNode } from '../test/proxy-support.js';
import { freePort } from '../test/processes.js';

/** Enough rounds for the cache (4 entries) to fill in the first half and stay flat in the second. */
const ROUNDS = '10';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const checks = new Set<ReturnType<typeof spawn>>();

function check(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [PROXY_CLI, 'check', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No apptrace settings of the machine running the tests leak in.
    env: { ...process.env, APPTRACE_TARGET: '', APPTRACE_INSPECT: '', APPTRACE_DB: '', APPTRACE_REQUEST: '' },
  });
  checks.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      checks.delete(child);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** Processes whose command line mentions `text` (a profiler left behind would). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

let app: Started;
let inspectPort: number;

beforeAll(async () => {
  app = await startNode(fixture('check-app/server.mjs'), [], {
    nodeArgs: ['--inspect=127.0.0.1:0'],
    env: { PORT: '0' },
    ready: /listening on (\d+)/,
    cwd: fixture('check-app'),
  });
  inspectPort = await eventually(() => {
    const m = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(app.stderr());
    return m ? Number(m[1]) : undefined;
  }, 'the inspector port');
});

afterAll(async () => {
  for (const child of checks) child.kill('SIGKILL');
  await killAll();
});

const targetArgs = (): string[] => ['--target', `127.0.0.1:${app.port}`, '--inspect', `127.0.0.1:${inspectPort}`];

describe('apptrace-proxy check on leaks', () => {
  it('fails on an ESM class whose static array grows, naming it and its line', { timeout: 120_000 }, async () => {
    const run = await check([...targetArgs(), '--request', '/registry', '--requests', ROUNDS]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/FAILED — 1 object kept growing/);
    expect(run.stdout).toContain('Registry (class) at registry.mjs:2');
    // The growth path and the line that adds to it, from the profiler's suspects.
    expect(run.stdout).toMatch(/growth path: Registry\.seen → Array: \+1 element/);
    expect(run.stdout).toContain('grows at registry.mjs:6');
    // About 1.7 KB per request (an array of 200 numbers and an object): well above 256 B.
    const rate = /\+(\d+\.\d) KB\/request after warm-up/.exec(run.stdout);
    expect(rate, run.stdout).not.toBeNull();
    expect(Number(rate![1])).toBeGreaterThan(1);
    // The objects of the routes not sent do not show up.
    expect(run.stdout).not.toMatch(/sessions|bus|recent/);
    // Progress went to stderr.
    expect(run.stderr).toMatch(/round 10\/10: 10 requests/);
  });

  it('fails on a CommonJS Map that gets a key per request; --json is machine-readable', {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'apptrace-check-test-'));
    try {
      const db = join(dir, 'kept.json');
      const run = await check([
        ...targetArgs(),
        '--request',
        'GET /session',
        '--requests',
        ROUNDS,
        '--json',
        '--db',
        db,
      ]);
      expect(run.code, run.stderr).toBe(1);
      const report = JSON.parse(run.stdout) as {
        passed: boolean;
        threshold: number;
        requests: { rounds: number; sent: number };
        suspects: {
          name: string;
          module_name: string;
          obj_type: string;
          filename: string;
          lineno: number;
          growth_per_request: number;
          growth_path: string | null;
        }[];
      };
      expect(report.passed).toBe(false);
      expect(report.threshold).toBe(256);
      expect(report.requests).toMatchObject({ rounds: 10, sent: 10 });
      expect(report.suspects.map((s) => s.name)).toEqual(['sessions']);
      expect(report.suspects[0]).toMatchObject({
        module_name: 'sessions.cjs',
        obj_type: 'Map',
        filename: 'sessions.cjs',
        lineno: 2,
      });
      expect(report.suspects[0]!.growth_per_request).toBeGreaterThan(256);
      expect(report.suspects[0]!.growth_path).toMatch(/^sessions → Map: \+1 entry/);
      // --db keeps the records: the baseline and one per round.
      const stored = JSON.parse(readFileSync(db, 'utf8')) as { records: { baseline?: boolean }[] };
      expect(stored.records.filter((r) => !r.baseline)).toHaveLength(10);
      // Nothing it started is left running.
      expect(processesMentioning(db)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on listeners piling up on an EventEmitter', { timeout: 120_000 }, async () => {
    const run = await check([...targetArgs(), '--request', '/subscribe', '--requests', ROUNDS]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toContain('bus (EventEmitter) at bus.mjs:4');
    expect(run.stdout).toMatch(/growth path: bus\._events\.tick → Array/);
    expect(run.stdout).toContain('grows at bus.mjs:9');
  });

  it('passes a bounded cache that fills up and then levels off', { timeout: 120_000 }, async () => {
    const run = await check([...targetArgs(), '--request', '/cache', '--requests', ROUNDS]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^apptrace check: passed — none of \d+ objects kept growing by more than 256 B\/request over 10 × GET \/cache \(10 requests\)/,
    );
    expect(run.stdout).toContain('grew then levelled off: recent');
  });

  it('a threshold above the leak lets it pass', { timeout: 120_000 }, async () => {
    const run = await check([
      ...targetArgs(),
      '--request',
      '/registry',
      '--requests',
      '6',
      '--threshold',
      '8kb',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ passed: true, threshold: 8192, suspects: [] });
  });
});

describe('apptrace-proxy check on bad input', () => {
  it.each([
    [['--request', '/'], /--target is required/],
    [['--target', '127.0.0.1:1'], /--request is required/],
    [['--target', '127.0.0.1:1', '--request', '/', '--requests', '0'], /--requests "0": expected between 4/],
    [['--target', '127.0.0.1:1', '--request', '/', '--requests', 'many'], /--requests "many": expected a whole number/],
    [
      ['--target', '127.0.0.1:1', '--request', '/', '--threshold', 'lots'],
      /--threshold "lots": expected bytes per request/,
    ],
    [['--target', '127.0.0.1:1', '--request', 'items'], /--request "items": expected a path such as \/items/],
    [['--target', '127.0.0.1:1', '--request', '/', '--bogus'], /unknown flag --bogus/],
  ])('%j exits 2 naming it', async (args, message) => {
    const run = await check(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('--help describes the threshold and the exit statuses', async () => {
    const run = await check(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--threshold BYTES.*\(default: 256\)/);
    expect(run.stdout).toMatch(/Exit status: 0 no leak, 1 a leak/);
  });

  it('a target that is down exits 2 saying to start it', async () => {
    const port = await freePort();
    const run = await check(['--target', `127.0.0.1:${port}`, '--request', '/', '--wait', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`nothing answers at 127\\.0\\.0\\.1:${port}.*Start your app first`));
  });

  it('an app without an inspector exits 2 saying how to start it, and leaves nothing behind', {
    timeout: 60_000,
  }, async () => {
    const plain = await startNode(fixture('check-app/server.mjs'), [], {
      env: { PORT: '0' },
      ready: /listening on (\d+)/,
      cwd: fixture('check-app'),
    });
    const inspect = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'apptrace-check-test-'));
    try {
      const db = join(dir, 'db.json');
      const run = await check([
        '--target',
        `127.0.0.1:${plain.port}`,
        '--inspect',
        `127.0.0.1:${inspect}`,
        '--request',
        '/',
        '--wait',
        '1',
        '--db',
        db,
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        new RegExp(`no inspector at 127\\.0\\.0\\.1:${inspect}.*node --inspect=127\\.0\\.0\\.1:${inspect}`),
      );
      expect(existsSync(db)).toBe(true);
      expect(processesMentioning(db)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
