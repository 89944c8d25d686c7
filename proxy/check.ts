/**
 * `apptrace-proxy check`: a leak gate for CI. It puts its own proxy (the same server as
 * `apptrace-proxy`) and its own profiler (the same sidecar) in front of a running app,
 * sends the requests N times, lets the profiler snapshot after each, and fails when an
 * object keeps growing. Exit status: 0 passed, 1 a leak, 2 the check could not run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFailure } from '../common/cli-runner.js';
import { AppError, isAppError } from '../contract/errors.js';
import { formatHostPort } from '../common/options.js';
import type { HeapRecord } from '../contract/record.js';
import type { ProfilerStatus } from '../contract/app-deps.js';
import { type CheckConfig, checkHelp, DEFAULT_THRESHOLD, fillRound, parseCheckConfig } from './check-config.js';
import { type CheckReport, type ServedSuspect, formatReport, splitSuspects } from './check-verdict.js';
import { createProxyServer } from './server.js';
import { type Sidecar, startSidecar } from './sidecar.js';
import { SignalSender } from './signal.js';
import { APPTRACE_PREFIX } from './url-match.js';

/** How long one round's snapshots may take before the check gives up. */
const ROUND_TIMEOUT_MS = 120_000;
const POLL_MS = 25;

/** The check could not run (not a leak): exit status 2, with what to do. */
function checkNotRun(message: string, cause?: unknown): AppError {
  return new AppError('CHECK_NOT_RUN', message, { cause });
}

export interface CheckIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Ends the process at once (the CLI passes process.exit): after Ctrl-C has stopped what the check started. */
  exit: (code: number) => void;
}

/**
 * Runs `apptrace-proxy check ARGS`; resolves with 0 (passed) or 1 (a leak). Throws an
 * AppError when the check cannot run — a bad flag, or CHECK_NOT_RUN, both exit status 2
 * through the CLI runner (common/cli-runner.ts).
 */
