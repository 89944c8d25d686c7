import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * Real processes for end-to-end tests: start one, wait until its output says it is
 * ready, read what it printed when something goes wrong, and stop it for sure —
 * tests must kill what they spawn, even on failure (call `stopAll` in afterAll).
 *
 * @example
 *   const target = startProcess('target', process.execPath, ['--inspect=127.0.0.1:0', 'app.js']);
 *   const [, port] = await target.waitFor(/listening on (\d+)/);
 *   ...
 *   await stopAll();
 */
export interface RunningProcess {
  name: string;
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (past or future). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<RunningProcess>();

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): RunningProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const check of [...waiters]) check();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitedWith: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedWith = code ?? signal ?? 'unknown';
      for (const check of [...waiters]) check();
      resolve(exitedWith);
    });
    child.once('error', (error) => {
      text += `\n[spawn error] ${error.message}\n`;
      exitedWith = 'spawn-error';
      for (const check of [...waiters]) check();
      resolve(exitedWith);
    });
  });
  const handle: RunningProcess = {
    name,
    child,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms. Output:\n${text}`));
        }, timeoutMs);
        function check(): void {
          const match = text.match(pattern);
          if (match) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(match);
          } else if (exitedWith !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`${name} exited (${exitedWith}) before printing ${pattern}. Output:\n${text}`));
          }
        }
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 3000) {
      running.delete(handle);
      if (exitedWith !== undefined || child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(handle);
  return handle;
}

/** Stops every process started here that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for tools that cannot listen on 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until `ready(response)` holds (default: any HTTP answer below 500). */
export async function waitForHttp(
  url: string,
  options: { timeoutMs?: number; ready?: (res: Response) => boolean | Promise<boolean> } = {},
): Promise<Response> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  const ready = options.ready ?? ((res: Response) => res.status < 500);
  let last = 'no answer';
  for (;;) {
    try {
      const res = await fetch(url);
      if (await ready(res)) return res;
      last = `HTTP ${res.status}`;
      await res.body?.cancel();
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The one polling helper of the tests: calls `probe` until it returns a value that is not
 * undefined or false, and throws naming `what` after `timeoutMs`.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string | (() => string),
  timeoutMs = 20_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const tracked = new Set<ChildProcess>();

/** Remembers a child that the helpers spawned, so that `killAll` ends it. */
export function track(child: ChildProcess): ChildProcess {
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

/** Sends `signal` to a child and waits until it has exited. */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Kills every child the helpers spawned (track) and waits for them. Call from afterEach/afterAll. */
export async function killAll(): Promise<void> {
  const children = [...tracked];
  tracked.clear();
  await Promise.all(children.map((child) => kill(child)));
}
