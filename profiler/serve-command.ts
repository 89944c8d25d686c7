import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { normaliseAllowedHost, withAllowedHostsEnv } from '../common/allowed-hosts.js';
import { AppError } from '../contract/errors.js';
import { checkProfilerToken } from '../common/profiler-token.js';
import type { OptionSpec } from '../common/options.js';
import { formatHelp, formatHostPort, isLoopback, parseHostPort, parseOptions } from '../common/options.js';
import { BASE_PATH, createApp } from '../ui/app.js';
import { AnalysisWorker } from './analysis-client.js';
import { checkModulePattern, createModuleMatcher } from './heap/module-match.js';
import { DEFAULT_MAX_PAUSE_SHARE, checkPauseShare } from './pause-budget.js';
import { Profiler } from './profiler.js';
import { SnapshotFiles } from './snapshot-files.js';
import { RecordStore } from './store.js';
import { TerminalReport } from './terminal-report.js';

export const SERVE_OPTIONS: OptionSpec[] = [
  {
    name: 'inspect',
    kind: 'string',
    value: 'host:port',
    default: '127.0.0.1:9229',
    help: "the target's V8 inspector (node --inspect=host:port)",
    check: (v) => {
      const { host, port } = parseHostPort(v);
      if (port === 0) throw new Error('the inspector port cannot be 0');
      return formatHostPort(host, port);
    },
  },
  {
    name: 'listen',
    kind: 'string',
    value: '[host:]port',
    default: '127.0.0.1:9300',
    help: 'where the UI and API listen (port 0: any free port)',
    check: (v) => {
      const { host, port } = parseHostPort(v);
      return formatHostPort(host, port);
    },
  },
  {
    name: 'db',
    kind: 'string',
    value: 'PATH',
    default: '.apptrace/db.json',
    help: 'the record store (a lowdb JSON file)',
  },
  {
    name: 'trace-module',
    kind: 'list',
    value: 'PATTERN',
    check: checkModulePattern,
    help: "modules whose top-level objects are recorded: a glob relative to --root, which may also name a script's original source (`src/store.ts` traces `dist/store.js` built with source maps); default: the app's own scripts, not node_modules nor node:",
  },
  {
    name: 'url-pattern',
    kind: 'list',
    value: 'REGEX',
    help: 'the URLs the proxy traces (shown here; the proxy decides)',
    check: (v) => {
      try {
        new RegExp(v);
      } catch (error) {
        throw new Error(`not a valid regular expression: ${(error as Error).message}`);
      }
      return v;
    },
  },
  { name: 'target', kind: 'string', value: 'host:port', help: 'the dev server behind the proxy (shown in the UI)' },
  {
    name: 'allocation-sites',
    kind: 'boolean',
    help: 'record where growing objects were allocated (tracks every allocation: the target runs ~15x slower, ~6x when started with node --track-heap-objects; bench/allocation-sites)',
  },
  {
    name: 'keep-snapshots',
    kind: 'string',
    value: 'N',
    default: '0',
    help: 'keep the raw snapshots of the newest N records beside the store (<db>.snapshots/<index>.heapsnapshot), downloadable from the UI; 0: none',
    check: (v) => {
      if (!/^\d+$/.test(v)) throw new Error('expected a number of snapshots such as 10 (0 keeps none)');
      return String(Number(v));
    },
  },
  {
    name: 'allowed-host',
    kind: 'list',
    value: 'NAME',
    help: 'a Host name the UI and API answer besides loopback ones (e.g. a compose service name); repeatable, or APPTRACE_ALLOWED_HOSTS=a,b',
    check: normaliseAllowedHost,
  },
  {
    name: 'profiler-token',
    kind: 'string',
    value: 'SECRET',
    help: 'the secret apptrace-proxy sends with its signals (APPTRACE_PROFILER_TOKEN; the proxy hands one to the profiler it starts); without it, signals are refused',
    check: checkProfilerToken,
  },
  {
    name: 'max-pause-share',
    kind: 'string',
    value: 'X',
    default: String(DEFAULT_MAX_PAUSE_SHARE),
    help: 'at most this share of wall time the target spends paused by snapshots; signals meanwhile fold into the next one (1: a snapshot per request)',
    check: checkPauseShare,
  },
  {
    name: 'root',
    kind: 'string',
    value: 'DIR',
    help: "the app's root: module names are relative to it (default: the target's working directory)",
  },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

const USAGE = `Usage: apptrace-profiler [serve] [options]
       apptrace-profiler analyze FILE.heapsnapshot [options]   (offline; analyze --help)
       apptrace-profiler --version

Attaches to a Node.js app's inspector, takes a heap snapshot per signal from
apptrace-proxy (or per POST /_ah/apptrace/api/snapshot), records what each top-level
object of the traced modules keeps alive, and serves the UI at /_ah/apptrace.
apptrace-profiler clear [--db PATH | --profiler URL] [--yes] deletes every record.`;

/**
 * `apptrace-profiler [serve] ...`: the sidecar. Resolves with -1 while it serves (the CLI
 * leaves the process running), and stops on SIGINT/SIGTERM or, when the proxy started
 * it, when the IPC channel to the proxy closes. `exit` ends the process at once (the CLI
 * passes process.exit): for a second Ctrl-C, and for a stopped profiler that something
 * pending would keep alive.
 */
export async function runServeCommand(
  argv: string[],
  { exit }: { exit: (code: number | string) => void },
): Promise<number> {
  const { values } = parseOptions(argv, SERVE_OPTIONS, {
    env: withAllowedHostsEnv(process.env),
    command: 'apptrace-profiler',
  });
  if (values.help) {
    process.stdout.write(
      formatHelp(
        USAGE,
        SERVE_OPTIONS,
        'Environment: APPTRACE_<FLAG> (e.g. APPTRACE_INSPECT); config: apptrace.config.json.',
      ),
    );
    return 0;
  }
  const inspect = parseHostPort(values.inspect as string);
  const listen = parseHostPort(values.listen as string);
  const root = values.root === undefined ? null : resolve(values.root as string);
  const patterns = (values['trace-module'] as string[] | undefined) ?? [];
  const urlPatterns = (values['url-pattern'] as string[] | undefined) ?? [];
  // Bad patterns fail here, before anything starts.
  createModuleMatcher({ root: root ?? process.cwd(), patterns });

  const store = await RecordStore.open(values.db as string);
  const keepSnapshots = Number(values['keep-snapshots']);
  // The heap engine parses each chunk as it arrives, in a worker thread.
  const worker = new AnalysisWorker();
  const profiler = new Profiler({
    inspect,
    store,
    root,
    patterns,
    analysis: () => worker.begin(),
    onStop: () => worker.close(),
    target: (values.target as string | undefined) ?? null,
    urlPatterns,
    allocationSites: values['allocation-sites'] === true,
    maxPauseShare: Number(values['max-pause-share']),
    ...(keepSnapshots > 0 ? { snapshots: new SnapshotFiles({ dbPath: store.path, keep: keepSnapshots }) } : {}),
  });

  const profilerToken = values['profiler-token'] as string | undefined;
  const app = createApp(profiler, {
    // The address it listens on is a name its users send, too.
    allowedHosts: [...((values['allowed-host'] as string[] | undefined) ?? []), listen.host],
    ...(profilerToken === undefined ? {} : { profilerToken }),
  });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  const report = new TerminalReport(process.stdout, profiler);

  // Signal handlers go in before anything is announced: whoever reads the
  // "listening" line may stop us right away.
  let stopping: Promise<void> | null = null;
  const stop = (why: string, again?: () => void) => {
    if (stopping) {
      again?.();
      return stopping;
    }
    report.line(`apptrace-profiler: stopping (${why})`);
    stopping = (async () => {
      const closed = server.listening ? new Promise<void>((done) => server.close(() => done())) : Promise.resolve();
      server.closeAllConnections();
      await profiler.stop();
      await closed;
      // Records not written yet are written now, or their loss is said.
      const loss = await store.close();
      if (loss !== undefined) {
        process.stderr.write(`apptrace-profiler: ${loss}\n`);
        process.exitCode = 1;
      }
      report.stop();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      if (process.connected) process.disconnect();
      // Anything still pending (a half-closed socket) must not keep a stopped profiler alive.
      setTimeout(() => exit(process.exitCode ?? 0), 2_000).unref();
    })();
    return stopping;
  };
  // A second Ctrl-C does not wait for a clean stop.
  const now = () => exit(130);
  const onSigint = () => void stop('SIGINT', now);
  const onSigterm = () => void stop('SIGTERM', now);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  try {
    await listenOn(server, listen.host, listen.port);
  } catch (error) {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    await store.close();
    throw error;
  }
  // Stopped while it was getting ready: do not start anything now.
  if (stopping) return -1;
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  const url = `http://${hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl}:${port}`;

  if (!isLoopback(listen.host)) {
    process.stderr.write(
      `apptrace-profiler: warning: listening on ${listen.host}, not loopback: anyone who reaches this port can read your app's source and heap.\n`,
    );
  }
  if (profilerToken === undefined && !process.send) {
    process.stderr.write(
      `apptrace-profiler: no --profiler-token (APPTRACE_PROFILER_TOKEN): signals are refused, only "Snapshot now" records. ` +
        'Give this profiler and apptrace-proxy --profiler the same token to record after each traced request.\n',
    );
  }
  report.start({
    url: `${url}${BASE_PATH}`,
    store,
    urlPatterns,
    target: (values.target as string | undefined) ?? null,
    sidecar: typeof process.send === 'function',
  });
  profiler.start();
  if (process.send) {
    // The proxy that started us is gone (even after SIGKILL): do not outlive it.
    process.once('disconnect', () => void stop('the proxy that started it has gone'));
    process.send({ type: 'listening', url });
  }
  return -1;
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        reject(
          new AppError(
            'PORT_IN_USE',
            `${host}:${port} is already in use; stop what listens there or pass --listen another port (0 for any free port).`,
            {
              cause: error,
            },
          ),
        );
      } else if (error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
        reject(
          new AppError('BAD_FLAG', `cannot listen on ${host}:${port} (${error.code}); pass --listen another address.`, {
            cause: error,
          }),
        );
      } else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolveListen();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
