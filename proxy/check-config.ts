import { AppError } from '../contract/errors.js';
import { checkModulePattern } from '../profiler/heap/module-match.js';
import { type OptionSpec, formatHelp, formatHostPort, parseHostPort, parseOptions } from '../common/options.js';
import { checkHostPort, checkTarget } from './config.js';

/**
 * Growth per request above which `check` fails, in bytes. Measured on the test apps and
 * the demo (bench figures in the report of issue 6): after the warm-up, objects that do
 * not leak grow by 0 B per request, and functions' one-off steps (feedback vectors,
 * optimised code) are excluded by the rule that a leak grows in most rounds; the demo's
 * deliberate leak (one log entry per request) grows by about 530 B per request. 256 B
 * catches that with a margin of two, while a step of up to ~1 KB in one round of the
 * second half stays below the rate. Leaks smaller than the threshold need more rounds
 * and a lower --threshold.
 */
export const DEFAULT_THRESHOLD = 256;
export const DEFAULT_ROUNDS = 16;
const MAX_ROUNDS = 1_000;

/** One request that `check` sends each round. */
export interface CheckRequest {
  method: string;
  path: string;
}

export interface CheckConfig {
  target: { host: string; port: number };
  inspect: string;
  requests: CheckRequest[];
  /** How many times the list of requests is sent. */
  rounds: number;
  traceModules: string[];
  /** Sent with every request that may have a body (not GET nor HEAD); `{i}` is the round. */
  body: string | undefined;
  /** Headers sent with every request; `{i}` in a value is the round. */
  headers: [string, string][];
  /** Bytes per request. */
  threshold: number;
  /** A store to keep; undefined: a temporary one, removed at the end. */
  db: string | undefined;
  json: boolean;
  verbose: boolean;
  /** How long to wait for the target and its inspector to answer, in ms. */
  waitMs: number;
  help: boolean;
}

export const CHECK_USAGE =
  'Usage: apptrace-proxy check --target host:port --request PATH [--request PATH]... --requests N [options]';

function checkRequest(value: string): string {
  parseRequest(value);
  return value;
}

/** `/path` or `METHOD /path`. */
export function parseRequest(value: string): CheckRequest {
  const m = /^(?:([A-Za-z]+)\s+)?(\/\S*)$/.exec(value.trim());
  if (!m) throw new Error('expected a path such as /items or a method and a path such as "POST /items"');
  return { method: (m[1] ?? 'GET').toUpperCase(), path: m[2]! };
}

/**
 * `{i}` in a request's path, body or header values becomes the round's number (1, 2, …),
 * so that each round asks for a new key (`GET /users/{i}`): per-key caches then grow.
 */
export function fillRound(template: string, round: number): string {
  return template.replaceAll('{i}', String(round));
}

/** `Name: value`. */
export function parseHeader(value: string): [string, string] {
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$/.exec(value);
  if (!m) throw new Error('expected a header such as "x-user: {i}" (a name, a colon, a value)');
  const name = m[1]!.toLowerCase();
  if (name === 'host' || name === 'content-length' || name === 'transfer-encoding' || name === 'connection') {
    throw new Error(`${m[1]} is set by check itself`);
  }
  return [name, m[2]!];
}

function checkHeader(value: string): string {
  parseHeader(value);
  return value;
}

function checkCount(value: string): string {
  if (!/^\d+$/.test(value)) throw new Error('expected a whole number of rounds such as 16');
  const n = Number(value);
  // The rate is measured over the second half of the run: that needs a few rounds.
  if (n < 4 || n > MAX_ROUNDS)
    throw new Error(
      `expected between 4 and ${MAX_ROUNDS} (the growth rate is measured over the second half of the rounds)`,
    );
  return String(n);
}

/** Bytes, optionally with a unit: 512, 1024, 1kb, 1.5 KB, 2m. */
export function parseBytes(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|m|mb)?$/i.exec(value.trim());
  if (!m) throw new Error('expected bytes per request such as 512, 1024 or 1kb');
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const factor = unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1;
  return Math.round(Number(m[1]) * factor);
}

function checkThreshold(value: string): string {
  return String(parseBytes(value));
}

function checkSeconds(value: string): string {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error('expected seconds such as 10');
  return value;
}

