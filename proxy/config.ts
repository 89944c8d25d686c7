import { AppError } from '../contract/errors.js';
import { checkModulePattern } from '../profiler/heap/module-match.js';
import { normaliseAllowedHost, withAllowedHostsEnv } from '../common/allowed-hosts.js';
import { type OptionSpec, formatHelp, formatHostPort, parseHostPort, parseOptions } from '../common/options.js';
import { checkProfilerToken } from '../common/profiler-token.js';
import { DEFAULT_MAX_PAUSE_SHARE, checkPauseShare } from '../profiler/pause-budget.js';

/** Everything `apptrace-proxy` needs to run, resolved from flags, env, config file and defaults. */
export interface ProxyConfig {
  target: { host: string; port: number };
  listen: { host: string; port: number };
  /** host:port of the target's inspector, handed to the profiler. */
  inspect: string;
  /** --url-pattern sources as typed; empty means "every path but /_ah/apptrace*". */
  urlPatterns: string[];
  traceModules: string[];
  db: string;
  /** A running profiler to use instead of starting one as a child process. */
  profiler: string | undefined;
  /** How many raw snapshots the profiler it starts keeps (0: none). */
  keepSnapshots: number;
  /** --allocation-sites: the profiler records allocation stacks (slows the target down). */
  allocationSites: boolean;
  /** --allowed-host: Host names `/_ah/apptrace*` answers besides loopback ones and the listen address. */
  allowedHosts: string[];
  /** --profiler-token: the secret shared with a profiler given with --profiler (one is generated for the sidecar). */
  profilerToken: string | undefined;
  /** --max-pause-share: the share of wall time snapshots may pause the target (0.1). */
  maxPauseShare: number;
  help: boolean;
}

export const PROXY_USAGE = 'Usage: apptrace-proxy --target host:port [--listen [host:]port] [options]';

export function checkHostPort(value: string): string {
  const { host, port } = parseHostPort(value);
  return formatHostPort(host, port);
}

export function checkTarget(value: string): string {
  // `localhost:3000` and `3000` both work; a URL is forgiven if it is plain http.
  const bare = value.replace(/^http:\/\//, '').replace(/\/$/, '');
  if (/^[a-z]+:\/\//i.test(bare)) throw new Error('only plain http targets are supported, as host:port');
  const { host, port } = parseHostPort(bare);
  if (port === 0) throw new Error('port 0 is not a dev server port');
  return formatHostPort(host, port);
}

function checkRegex(value: string): string {
  try {
    new RegExp(value);
  } catch (error) {
    throw new Error(`not a valid regular expression (${(error as Error).message})`);
  }
  return value;
}

function checkUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('expected a URL such as http://127.0.0.1:9300');
  }
  if (url.protocol !== 'http:') throw new Error('the profiler is reached over plain http://');
  return url.origin;
}

function checkKeep(value: string): string {
  if (!/^\d+$/.test(value)) throw new Error('expected a number of snapshots such as 10 (0 keeps none)');
  return String(Number(value));
}

export const PROXY_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'target',
    kind: 'string',
    value: 'host:port',
    help: 'the dev server to put apptrace in front of (required)',
    check: checkTarget,
  },
  {
    name: 'listen',
    kind: 'string',
    value: '[host:]port',
    help: 'where the proxy listens',
    default: '127.0.0.1:8080',
    check: checkHostPort,
  },
  {
    name: 'inspect',
    kind: 'string',
    value: 'host:port',
    help: "the target's inspector (default: the target's host, port 9229)",
    check: checkHostPort,
  },
  {
    name: 'url-pattern',
    kind: 'list',
    value: 'REGEX',
    help: 'trace requests whose path (+query) matches; repeatable (default: documents and API calls, not static assets, source maps, HMR nor dev-server internals; see README)',
    check: checkRegex,
  },
  {
    name: 'max-pause-share',
    kind: 'string',
    value: 'X',
    help: 'at most this share of wall time the target spends paused by snapshots; requests meanwhile fold into the next one (1: a snapshot per request)',
    default: String(DEFAULT_MAX_PAUSE_SHARE),
    check: checkPauseShare,
  },
  {
    name: 'trace-module',
    kind: 'list',
    value: 'PATTERN',
    help: "record the objects of these modules; repeatable (default: the app's own scripts, not node_modules nor node:)",
    check: checkModulePattern,
  },
  { name: 'db', kind: 'string', value: 'PATH', help: 'the record store', default: '.apptrace/db.json' },
  {
    name: 'profiler',
    kind: 'string',
    value: 'URL',
    help: 'use a running profiler instead of starting one as a child process',
    check: checkUrl,
  },
  {
    name: 'keep-snapshots',
    kind: 'string',
    value: 'N',
    help: 'the profiler keeps the raw snapshots of the newest N records beside --db, downloadable from the UI (0: none)',
    default: '0',
    check: checkKeep,
  },
  {
    name: 'allocation-sites',
    kind: 'boolean',
    help: 'also record where growing objects were allocated (tracks every allocation: the target runs ~15x slower, ~6x when started with node --track-heap-objects)',
  },
  {
    name: 'allowed-host',
    kind: 'list',
    value: 'NAME',
    help: 'a Host name /_ah/apptrace answers besides loopback ones and the listen address (e.g. a compose service name); repeatable, or APPTRACE_ALLOWED_HOSTS=a,b',
    check: normaliseAllowedHost,
  },
  {
    name: 'profiler-token',
    kind: 'string',
    value: 'SECRET',
    help: 'with --profiler: the secret the proxy sends with its signals, given to that profiler too (better as APPTRACE_PROFILER_TOKEN, which ps does not show)',
    check: checkProfilerToken,
  },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

