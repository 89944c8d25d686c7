import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../contract/errors.js';

/**
 * One option of a command. Values are looked up in this order: command-line flag, then
 * environment (`APPTRACE_<NAME>`, e.g. `APPTRACE_TRACE_MODULE`; repeatable options split
 * it on commas), then `apptrace.config.json` in the working directory (key in camelCase,
 * e.g. `"traceModule": ["src/**"]`), then `default`.
 */
export interface OptionSpec {
  /** Flag name without dashes: `trace-module`. */
  name: string;
  /** `string` takes a value, `boolean` is a switch, `list` takes a value and repeats. */
  kind: 'string' | 'boolean' | 'list';
  help: string;
  /** Shown in --help as the value's placeholder, e.g. `host:port`. */
  value?: string;
  default?: string | boolean | string[];
  /** Checks (and may normalise) a value; throw a message string's worth via `badFlag`. */
  check?: (value: string) => string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface ParsedArgs {
  values: OptionValues;
  /** Words that are not flags (sub-commands, file names), in order. */
  positionals: string[];
  /** Where each value came from, for messages: `flag`, `env`, `config` or `default`. */
  sources: Record<string, 'flag' | 'env' | 'config' | 'default'>;
}

export function badFlag(message: string): never {
  throw new AppError('BAD_FLAG', message);
}

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function envName(name: string): string {
  return 'APPTRACE_' + name.toUpperCase().replace(/-/g, '_');
}

function readConfigFile(cwd: string): Record<string, unknown> {
  const path = resolve(cwd, 'apptrace.config.json');
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AppError('BAD_FLAG', `${path} is not valid JSON (${(error as Error).message}); fix or remove it.`, {
      cause: error,
    });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    badFlag(`${path} must hold a JSON object such as {"target": "localhost:3000"}.`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Parses `argv` against `specs`, then fills what is missing from the environment, the
 * config file and the defaults. Unknown flags, missing values and failed checks throw
 * `AppError('BAD_FLAG')` naming the flag; the CLI turns that into exit status 2.
 *
 * @example
 *   const { values } = parseOptions(process.argv.slice(2), specs, { env: process.env });
 */
export function parseOptions(
  argv: readonly string[],
  specs: readonly OptionSpec[],
  context: { env?: NodeJS.ProcessEnv; cwd?: string; command?: string; useConfigFile?: boolean } = {},
): ParsedArgs {
  const env = context.env ?? {};
  const byName = new Map(specs.map((s) => [s.name, s]));
  const values: OptionValues = {};
  const sources: ParsedArgs['sources'] = {};
  const positionals: string[] = [];
  const command = context.command ?? 'apptrace';

  const checked = (spec: OptionSpec, raw: string, origin: string): string => {
    if (!spec.check) return raw;
    try {
      return spec.check(raw);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      badFlag(`${origin}: ${why}`);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      positionals.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = word.replace(/^--?/, '').slice(0, eq === -1 ? undefined : eq - (word.startsWith('--') ? 2 : 1));
    const spec = byName.get(name);
    if (!spec) badFlag(`unknown flag ${word.split('=')[0]}; run \`${command} --help\` for the flags.`);
    if (spec.kind === 'boolean') {
      if (eq !== -1) badFlag(`--${name} is a switch and takes no value.`);
      values[name] = true;
      sources[name] = 'flag';
      continue;
    }
    let raw: string | undefined;
    if (eq !== -1) raw = word.slice(eq + 1);
    else {
      raw = argv[i + 1];
      if (raw === undefined || (raw.startsWith('--') && raw.length > 2)) {
        badFlag(`--${name} needs a value${spec.value ? ` (${spec.value})` : ''}.`);
      }
      i++;
    }
    const value = checked(spec, raw, `--${name} ${JSON.stringify(raw)}`);
    if (spec.kind === 'list') {
      const list = (values[name] as string[] | undefined) ?? [];
      list.push(value);
      values[name] = list;
    } else values[name] = value;
    sources[name] = 'flag';
  }

  const config = context.useConfigFile === false ? {} : readConfigFile(context.cwd ?? process.cwd());
  for (const spec of specs) {
    if (values[spec.name] !== undefined) continue;
    const fromEnv = env[envName(spec.name)];
    if (fromEnv !== undefined && fromEnv !== '') {
      const origin = `${envName(spec.name)}=${JSON.stringify(fromEnv)}`;
      if (spec.kind === 'boolean') values[spec.name] = !/^(0|false|no|off)$/i.test(fromEnv);
      else if (spec.kind === 'list')
        values[spec.name] = fromEnv
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => checked(spec, s, origin));
      else values[spec.name] = checked(spec, fromEnv, origin);
      sources[spec.name] = 'env';
      continue;
    }
    const fromConfig = config[camel(spec.name)] ?? config[spec.name];
    if (fromConfig !== undefined) {
      const origin = `apptrace.config.json "${camel(spec.name)}"`;
      if (spec.kind === 'boolean') {
        if (typeof fromConfig !== 'boolean') badFlag(`${origin} must be true or false.`);
        values[spec.name] = fromConfig;
      } else if (spec.kind === 'list') {
        const list = Array.isArray(fromConfig) ? fromConfig : [fromConfig];
        if (!list.every((v) => typeof v === 'string')) badFlag(`${origin} must be a string or a list of strings.`);
        values[spec.name] = (list as string[]).map((v) => checked(spec, v, origin));
      } else {
        if (typeof fromConfig !== 'string' && typeof fromConfig !== 'number') badFlag(`${origin} must be a string.`);
        values[spec.name] = checked(spec, String(fromConfig), origin);
      }
      sources[spec.name] = 'config';
      continue;
    }
    if (spec.default !== undefined) {
      values[spec.name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
      sources[spec.name] = 'default';
    }
  }
  return { values, positionals, sources };
}

/** The --help text for `specs`. */
export function formatHelp(usage: string, specs: readonly OptionSpec[], footer = ''): string {
  const rows = specs.map((s) => {
    const left = `  --${s.name}${s.kind === 'boolean' ? '' : ` ${s.value ?? 'VALUE'}`}${s.kind === 'list' ? ' …' : ''}`;
    const def =
      s.default === undefined || s.default === false || (Array.isArray(s.default) && s.default.length === 0)
        ? ''
        : ` (default: ${Array.isArray(s.default) ? s.default.join(', ') : String(s.default)})`;
    return [left, s.help + def] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, r]) => (l.length >= width ? `${l}\n${' '.repeat(width)}${r}` : l.padEnd(width) + r));
  return `${usage}\n\nOptions:\n${lines.join('\n')}\n${footer ? `\n${footer}\n` : ''}`;
}

/** Parses `[host:]port`, checking the port; `host` defaults to `defaultHost`. */
export function parseHostPort(value: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  let host = defaultHost;
  let portText = value;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:]+):(\d+)$/.exec(value);
  if (m) {
    host = m[1]!;
    portText = m[2]!;
  } else if (!/^\d+$/.test(value)) {
    throw new Error(`expected [host:]port such as 127.0.0.1:8080 or 8080`);
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`port ${portText} is not between 0 and 65535`);
  return { host, port };
}

/** `host:port`, with an IPv6 address in brackets (`[::1]:8080`), so that parseHostPort reads it back. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Compiles a user's regex, naming it in the error. */
export function compilePattern(value: string, flagName: string): RegExp {
  try {
    return new RegExp(value);
  } catch (error) {
    badFlag(`--${flagName} ${JSON.stringify(value)} is not a valid regular expression: ${(error as Error).message}`);
  }
}

/** True for 127.0.0.0/8, ::1 and `localhost`: the binds that need no warning. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