export const CHECK_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'target',
    kind: 'string',
    value: 'host:port',
    help: 'the app to check, already running (required)',
    check: checkTarget,
  },
  {
    name: 'inspect',
    kind: 'string',
    value: 'host:port',
    help: "the app's inspector (default: the target's host, port 9229)",
    check: checkHostPort,
  },
  {
    name: 'request',
    kind: 'list',
    value: '[METHOD] PATH',
    help: 'a request to send each round, e.g. /items or "POST /items"; repeatable (required). {i} in it is the round\'s number: "GET /users/{i}" asks for a new key each round',
    check: checkRequest,
  },
  {
    name: 'body',
    kind: 'string',
    value: 'TEXT',
    help: "the body of each request that is not GET or HEAD; {i} is the round's number",
  },
  {
    name: 'header',
    kind: 'list',
    value: '"NAME: VALUE"',
    help: 'a header of every request, e.g. "x-user: {i}"; repeatable; {i} is the round\'s number',
    check: checkHeader,
  },
  {
    name: 'requests',
    kind: 'string',
    value: 'N',
    help: 'how many rounds of the requests to send, 4 or more',
    default: String(DEFAULT_ROUNDS),
    check: checkCount,
  },
  {
    name: 'trace-module',
    kind: 'list',
    value: 'PATTERN',
    help: "the modules whose objects are watched; repeatable (default: the app's own scripts)",
    check: checkModulePattern,
  },
  {
    name: 'threshold',
    kind: 'string',
    value: 'BYTES',
    help: 'fail when an object keeps growing by more than this per request (512, 1kb, …); up to the default, a collection that gains an element per request fails whatever its bytes',
    default: String(DEFAULT_THRESHOLD),
    check: checkThreshold,
  },
  {
    name: 'db',
    kind: 'string',
    value: 'PATH',
    help: 'keep the records in this store (default: a temporary one, removed at the end)',
  },
  { name: 'json', kind: 'boolean', help: 'print a JSON report on stdout: {passed, threshold, requests, suspects:[…]}' },
  {
    name: 'wait',
    kind: 'string',
    value: 'SECONDS',
    help: 'how long to wait for the target and its inspector to answer',
    default: '10',
    check: checkSeconds,
  },
  { name: 'verbose', kind: 'boolean', help: "show the profiler's own lines (on stderr)" },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

export function checkHelp(): string {
  return formatHelp(
    CHECK_USAGE,
    CHECK_OPTIONS,
    [
      'Starts its own proxy and profiler, waits for the baseline snapshot, sends the requests',
      'N times one after the other (a heap snapshot after each), and fails when an object of',
      'the traced modules keeps growing: the profiler\'s verdict is "growing" (not a cache that',
      'filled up and stopped), it grew in at least two thirds of the rounds of the second half',
      '(after the warm-up), and its rate over those rounds is above --threshold',
      `(default ${DEFAULT_THRESHOLD} B per request).`,
      '',
      'Exit status: 0 no leak, 1 a leak (each printed with its growth, growth path and code',
      'location), 2 the check could not run (a bad flag, the app or its inspector not',
      'reachable, the app stopped during the check). Progress goes to stderr.',
      '',
      'Example (CI):',
      '  node --inspect=127.0.0.1:9229 server.js &',
      '  apptrace-proxy check --target 127.0.0.1:3000 --request /items --request "POST /items" --requests 20',
      '  apptrace-proxy check --target 127.0.0.1:3000 --request "GET /users/{i}"   # a per-key cache',
    ].join('\n'),
  );
}

/**
 * Resolves `apptrace-proxy check`'s flags (then `APPTRACE_*`, then apptrace.config.json).
 * Throws `AppError('BAD_FLAG')` naming the culprit.
 */
export function parseCheckConfig(
  argv: readonly string[],
  context: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): CheckConfig {
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  const { values, positionals } = parseOptions(wantsHelp ? ['--help'] : argv, CHECK_OPTIONS, {
    ...context,
    command: 'apptrace-proxy check',
    useConfigFile: !wantsHelp,
  });
  const base = {
    inspect: '',
    requests: [],
    rounds: DEFAULT_ROUNDS,
    traceModules: [],
    body: undefined,
    headers: [],
    threshold: DEFAULT_THRESHOLD,
    db: undefined,
    json: false,
    verbose: false,
    waitMs: 10_000,
  };
  if (wantsHelp) return { ...base, target: { host: '', port: 0 }, help: true };
  if (positionals.length > 0) {
    throw new AppError(
      'BAD_FLAG',
      `unexpected argument ${JSON.stringify(positionals[0])}; a request is given as --request ${positionals[0]}. Run \`apptrace-proxy check --help\`.`,
    );
  }
  const targetText = values['target'] as string | undefined;
  if (targetText === undefined) {
    throw new AppError(
      'BAD_FLAG',
      '--target is required: the address of your running app, e.g. `apptrace-proxy check --target 127.0.0.1:3000 --request /`.',
    );
  }
  const requests = ((values['request'] as string[] | undefined) ?? []).map(parseRequest);
  if (requests.length === 0) {
    throw new AppError(
      'BAD_FLAG',
      '--request is required: the path to send each round, e.g. --request /items (repeatable; "POST /items" for another method).',
    );
  }
  const target = parseHostPort(targetText);
  return {
    ...base,
    target,
    inspect: (values['inspect'] as string | undefined) ?? formatHostPort(target.host, 9229),
    requests,
    rounds: Number(values['requests']),
    traceModules: (values['trace-module'] as string[] | undefined) ?? [],
    body: values['body'] as string | undefined,
    headers: ((values['header'] as string[] | undefined) ?? []).map(parseHeader),
    threshold: Number(values['threshold']),
    db: values['db'] as string | undefined,
    json: values['json'] === true,
    verbose: values['verbose'] === true,
    waitMs: Math.round(Number(values['wait']) * 1000),
    help: false,
  };
}
