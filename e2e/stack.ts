import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeapRecord } from '../contract/record.js';
import type { ProfilerStatus } from '../contract/app-deps.js';
import { eventually, startProcess, waitForHttp, type RunningProcess } from '../test/processes.js';

/**
 * The whole tool as a user runs it, for end-to-end tests: a target app started with
 * `node --inspect=127.0.0.1:0` (the inspector on a free port), and the compiled
 * `apptrace-proxy` in front of it, which starts the real profiler as its sidecar.
 * Build first (`npx tsc -p tsconfig.json`): the CLIs run from dist/.
 *
 * @example
 *   const stack = await startStack({ app: '/path/to/app.cjs', db: '/tmp/x/db.json' });
 *   await fetch(`${stack.proxyUrl}/`);
 *   await stack.waitForRecords(2);
 *   await stack.stop();
 */
export interface Stack {
  /** http://127.0.0.1:PORT of the proxy: the app and, under /_ah/apptrace, the UI. */
  proxyUrl: string;
  appPort: number;
  inspectPort: number;
  target: RunningProcess;
  proxy: RunningProcess;
  status(): Promise<ProfilerStatus>;
  records(since?: number): Promise<HeapRecord[]>;
  /** Waits until at least `count` records exist; resolves with the status. */
  waitForRecords(count: number, timeoutMs?: number): Promise<ProfilerStatus>;
  /**
   * Waits for the record whose last request is `url` (as the proxy saw it), looking only
   * at records after `since`; resolves with that record.
   */
  waitForRecordOf(url: string, since?: number, timeoutMs?: number): Promise<HeapRecord>;
  stop(): Promise<void>;
}

export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above e2e/');
    dir = parent;
  }
  return dir;
}

export async function startStack(options: {
  /** The target's entry script; it must print "listening on PORT". */
  app: string;
  /** The record store (use a fresh temporary directory). */
  db: string;
  /** The proxy's working directory, which is the profiler's app root (default: the app's folder). */
  cwd?: string;
  /** More flags for apptrace-proxy. */
  proxyArgs?: string[];
  /** The node binaries of the target and of apptrace (proxy and its profiler); default: this one. */
  targetNode?: string;
  proxyNode?: string;
  /** Run with the default pause budget instead of one snapshot per request (--max-pause-share 1). */
  defaultPauseBudget?: boolean;
  /** Environment of the target (its own settings, e.g. a heap size). */
  targetEnv?: NodeJS.ProcessEnv;
  /** Node flags for the target, e.g. ['--import', 'tsx']. */
  nodeArgs?: string[];
}): Promise<Stack> {
  const cwd = options.cwd ?? dirname(options.app);
  const target = startProcess(
    'target',
    options.targetNode ?? process.execPath,
    [...(options.nodeArgs ?? []), '--inspect=127.0.0.1:0', options.app],
    {
      cwd,
      env: { PORT: '0', ...options.targetEnv },
    },
  );
  let proxy: RunningProcess | undefined;
  try {
    const [, appPort] = await target.waitFor(/listening on (\d+)/);
    const [, inspectPort] = await target.waitFor(/Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
    proxy = startProcess(
      'apptrace-proxy',
      options.proxyNode ?? process.execPath,
      [
        join(projectRoot(), 'dist', 'proxy', 'cli.js'),
        '--target',
        `127.0.0.1:${appPort}`,
        '--listen',
        '127.0.0.1:0',
        '--inspect',
        `127.0.0.1:${inspectPort}`,
        '--db',
        options.db,
        // One snapshot per request, as these tests count on (small heaps); a test of the
        // pause budget passes its own --max-pause-share in proxyArgs, which comes later and wins.
        ...(options.defaultPauseBudget ? [] : ['--max-pause-share', '1']),
        ...(options.proxyArgs ?? []),
      ],
      { cwd },
    );
    const [, proxyUrl] = await proxy.waitFor(/apptrace-proxy: listening on (http:\/\/127\.0\.0\.1:\d+)/, 30_000);
    const api = `${proxyUrl}/_ah/apptrace/api`;
    const status = async (): Promise<ProfilerStatus> => (await (await fetch(`${api}/status`)).json()) as ProfilerStatus;
    await waitForHttp(`${api}/status`, {
      timeoutMs: 30_000,
      ready: async (res) => res.ok && ((await res.json()) as ProfilerStatus).inspector.state === 'connected',
    });
    const running = proxy;
    const records = async (since = 0) => (await (await fetch(`${api}/records?since=${since}`)).json()) as HeapRecord[];
    return {
      proxyUrl: proxyUrl!,
      appPort: Number(appPort),
      inspectPort: Number(inspectPort),
      target,
      proxy: running,
      status,
      records,
      waitForRecords: (count, timeoutMs = 30_000) =>
        eventually(
          async () => {
            const s = await status();
            return s.records >= count && !s.snapshot.running && s.snapshot.pendingSignals === 0 ? s : undefined;
          },
          () => `${count} records (proxy output:\n${running.output()})`,
          timeoutMs,
        ),
      waitForRecordOf: (url, since = 0, timeoutMs = 30_000) =>
        eventually(
          async () => (await records(since)).find((r) => r.request?.url === url),
          () => `a record of ${url} (proxy output:\n${running.output()})`,
          timeoutMs,
        ),
      async stop() {
        await running.stop();
        await target.stop();
      },
    };
  } catch (error) {
    await proxy?.stop();
    await target.stop();
    throw error;
  }
}
