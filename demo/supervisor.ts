import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One process to run: what `docker compose` calls a service, here a local child process. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningService {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** True once the process has exited. */
  readonly done: boolean;
  /** The last lines the process printed (stdout and stderr), for messages and tests. */
  output(): string;
}

export interface SupervisorOptions {
  /** Called with every line a service prints; default: drop it (see `output()`). */
  onLine?: (service: string, line: string, stream: 'stdout' | 'stderr') => void;
  /** How long `stopAll` waits after the polite signal before SIGKILL. */
  stopTimeoutMs?: number;
  /** How many lines of output each service keeps for `output()`. */
  keepLines?: number;
}

/**
 * Starts processes and makes sure they all stop. Each child gets its own process group
 * (`detached`), so a stop signal reaches the child *and whatever it started* (the proxy
 * starts the profiler), exactly as a terminal's Ctrl-C would; and a child that ignores
 * it is killed with its whole group after `stopTimeoutMs`. Nothing is left behind.
 */
export class Supervisor {
  readonly #services: RunningService[] = [];
  readonly #onLine: NonNullable<SupervisorOptions['onLine']>;
  readonly #stopTimeoutMs: number;
  readonly #keepLines: number;
  #stopping: Promise<void> | undefined;

  constructor(options: SupervisorOptions = {}) {
    this.#onLine = options.onLine ?? (() => {});
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 5000;
    this.#keepLines = options.keepLines ?? 200;
  }

  get services(): readonly RunningService[] {
    return this.#services;
  }

  start(spec: ServiceSpec): RunningService {
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const lines: string[] = [];
    const keep = (line: string, stream: 'stdout' | 'stderr'): void => {
      lines.push(line);
      if (lines.length > this.#keepLines) lines.shift();
      this.#onLine(spec.name, line, stream);
    };
    createInterface({ input: child.stdout! }).on('line', (line) => keep(line, 'stdout'));
    createInterface({ input: child.stderr! }).on('line', (line) => keep(line, 'stderr'));
    let done = false;
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (error) => {
        keep(`could not start ${spec.command}: ${error.message}`, 'stderr');
        done = true;
        resolve({ code: 127, signal: null });
      });
      child.once('exit', (code, signal) => {
        done = true;
        resolve({ code, signal });
      });
    });
    const service: RunningService = {
      name: spec.name,
      child,
      pid: child.pid ?? -1,
      exited,
      get done() {
        return done;
      },
      output: () => lines.join('\n'),
    };
    this.#services.push(service);
    return service;
  }

  /** Sends `signal` to a service's process group (the service and its own children). */
  signal(service: RunningService, signal: NodeJS.Signals): void {
    if (service.pid <= 0) return;
    try {
      process.kill(-service.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /**
   * Stops every service: `signal` to each group (in reverse start order, front door
   * first), then waits until every group is empty (a service may still be stopping its
   * own children, which may be saving data), and SIGKILLs groups still alive after the
   * timeout.
   */
  stopAll(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    // Once: a second signal would make a service that handles the first one `once`
    // (as our CLIs do) die at once, in the middle of its own orderly stop.
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  async #stopAll(signal: NodeJS.Signals): Promise<void> {
    const services = [...this.#services].reverse();
    for (const service of services) this.signal(service, signal);
    const deadline = Date.now() + this.#stopTimeoutMs;
    while (Date.now() < deadline && services.some((s) => !s.done || groupAlive(s.pid))) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const service of services) this.signal(service, 'SIGKILL');
    await Promise.all(services.map((s) => s.exited));
  }
}

/** True while some process is still in the process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  if (pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal; count it as alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
