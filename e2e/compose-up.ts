import { execFile } from 'node:child_process';
import type { RunningService, Supervisor } from '../demo/supervisor.js';
import type { LocalService } from './compose-topology.js';

/**
 * `docker compose up` for a topology of local processes: starts each service once its
 * `depends_on` conditions hold, and runs its health check the way compose does (every
 * `interval`, up to `retries` failures in a row), so `service_healthy` means what it
 * means in compose: the service's own health check command passed.
 */
export interface UpService {
  local: LocalService;
  running: RunningService;
  /** Resolves when the health check first passes (at once when there is none). */
  healthy: Promise<void>;
}

export interface UpEvent {
  service: string;
  what: 'started' | 'healthy';
  at: number;
}

/** Runs a health check command once: true when it exits 0 within `timeoutMs`. */
export function checkOnce(
  check: NonNullable<LocalService['healthcheck']>,
  env: NodeJS.ProcessEnv | undefined,
  cwd?: string,
  timeoutMs = 5000,
): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(check.command, check.args, { env, cwd, timeout: timeoutMs }, (error) => resolve(!error));
  });
}

function waitHealthy(local: LocalService, running: RunningService, intervalMs: number): Promise<void> {
  const check = local.healthcheck;
  if (!check) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let failures = 0;
    const attempt = async (): Promise<void> => {
      if (running.done) {
        reject(new Error(`${local.name} exited before it was healthy. Output:\n${running.output()}`));
        return;
      }
      if (await checkOnce(check, local.spec.env, local.spec.cwd)) {
        resolve();
        return;
      }
      failures++;
      if (failures >= check.retries) {
        reject(new Error(`${local.name} stayed unhealthy after ${failures} checks. Output:\n${running.output()}`));
        return;
      }
      setTimeout(attempt, intervalMs);
    };
    void attempt();
  });
}

/**
 * Starts `services` (already in start order) like `docker compose up`. `intervalMs`
 * overrides the health check interval (compose's 2 s would only slow a test down; the
 * number of tries stays that of the compose file).
 */
export async function composeUp(
  services: readonly LocalService[],
  supervisor: Supervisor,
  options: { intervalMs?: number; events?: UpEvent[] } = {},
): Promise<Map<string, UpService>> {
  const up = new Map<string, UpService>();
  const events = options.events ?? [];
  for (const local of services) {
    for (const [dependency, condition] of Object.entries(local.dependsOn)) {
      const other = up.get(dependency);
      if (!other) throw new Error(`${local.name} depends on ${dependency}, which has not been started`);
      if (condition === 'service_healthy') await other.healthy;
      else if (condition === 'service_completed_successfully') await other.running.exited;
    }
    const running = supervisor.start(local.spec);
    events.push({ service: local.name, what: 'started', at: performance.now() });
    const healthy = waitHealthy(local, running, options.intervalMs ?? local.healthcheck?.intervalMs ?? 0).then(() => {
      events.push({ service: local.name, what: 'healthy', at: performance.now() });
    });
    // Reported through `healthy` by whoever waits on it; never an unhandled rejection.
    healthy.catch(() => {});
    up.set(local.name, { local, running, healthy });
  }
  return up;
}

/** Compose's default `stop_grace_period`. */
export const STOP_GRACE_MS = 10_000;

/**
 * `docker compose stop <service>`: SIGTERM, then SIGKILL once the grace period is over.
 * Resolves with how the service ended and whether it needed the SIGKILL.
 */
export async function composeStop(
  supervisor: Supervisor,
  service: RunningService,
  graceMs = STOP_GRACE_MS,
): Promise<{ killed: boolean }> {
  supervisor.signal(service, 'SIGTERM');
  const timer = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
  const killed = (await Promise.race([service.exited, timer])) === 'timeout';
  if (killed) supervisor.signal(service, 'SIGKILL');
  await service.exited;
  return { killed };
}
