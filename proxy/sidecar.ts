import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AppError } from '../contract/errors.js';
import { PROFILER_TOKEN_ENV, generateProfilerToken } from '../common/profiler-token.js';

/** The profiler stopped before it was ready; the proxy exits with the profiler's own status. */
export class SidecarExitError extends AppError {
  readonly status: number;
  constructor(message: string, status: number) {
    super('PROFILER_FAILED', message);
    this.status = status;
  }

  override get exitCode(): number {
    return this.status;
  }
}

export interface SidecarOptions {
  target: string;
  inspect: string;
  db: string;
  urlPatterns: readonly string[];
  traceModules: readonly string[];
  /** Passes --allocation-sites on. */
  allocationSites?: boolean;
  /** The profiler's entry script; defaults to dist/profiler/cli.js next to this file. */
  script?: string;
  /** Called with the child as soon as it is spawned, so a shutdown meanwhile can kill it. */
  onSpawn?: (child: ChildProcess) => void;
  /** How long the profiler may take to listen. */
  readyTimeoutMs?: number;
  /**
   * Where the profiler's terminal lines (stdout) go: ours (default), our stderr (so a
   * command's stdout stays its own report, as for `check --json`), or nowhere.
   */
  stdout?: 'inherit' | 'stderr' | 'ignore';
  /** Passed on as --keep-snapshots: how many raw snapshots the profiler keeps (0: none). */
  keepSnapshots?: number;
  /** Passed on as --allowed-host: the names the proxy answers, which it forwards as they are. */
  allowedHosts?: readonly string[];
  /** Passed on as --max-pause-share (the profiler's default when absent). */
  maxPauseShare?: number;
}

export interface Sidecar {
  url: string;
  pid: number;
  child: ChildProcess;
  /** The secret the profiler expects with each signal (generated here, handed over in its environment). */
  token: string;
  /** Called once if the profiler exits while the proxy runs. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** Stops the profiler and resolves when it has exited. */
  stop(): Promise<void>;
}

/** The IPC message the profiler sends once its server listens. */
interface ListeningMessage {
  type: 'listening';
  url: string;
}

function isListening(message: unknown): message is ListeningMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as ListeningMessage).type === 'listening' &&
    typeof (message as ListeningMessage).url === 'string'
  );
}

export function defaultProfilerScript(): string {
  return fileURLToPath(new URL('../profiler/cli.js', import.meta.url));
}

/**
 * The profiler's command line: it listens on a free loopback port and reports it over IPC.
 */
export function sidecarArgs(options: SidecarOptions): string[] {
  const args = [
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--inspect',
    options.inspect,
    '--db',
    options.db,
    '--target',
    options.target,
  ];
  for (const pattern of options.traceModules) args.push('--trace-module', pattern);
  for (const pattern of options.urlPatterns) args.push('--url-pattern', pattern);
  if (options.allocationSites) args.push('--allocation-sites');
  if (options.keepSnapshots) args.push('--keep-snapshots', String(options.keepSnapshots));
  for (const name of options.allowedHosts ?? []) args.push('--allowed-host', name);
  if (options.maxPauseShare !== undefined) args.push('--max-pause-share', String(options.maxPauseShare));
  return args;
}

/**
 * Starts the profiler as a child process (the sidecar) and resolves once it listens.
 * Its terminal lines show in ours (stdout/stderr inherited). It exits by itself when
 * the IPC channel closes, so even a proxy killed with SIGKILL leaves no profiler behind;
 * `stop()` ends it sooner. If it exits before it is ready, the promise rejects with an
 * error carrying its exit status.
 */
export function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const script = options.script ?? defaultProfilerScript();
  // In the environment, not argv: `ps` shows every process's argv to every user.
  const token = generateProfilerToken();
  const child = fork(script, sidecarArgs(options), {
    env: { ...process.env, [PROFILER_TOKEN_ENV]: token },
    stdio: ['ignore', options.stdout === 'stderr' ? 2 : (options.stdout ?? 'inherit'), 'inherit', 'ipc'],
    // Not detached: Ctrl-C in a terminal reaches the whole process group.
  });
  options.onSpawn?.(child);
  let exited = false;
  let exitListener: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      exitListener?.(code, signal);
      resolve();
    });
  });

  const sidecar = (url: string): Sidecar => ({
    url,
    pid: child.pid!,
    child,
    token,
    onExit(listener) {
      exitListener = listener;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exitPromise;
      clearTimeout(timer);
    },
  });

  return new Promise<Sidecar>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(
        new AppError(
          'PROFILER_FAILED',
          `the profiler (${script}) did not start listening within ${timeoutMs / 1000} s.`,
        ),
      );
    }, timeoutMs);
    function cleanup(): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onEarlyExit);
      child.off('error', onSpawnError);
    }
    function onMessage(message: unknown): void {
      if (!isListening(message)) return;
      cleanup();
      resolve(sidecar(message.url));
    }
    function onEarlyExit(code: number | null, signal: NodeJS.Signals | null): void {
      cleanup();
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      reject(new SidecarExitError(`the profiler ${how} before it was ready (its own message is above).`, code || 1));
    }
    function onSpawnError(error: Error): void {
      cleanup();
      reject(
        new AppError('PROFILER_FAILED', `could not start the profiler (${script}): ${error.message}`, { cause: error }),
      );
    }
    child.on('message', onMessage);
    child.once('exit', onEarlyExit);
    child.once('error', onSpawnError);
  });
}