export function proxyHelp(): string {
  return formatHelp(
    PROXY_USAGE,
    PROXY_OPTIONS,
    [
      'Each option can also come from the environment (APPTRACE_TARGET, APPTRACE_URL_PATTERN=a,b, …)',
      'or from apptrace.config.json in the working directory ({"target": "localhost:3000"}).',
      '',
      'Example:',
      '  node --inspect server.js                      # your app, with its inspector on',
      '  apptrace-proxy --target localhost:3000 --listen 8080',
      '  # browse http://127.0.0.1:8080/, then open http://127.0.0.1:8080/_ah/apptrace',
      '',
      'In CI: `apptrace-proxy check --target … --request /path --requests 16` fails (exit 1) when',
      'an object keeps growing per request; `apptrace-proxy check --help` for its flags.',
      '`apptrace-proxy --version` prints the version.',
    ].join('\n'),
  );
}

/**
 * Resolves the proxy's configuration: flag, then `APPTRACE_*`, then `apptrace.config.json`,
 * then default. Throws `AppError('BAD_FLAG')` naming the culprit (exit status 2).
 *
 * @example
 *   const config = parseProxyConfig(['--target', 'localhost:3000'], { env: process.env });
 */
export function parseProxyConfig(
  argv: readonly string[],
  context: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ProxyConfig {
  // --help must work even when the rest of the command line is wrong.
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const { values, positionals } = parseOptions(wantsHelp ? ['--help'] : argv, PROXY_OPTIONS, {
    ...context,
    ...(context.env ? { env: withAllowedHostsEnv(context.env) } : {}),
    command: 'apptrace-proxy',
    useConfigFile: !wantsHelp,
  });
  if (positionals.length > 0) {
    throw new AppError(
      'BAD_FLAG',
      `unexpected argument ${JSON.stringify(positionals[0])}; flags take the form --target localhost:3000. Run \`apptrace-proxy --help\`.`,
    );
  }
  const listen = parseHostPort(values['listen'] as string);
  const targetText = values['target'] as string | undefined;
  if (wantsHelp) {
    return {
      target: { host: '', port: 0 },
      listen,
      inspect: '',
      urlPatterns: [],
      traceModules: [],
      db: '',
      profiler: undefined,
      keepSnapshots: 0,
      allocationSites: false,
      allowedHosts: [],
      profilerToken: undefined,
      maxPauseShare: DEFAULT_MAX_PAUSE_SHARE,
      help: true,
    };
  }
  if (targetText === undefined) {
    throw new AppError(
      'BAD_FLAG',
      '--target is required: the address of your dev server, e.g. `apptrace-proxy --target localhost:3000` ' +
        '(or APPTRACE_TARGET, or "target" in apptrace.config.json).',
    );
  }
  const target = parseHostPort(targetText);
  return {
    target,
    listen,
    inspect: (values['inspect'] as string | undefined) ?? formatHostPort(target.host, 9229),
    urlPatterns: (values['url-pattern'] as string[] | undefined) ?? [],
    traceModules: (values['trace-module'] as string[] | undefined) ?? [],
    db: values['db'] as string,
    profiler: values['profiler'] as string | undefined,
    keepSnapshots: Number(values['keep-snapshots']),
    allocationSites: values['allocation-sites'] === true,
    allowedHosts: (values['allowed-host'] as string[] | undefined) ?? [],
    profilerToken: values['profiler-token'] as string | undefined,
    maxPauseShare: Number(values['max-pause-share']),
    help: false,
  };
}
