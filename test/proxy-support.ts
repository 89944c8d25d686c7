/**
 * Real processes for the proxy tests: the compiled CLI, the fixture servers, and the
 * bookkeeping that kills them all after each test file, even when a test fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { eventually as pollUntil, killAll, track } from './processes.js';

export const PROXY_CLI = fileURLToPath(new URL('../dist/proxy/cli.js', import.meta.url));
export const fixture = (name: string): string => fileURLToPath(new URL(`../proxy/fixtures/${name}`, import.meta.url));

export interface Started {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns `node script args` and resolves once stdout shows `ready` (its first group is the
 * port), rejecting with the process's output if it exits or takes longer than 20 s.
 */
export function startNode(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; ready?: RegExp; cwd?: string; nodeArgs?: string[] } = {},
): Promise<Started> {
  const ready = options.ready ?? /listening (\d+)/;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  track(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} not ready in 20 s\nstdout: ${out}\nstderr: ${err}`)),
      20_000,
    );
    const check = (): void => {
      const match = ready.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ child, port: Number(match[1]), stdout: () => out, stderr: () => err, exited });
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/** Starts the compiled apptrace-proxy on a free port; resolves once its banner is out. */
export function startProxy(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Started> {
  return startNode(PROXY_CLI, ['--listen', '127.0.0.1:0', ...args], {
    env,
    cwd,
    ready: /apptrace-proxy: listening on http:\/\/127\.0\.0\.1:(\d+)[\s\S]* {2}profiler /,
  });
}

/** Runs the compiled apptrace-proxy to its exit (for bad input), with a 20 s limit. */
export async function runProxyToExit(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [PROXY_CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    cwd,
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** One HTTP request on a fresh connection; `body` may be a string or a stream to pipe. */
export function request(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | NodeJS.ReadableStream } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers };
    // Node's client sends no length for DELETE/OPTIONS bodies unless told: say it.
    if (typeof options.body === 'string' && headers['transfer-encoding'] === undefined)
      headers['content-length'] = String(Buffer.byteLength(options.body));
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.body === undefined) req.end();
    else if (typeof options.body === 'string') req.end(options.body);
    else options.body.pipe(req);
  });
}

/** Resident set size and its high-water mark of a process, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Polls `probe` every 25 ms until it returns a value other than undefined (10 s by default). */
export function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  return pollUntil(probe, what, timeoutMs, 25);
}

/** True while a process with this pid exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export { killAll };
