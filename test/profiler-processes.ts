/**
 * Real processes for the profiler's integration tests: the fixture target app with its
 * inspector on a free port, and the compiled `apptrace-profiler serve`. Every process
 * started here is remembered; `killAll()` (in afterEach) ends them, even after a failure.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HeapRecord } from '../contract/record.js';
import type { ProfilerStatus } from '../contract/app-deps.js';
import { eventually, kill, killAll, track } from './processes.js';

/** The fixture app lives beside the sources (fixtures are not compiled; tests run from source). */
export const FIXTURE_DIR = fileURLToPath(new URL('../profiler/fixtures/leaky-app/', import.meta.url));
/** Tests spawn the compiled CLI: build first. */
export const PROFILER_CLI = fileURLToPath(new URL('../dist/profiler/cli.js', import.meta.url));

export interface Output {
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): Output {
  const out: Output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  return out;
}

/** Resolves with the first match of `re` in the stream's text, or rejects on exit/timeout. */
function waitForText(
  child: ChildProcess,
  output: Output,
  stream: 'stdout' | 'stderr',
  re: RegExp,
  timeoutMs = 15_000,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(output[stream]);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before printing ${re}:\n${output.stdout}\n${output.stderr}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}:\n${output.stdout}\n${output.stderr}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child[stream]?.off('data', check);
      child.off('exit', onExit);
    };
    child[stream]?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

export interface Target {
  child: ChildProcess;
  output: Output;
  httpPort: number;
  /** The inspector's port, or 0 when started without one. */
  inspectPort: number;
  get(path: string): Promise<number>;
}

/**
 * Starts the fixture app (or `script` in `dir`); `inspectPort` 0 picks a free one, null
 * starts it without an inspector.
 */
export async function startTarget(
  options: { inspectPort?: number | null; env?: Record<string, string>; dir?: string; script?: string } = {},
): Promise<Target> {
  const args = options.inspectPort === null ? [] : [`--inspect=127.0.0.1:${options.inspectPort ?? 0}`];
  const child = spawn(process.execPath, [...args, options.script ?? 'server.mjs'], {
    cwd: options.dir ?? FIXTURE_DIR,
    env: { ...process.env, PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const output = collect(child);
  const inspectPort =
    options.inspectPort === null
      ? 0
      : Number((await waitForText(child, output, 'stderr', /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//))[1]);
  const httpPort = Number((await waitForText(child, output, 'stdout', /listening on (\d+)/))[1]);
  return {
    child,
    output,
    httpPort,
    inspectPort,
    async get(path: string) {
      const res = await fetch(`http://127.0.0.1:${httpPort}${path}`);
      await res.text();
      return res.status;
    },
  };
}

export interface ProfilerProcess {
  child: ChildProcess;
  output: Output;
  base: string;
  status(): Promise<ProfilerStatus>;
  records(since?: number): Promise<HeapRecord[]>;
  signal(count?: number, url?: string): Promise<number>;
  snapshot(): Promise<{ status: number; body: unknown }>;
  exited: Promise<number | null>;
}

/** The signal token the profilers started here are given (APPTRACE_PROFILER_TOKEN). */
export const TEST_PROFILER_TOKEN = 'apptrace-test-token-0123456789';

/**
 * Starts `apptrace-profiler serve` on a free port, by default with the fixture as --root;
 * with `cwd`, from that directory and without --root (the target's own root applies).
 */
export async function startProfiler(args: string[], options: { cwd?: string } = {}): Promise<ProfilerProcess> {
  const root = options.cwd ? [] : ['--root', FIXTURE_DIR];
  const child = spawn(
    process.execPath,
    [PROFILER_CLI, 'serve', '--listen', '127.0.0.1:0', '--max-pause-share', '1', ...root, ...args],
    {
      cwd: options.cwd ?? FIXTURE_DIR,
      // The proxy's token: the profiler takes signals only with it (as from apptrace-proxy).
      env: { ...process.env, APPTRACE_INSPECT: '', APPTRACE_DB: '', APPTRACE_PROFILER_TOKEN: TEST_PROFILER_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  track(child);
  const output = collect(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const m = await waitForText(child, output, 'stdout', /listening on (http:\/\/[^\s]+\/_ah\/apptrace)/);
  const base = m[1]!;
  return {
    child,
    output,
    base,
    exited,
    status: async () => (await (await fetch(`${base}/api/status`)).json()) as ProfilerStatus,
    records: async (since = 0) => (await (await fetch(`${base}/api/records?since=${since}`)).json()) as HeapRecord[],
    async signal(count = 1, url = '/leak') {
      const requests = Array.from({ length: count }, () => ({ method: 'GET', url, status: 200 }));
      const res = await fetch(`${base}/api/signal`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-apptrace-token': TEST_PROFILER_TOKEN },
        body: JSON.stringify({ requests }),
      });
      await res.text();
      return res.status;
    },
    async snapshot() {
      const res = await fetch(`${base}/api/snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      return { status: res.status, body: await res.json() };
    },
  };
}

/** Runs the profiler CLI to completion (for commands that must exit). */
export function runProfiler(args: string[], timeoutMs = 15_000): Promise<{ code: number | null } & Output> {
  const child = spawn(process.execPath, [PROFILER_CLI, ...args], {
    cwd: FIXTURE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const output = collect(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`profiler did not exit:\n${output.stdout}\n${output.stderr}`)),
      timeoutMs,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, ...output });
    });
  });
}

/** Polls `check` until it returns something other than undefined/false (40 s by default). */
export function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 40_000,
): Promise<T> {
  return eventually(check, what, timeoutMs);
}

export { kill, killAll };
