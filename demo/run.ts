#!/usr/bin/env node
/**
 * `npm run demo`: starts the guestbook (demo/app/server.mjs) with its inspector on, and
 * apptrace-proxy in front of it (which starts the profiler as its sidecar), then prints
 * the two addresses to open. Ctrl-C stops everything; no process is left behind.
 *
 * Ports: the app 3000, its inspector 9229, the proxy 8080 — or free ones when those are
 * taken (it says so). DEMO_PORT, DEMO_INSPECT_PORT, DEMO_PROXY_PORT choose others
 * (0 = any free port). Arguments are passed on to apptrace-proxy, e.g.
 * `npm run demo -- --db /tmp/demo.json`.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pickPort } from './ports.js';
import { Supervisor, type ExitInfo } from './supervisor.js';

const HOST = '127.0.0.1';
/** The repository root: this file runs as dist/demo/run.js. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function portFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`demo: ${name}=${JSON.stringify(text)} is not a port (0-65535); using ${fallback}.\n`);
    return fallback;
  }
  return port;
}

async function waitForHttp(url: string, timeoutMs: number, stillRunning: () => boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && stillRunning()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      // The proxy answers 502/503 for /_ah/apptrace until its profiler is up.
      if (res.ok) return true;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main(argv: string[]): Promise<number> {
  const taken: number[] = [];
  const pick = async (label: string, envName: string, preferred: number): Promise<number> => {
    const wanted = portFromEnv(envName, preferred);
    const { port, moved } = await pickPort(wanted, HOST, taken);
    if (moved) process.stdout.write(`demo: port ${wanted} (${label}) is busy; using ${port} instead.\n`);
    taken.push(port);
    return port;
  };
  const appPort = await pick('the guestbook', 'DEMO_PORT', 3000);
  const inspectPort = await pick('its inspector', 'DEMO_INSPECT_PORT', 9229);
  const proxyPort = await pick('apptrace-proxy', 'DEMO_PROXY_PORT', 8080);

  const supervisor = new Supervisor({
    onLine: (name, line) => process.stdout.write(`${name.padEnd(8)}| ${line}\n`),
  });
  const app = supervisor.start({
    name: 'app',
    command: process.execPath,
    args: [`--inspect=${HOST}:${inspectPort}`, join(ROOT, 'demo/app/server.mjs')],
    env: { ...process.env, HOST, PORT: String(appPort) },
    cwd: ROOT,
  });
  const proxy = supervisor.start({
    name: 'apptrace',
    command: process.execPath,
    args: [
      join(ROOT, 'dist/proxy/cli.js'),
      '--target',
      `${HOST}:${appPort}`,
      '--inspect',
      `${HOST}:${inspectPort}`,
      '--listen',
      `${HOST}:${proxyPort}`,
      ...argv,
    ],
    cwd: ROOT,
  });

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`demo: ${why}; stopping the app and apptrace…\n`);
    void supervisor.stopAll('SIGINT');
  };
  let stoppedByUser = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      stoppedByUser = true;
      stop(signal);
    });
  }

  const bothRunning = (): boolean => !app.done && !proxy.done && !stopping;
  const ready =
    (await waitForHttp(`http://${HOST}:${appPort}/healthz`, 15_000, bothRunning)) &&
    (await waitForHttp(`http://${HOST}:${proxyPort}/_ah/apptrace/api/status`, 15_000, bothRunning));
  if (bothRunning()) {
    const base = `http://${HOST}:${proxyPort}`;
    process.stdout.write(
      [
        '',
        ready
          ? 'apptrace demo is running.'
          : 'apptrace demo: still starting (see the lines above); try these in a moment.',
        `  1. the guestbook, through apptrace:  ${base}/`,
        `  2. its memory, request by request:   ${base}/_ah/apptrace`,
        `  (the app itself: http://${HOST}:${appPort}/, its inspector ${HOST}:${inspectPort} — never expose that one)`,
        'Reload and sign the guestbook a few times: `requestLog` (analytics.cjs) climbs with every request (the leak);',
        '`guestbook` climbs only while you sign, then reads plateaued (it keeps 50 messages). Ctrl-C stops everything.',
        '',
      ].join('\n') + '\n',
    );
  }

  // Run until one of them ends (or Ctrl-C), then stop the other one too.
  // Whichever ends first, in the order they ended (Promise.race would prefer the first
  // listed when both have already ended).
  const first = await new Promise<ExitInfo & { name: string }>((resolve) => {
    app.child.once('exit', (code, signal) => resolve({ code, signal, name: 'app' }));
    proxy.child.once('exit', (code, signal) => resolve({ code, signal, name: 'apptrace' }));
    if (app.done) void app.exited.then((exit) => resolve({ ...exit, name: 'app' }));
    if (proxy.done) void proxy.exited.then((exit) => resolve({ ...exit, name: 'apptrace' }));
  });
  if (!stopping) stop(`${first.name} exited (${first.signal ?? `code ${first.code}`})`);
  await supervisor.stopAll('SIGINT');
  // Stopped with Ctrl-C: success. A process that ended on its own: its status (1 if killed).
  return stoppedByUser ? 0 : first.code || 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`demo: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
