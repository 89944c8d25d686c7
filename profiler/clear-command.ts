import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { AppError } from '../contract/errors.js';
import type { OptionSpec } from '../common/options.js';
import { badFlag, formatHelp, parseOptions } from '../common/options.js';
import { BASE_PATH } from '../contract/base-path.js';
import { RecordStore } from './store.js';

/**
 * `apptrace-profiler clear`: deletes every record of a store, the same operation as the
 * UI's "Clear records" (RecordStore.clear). Without `--yes` it asks on the terminal, and
 * refuses when there is none to ask on. With `--profiler URL` it asks the running profiler
 * to do it (POST /api/clear), which is the way while one holds the store.
 */
const SPECS: OptionSpec[] = [
  { name: 'db', kind: 'string', value: 'PATH', default: '.apptrace/db.json', help: 'the record store to empty' },
  {
    name: 'profiler',
    kind: 'string',
    value: 'URL',
    help: 'clear through the running profiler at URL (e.g. http://127.0.0.1:9300) instead of the file',
  },
  { name: 'yes', kind: 'boolean', help: 'do not ask; delete the records' },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

const USAGE = 'Usage: apptrace-profiler clear [--db PATH | --profiler URL] [--yes]';
const FOOTER = `Deletes every record (and, through a running profiler, its kept snapshots); the next
record is #1 again. While a profiler runs on the store, clear through it (--profiler, or
"Clear records" in the UI): it keeps the records in memory and would write them back.
Exit status 0 when cleared or nothing to clear, 1 when declined or it failed, 2 for a
bad flag or no terminal to ask on without --yes.`;

export interface ClearIo {
  /** Asks a yes/no question; undefined when there is no terminal to ask on. */
  ask?: ((question: string) => Promise<string>) | undefined;
  out: (text: string) => void;
}

export async function runClearCommand(argv: string[], io: ClearIo = terminalIo()): Promise<number> {
  const { values, positionals } = parseOptions(argv, SPECS, { env: process.env, command: 'apptrace-profiler clear' });
  if (values.help) {
    io.out(formatHelp(USAGE, SPECS, FOOTER));
    return 0;
  }
  if (positionals.length > 0) badFlag(`unexpected ${JSON.stringify(positionals[0])}. ${USAGE}`);
  const yes = values.yes === true;
  const profiler = values.profiler as string | undefined;

  if (profiler !== undefined) {
    const url = clearUrl(profiler);
    if (!(await confirm(io, yes, `Delete every record of the profiler at ${profiler}?`))) return declined(io);
    const cleared = await clearThrough(url);
    io.out(`apptrace-profiler: deleted ${cleared} record${cleared === 1 ? '' : 's'} through ${profiler}.\n`);
    return 0;
  }

  const path = resolve(values.db as string);
  if (!existsSync(path)) {
    io.out(`apptrace-profiler: no store at ${path}: nothing to clear.\n`);
    return 0;
  }
  const store = await RecordStore.open(path);
  try {
    if (store.size === 0) {
      io.out(`apptrace-profiler: ${path} holds no records: nothing to clear.\n`);
      return 0;
    }
    const question = `Delete all ${store.size} record${store.size === 1 ? '' : 's'} (#1–#${store.lastIndex}) from ${path}?`;
    if (!(await confirm(io, yes, question))) return declined(io);
    const cleared = await store.clear();
    io.out(`apptrace-profiler: deleted ${cleared} record${cleared === 1 ? '' : 's'} from ${path}.\n`);
    return 0;
  } finally {
    // Releases the store's lock: a profiler may start on it right after.
    await store.close();
  }
}

async function confirm(io: ClearIo, yes: boolean, question: string): Promise<boolean> {
  if (yes) return true;
  if (!io.ask) badFlag(`${question} There is no terminal to ask on: pass --yes to delete them.`);
  const answer = await io.ask(`${question} This cannot be undone. [y/N] `);
  return /^y(es)?$/i.test(answer.trim());
}

function declined(io: ClearIo): number {
  io.out('apptrace-profiler: nothing deleted.\n');
  return 1;
}

function clearUrl(profiler: string): string {
  let url: URL;
  try {
    url = new URL(profiler);
  } catch {
    badFlag(
      `--profiler: ${JSON.stringify(profiler)} is not a URL; give the profiler's address, e.g. http://127.0.0.1:9300`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') badFlag(`--profiler: ${profiler} is not an http(s) URL`);
  return new URL(`${BASE_PATH}/api/clear`, url).toString();
}

async function clearThrough(url: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ confirm: true }),
    });
  } catch (error) {
    throw new AppError(
      'PROFILER_FAILED',
      `cannot reach the profiler at ${url}: ${(error as Error).message}; is it running?`,
      {
        cause: error,
      },
    );
  }
  const text = await res.text();
  let body: { cleared?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!res.ok || typeof body.cleared !== 'number') {
    const why = typeof body.error === 'string' ? body.error : text.slice(0, 200);
    throw new AppError(
      'PROFILER_FAILED',
      `the profiler at ${url} did not clear the records: HTTP ${res.status} ${why}`,
    );
  }
  return body.cleared;
}

function terminalIo(): ClearIo {
  return {
    out: (text) => process.stdout.write(text),
    ask: process.stdin.isTTY
      ? async (question) => {
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          try {
            return await rl.question(question);
          } finally {
            rl.close();
          }
        }
      : undefined,
  };
}
