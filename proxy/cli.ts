#!/usr/bin/env node
/**
 * `apptrace-proxy`: a reverse proxy in front of a dev server that signals the apptrace
 * profiler after each matching response, and starts that profiler as a child process
 * unless --profiler names a running one.
 */
import type { ChildProcess } from 'node:child_process';
import { runCommand } from '../common/cli-runner.js';
import { formatHostPort, isLoopback } from '../common/options.js';
import { apptraceVersion, wantsVersion } from '../common/version.js';
import { type ProxyConfig, parseProxyConfig, proxyHelp } from './config.js';
import { type ProxyServer, createProxyServer } from './server.js';
import { type Sidecar, startSidecar } from './sidecar.js';
import { SignalSender } from './signal.js';
import { APPTRACE_PREFIX, describeUrlPatterns } from './url-match.js';

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function warn(line: string): void {
  process.stderr.write(`apptrace-proxy: ${line}\n`);
}

function hostForUrl(host: string): string {
  // A wildcard bind is reached on loopback from this machine.
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function printBanner(config: ProxyConfig, port: number, profiler: { url: string; how: string }): void {
  const base = `http://${hostForUrl(config.listen.host)}:${port}`;
  const rows: [string, string][] = [
    ['browse your app', `${base}/`],
    ['apptrace UI', `${base}${APPTRACE_PREFIX}`],
    ['target', formatHostPort(config.target.host, config.target.port)],
    ['traced URLs', describeUrlPatterns(config.urlPatterns)],
    [
      'traced modules',
      config.traceModules.length
        ? config.traceModules.join(', ')
        : "the app's own scripts (not node_modules, not node:)",
    ],
    ['inspector', `${config.inspect} (the profiler reports its state)`],
    ['profiler', `${profiler.url} (${profiler.how})`],
  ];
  if (config.profiler === undefined)
    rows.push([
      'pause budget',
      `snapshots pause the target at most ${Math.round(config.maxPauseShare * 1000) / 10}% of the time (--max-pause-share)`,
    ]);
  if (config.allocationSites && config.profiler === undefined)
    rows.push(['allocation sites', 'recorded (the target runs slower while tracked)']);
  say(`apptrace-proxy: listening on ${base}`);
  for (const [label, value] of rows) say(`  ${label.padEnd(16)} ${value}`);
}

/** Runs the proxy; resolves with -1 while serving (the loop stays alive), or an exit status. */
async function main(argv: string[]): Promise<number> {
  const config = parseProxyConfig(argv, { env: process.env });
  if (config.help) {
    say(proxyHelp());
    return 0;
  }
  if (!isLoopback(config.listen.host)) {
    warn(
      `warning: listening on ${config.listen.host}, not loopback: anyone who can reach this port reaches your app, ` +
        "and through /_ah/apptrace your app's source and its inspector. Use --listen 127.0.0.1:PORT unless you mean it.",
    );
  }

  // The names /_ah/apptrace answers: loopback, the listen address, and what the user adds.
  const allowedHosts = [...config.allowedHosts, config.listen.host];
  const proxy: ProxyServer = createProxyServer({
    target: config.target,
    urlPatterns: config.urlPatterns,
    allowedHosts,
  });
  // Listen first: a port in use is reported before any child process starts.
  const port = await proxy.listen(config.listen.host, config.listen.port);

  let sidecar: Sidecar | undefined;
  let spawned: ChildProcess | undefined;
  let stopping = false;
  async function shutdown(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    if (sidecar === undefined) spawned?.kill('SIGTERM');
    await Promise.allSettled([sidecar?.stop(), proxy.close()]);
    process.exit(code);
  }
  // Ctrl-C, `kill` or a normal exit: never leave the profiler behind.
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  process.once('SIGHUP', () => void shutdown(0));
  process.once('exit', () => spawned?.kill('SIGTERM'));

  let profilerUrl: string;
  let how: string;
  let token = config.profilerToken;
  if (config.profiler !== undefined) {
    profilerUrl = config.profiler;
    how = 'given with --profiler';
    if (token === undefined) {
      warn(
        'warning: no --profiler-token (APPTRACE_PROFILER_TOKEN): the profiler refuses signals without the token it was given, ' +
          'so nothing is recorded per request. Give both the same token.',
      );
    }
  } else {
    try {
      sidecar = await startSidecar({
        target: formatHostPort(config.target.host, config.target.port),
        inspect: config.inspect,
        db: config.db,
        urlPatterns: config.urlPatterns,
        traceModules: config.traceModules,
        allocationSites: config.allocationSites,
        keepSnapshots: config.keepSnapshots,
        allowedHosts,
        maxPauseShare: config.maxPauseShare,
        // Tests stand a small script speaking the same IPC in for the profiler.
        script: process.env['APPTRACE_PROFILER_SCRIPT'] || undefined,
        onSpawn: (child) => {
          spawned = child;
        },
      });
    } catch (error) {
      // Stopped by Ctrl-C while the profiler was starting: shutdown() has it in hand.
      if (stopping) return -1;
      await proxy.close();
      throw error;
    }
    if (stopping) return -1;
    profilerUrl = sidecar.url;
    token = sidecar.token;
    how = `sidecar, pid ${sidecar.pid}`;
    sidecar.onExit((code, signal) => {
      if (stopping) return;
      const what = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      warn(
        `the profiler ${what}; your app is still served, but nothing is recorded. Restart apptrace-proxy to profile again.`,
      );
      proxy.profilerUnavailable({
        role: 'the apptrace profiler',
        address: profilerUrl,
        hint: `The profiler ${what}; see the terminal of apptrace-proxy, and restart apptrace-proxy.`,
      });
    });
  }
  proxy.useProfiler(
    profilerUrl,
    new SignalSender({
      profilerUrl,
      ...(token === undefined ? {} : { token }),
      log: (line) => process.stderr.write(`${line}\n`),
    }),
  );
  printBanner(config, port, { url: profilerUrl, how });
  return -1;
}

const argv = process.argv.slice(2);
if (wantsVersion(argv)) {
  say(`apptrace-proxy ${apptraceVersion()}`);
} else if (argv[0] === 'check') {
  // The CI gate: runs to the end and exits with its verdict (0, 1, or 2).
  const { runCheckCommand } = await import('./check.js');
  const io = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    exit: (code: number) => process.exit(code),
  };
  process.exitCode = await runCommand('apptrace check', () => runCheckCommand(argv.slice(1), io));
} else {
  runCommand('apptrace-proxy', () => main(argv)).then((code) => {
    // The proxy keeps the loop alive and resolves with -1: leave it running.
    if (code >= 0) process.exitCode = code;
  });
}