export async function runCheckCommand(argv: string[], io: CheckIo): Promise<number> {
  const say = (line: string) => io.stderr.write(`apptrace check: ${line}\n`);
  let config: CheckConfig;
  try {
    config = parseCheckConfig(argv, { env: io.env });
  } catch (error) {
    // Any failure to read the flags is a bad flag (exit status 2), said as it is.
    throw isAppError(error) ? error : new AppError('BAD_FLAG', (error as Error).message, { cause: error });
  }
  if (config.help) {
    io.stdout.write(checkHelp());
    return 0;
  }
  const run = new CheckRun(config, say);
  // Ctrl-C or a CI timeout: stop what we started, then go.
  const onSignal = () => void run.stop().then(() => io.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await run.run();
    io.stdout.write(config.json ? JSON.stringify(report) + '\n' : formatReport(report));
    return report.passed ? 0 : 1;
  } catch (error) {
    // Whatever stopped it, the check did not run to a verdict: exit status 2.
    throw checkNotRun(describeFailure(error), error);
  } finally {
    await run.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One check: owns the proxy, the profiler and the temporary store until `stop()`. */
class CheckRun {
  readonly #config: CheckConfig;
  readonly #say: (line: string) => void;
  #proxy: ReturnType<typeof createProxyServer> | undefined;
  #sidecar: Sidecar | undefined;
  #signals: SignalSender | undefined;
  #tempDir: string | undefined;
  #stopped: Promise<void> | undefined;

  constructor(config: CheckConfig, say: (line: string) => void) {
    this.#config = config;
    this.#say = say;
  }

  async run(): Promise<CheckReport> {
    const config = this.#config;
    const target = formatHostPort(config.target.host, config.target.port);
    await waitForPort(config.target.host, config.target.port, config.waitMs).catch(() => {
      throw checkNotRun(
        `nothing answers at ${target} (waited ${config.waitMs / 1000} s). Start your app first, with its inspector on ` +
          `(e.g. \`node --inspect=127.0.0.1:9229 server.js &\`), or point --target at where it listens.`,
      );
    });

    let db = config.db;
    if (db === undefined) {
      this.#tempDir = await mkdtemp(join(tmpdir(), 'apptrace-check-'));
      db = join(this.#tempDir, 'db.json');
    }
    const proxy = createProxyServer({ target: config.target, urlPatterns: [] });
    this.#proxy = proxy;
    const port = await proxy.listen('127.0.0.1', 0);
    this.#sidecar = await startSidecar({
      target,
      inspect: config.inspect,
      db,
      urlPatterns: [],
      traceModules: config.traceModules,
      // Each round waits for its own snapshot: the pause budget would only slow the gate down.
      maxPauseShare: 1,
      stdout: config.verbose ? 'stderr' : 'ignore',
      script: process.env['APPTRACE_PROFILER_SCRIPT'] || undefined,
    });
    const profiler = `${this.#sidecar.url}${APPTRACE_PREFIX}`;
    this.#signals = new SignalSender({
      profilerUrl: this.#sidecar.url,
      token: this.#sidecar.token,
      log: (line) => this.#say(line),
    });
    proxy.useProfiler(this.#sidecar.url, this.#signals);

    // The inspector, then the baseline snapshot the profiler takes on attaching.
    const status = await this.#waitForInspector(profiler);
    const before = status.lastIndex;
    const baseline = await this.#poll(
      async () => (await getJSON<HeapRecord[]>(`${profiler}/api/records?since=${before}`)).find((r) => r.baseline),
      ROUND_TIMEOUT_MS,
      'the baseline snapshot',
      profiler,
    );
    this.#say(
      `baseline taken (${(baseline.heap.total_size / 1024 / 1024).toFixed(1)} MB heap); sending ${config.rounds} rounds`,
    );

    // Sequential rounds, each waited for: one snapshot per round, so each record
    // reflects the heap after exactly the requests sent so far.
    const base = `http://127.0.0.1:${port}`;
    let sent = 0;
    let covered = 0;
    let lastSeen = baseline.index;
    let records = 0;
    for (let round = 1; round <= config.rounds; round++) {
      for (const request of config.requests) {
        const method = request.method;
        const path = fillRound(request.path, round);
        const headers = config.headers.map(([name, value]): [string, string] => [name, fillRound(value, round)]);
        const body =
          config.body !== undefined && method !== 'GET' && method !== 'HEAD'
            ? fillRound(config.body, round)
            : undefined;
        const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) }).catch(
          (error: unknown) => {
            throw checkNotRun(`${method} ${path} failed through the proxy: ${(error as Error).message}`);
          },
        );
        await res.arrayBuffer();
        // A 502 is the proxy's answer when the app is down (or the app's own): tell which.
        if (
          res.status === 502 &&
          !(await waitForPort(config.target.host, config.target.port, 0).then(
            () => true,
            () => false,
          ))
        ) {
          throw checkNotRun(`${method} ${path}: the app at ${target} stopped answering during the check.`);
        }
        sent++;
      }
      await this.#poll(
        async () => {
          for (const record of await getJSON<HeapRecord[]>(`${profiler}/api/records?since=${lastSeen}`)) {
            lastSeen = record.index;
            if (record.session !== baseline.session) {
              throw checkNotRun(
                'the app restarted during the check (a new inspector session); run the check again on a stable app.',
              );
            }
            covered += record.requests;
            records++;
          }
          return covered >= sent || undefined;
        },
        ROUND_TIMEOUT_MS,
        `the snapshot after round ${round}`,
        profiler,
      );
      this.#say(`round ${round}/${config.rounds}: ${sent} requests, ${records} records`);
    }

    const suspects = await getJSON<ServedSuspect[]>(`${profiler}/api/suspects`);
    const { leaks, belowThreshold } = splitSuspects(
      suspects,
      config.threshold,
      config.requests.length,
      // A raised --threshold also lifts the rule that a collection gaining elements per request fails.
      config.threshold <= DEFAULT_THRESHOLD,
    );
    return {
      passed: leaks.length === 0,
      threshold: config.threshold,
      requests: { rounds: config.rounds, sent, each: config.requests },
      records,
      watched: suspects.length,
      plateaued: suspects.filter((s) => s.verdict === 'plateaued').map((s) => s.name),
      suspects: leaks,
      below_threshold: belowThreshold,
    };
  }

  /** Stops the profiler and the proxy and removes the temporary store; safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#signals?.close();
      await Promise.allSettled([this.#sidecar?.stop(), this.#proxy?.close()]);
      if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
    })();
    return this.#stopped;
  }

  async #waitForInspector(profiler: string): Promise<ProfilerStatus> {
    const deadline = Date.now() + this.#config.waitMs;
    for (;;) {
      const status = await getJSON<ProfilerStatus>(`${profiler}/api/status`);
      if (status.inspector.state === 'connected') return status;
      if (Date.now() > deadline) {
        throw checkNotRun(
          `no inspector at ${status.inspector.address} (${status.inspector.state}): ${status.inspector.hint ?? ''} ` +
            `Start the app with \`node --inspect=${this.#config.inspect} …\`, or pass --inspect where its inspector listens.`.trim(),
        );
      }
      await delay(POLL_MS * 4);
    }
  }

  /** Polls `check` until it gives a value; fails when the inspector goes or time runs out. */
  async #poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string, profiler: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastStatusAt = Date.now();
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() - lastStatusAt > 500) {
        lastStatusAt = Date.now();
        const status = await getJSON<ProfilerStatus>(`${profiler}/api/status`);
        if (status.inspector.state !== 'connected' && !status.snapshot.running) {
          throw checkNotRun(
            `lost the app's inspector while waiting for ${what} (${status.inspector.state}${status.lastError ? `: ${status.lastError.message}` : ''}); did the app stop?`,
          );
        }
      }
      if (Date.now() > deadline) throw checkNotRun(`timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
      await delay(POLL_MS);
    }
  }
}

async function getJSON<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw checkNotRun(`the profiler answered ${res.status} to ${url}: ${await res.text()}`);
  return (await res.json()) as T;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once a TCP connection to host:port succeeds, retrying until `waitMs` has passed. */
async function waitForPort(host: string, port: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('unreachable');
    await delay(200);
  }
}
