/**
 * A TypeScript app compiled by the installed `tsc`, run with `node --enable-source-maps
 * --inspect`, profiled by the real `apptrace-profiler serve`: the records name the `.ts`
 * file, and the code browser shows the `.ts` text with the definition line marked.
 * - CommonJS with `--sourceMap` (a map file), the profiler on the same machine, default
 *   tracing (the app's own scripts);
 * - ES module with an inline map and inline sources, `--trace-module src/store.ts`, and the
 *   app's files deleted once the target has loaded them: like compose, where the profiler
 *   cannot read the target's files and has only what the inspector gives it.
 * Expected lines are read from the `.ts` text.
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Entry, HeapRecord } from '../contract/record.js';
import { kill, killAll, startProfiler, waitFor } from '../test/profiler-processes.js';

const fixture = fileURLToPath(new URL('./heap/fixtures/ts-app/', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/.bin/tsc', import.meta.url));
const run = promisify(execFile);

let dir: string;
let tsText: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-ts-code-'));
  tsText = readFileSync(join(fixture, 'src/store.ts'), 'utf8');
});
afterEach(async () => {
  await killAll();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** 1-based line of the first line of `text` matching `pattern`. */
function lineOf(text: string, pattern: RegExp): number {
  const index = text.split('\n').findIndex((line) => pattern.test(line));
  if (index < 0) throw new Error(`no line matches ${pattern}`);
  return index + 1;
}

/** Compiles the fixture's src/store.ts into `root`/dist (run in `root`: not the repository's tsconfig). */
async function compile(root: string, args: string[]): Promise<void> {
  mkdirSync(join(root, 'src'), { recursive: true });
  copyFileSync(join(fixture, 'src/store.ts'), join(root, 'src/store.ts'));
  await run(tsc, [...args, '--target', 'es2022', '--outDir', 'dist', '--rootDir', 'src', 'src/store.ts'], {
    cwd: root,
    timeout: 60_000,
  });
}

/** The fixture's loader keeps the compiled store alive, filled, until its stdin closes. */
async function startTsTarget(
  root: string,
  how: 'require' | 'import',
): Promise<{ inspectPort: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '--enable-source-maps',
      '--inspect=127.0.0.1:0',
      join(fixture, 'write-snapshot.mjs'),
      '-',
      '50',
      '40',
      `${how}:${join(root, 'dist/store.js')}`,
    ],
    { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const inspectPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`target not ready:\n${out}`)), 20_000);
    const check = () => {
      const port = /Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1];
      if (port && /^ready$/m.test(out)) {
        clearTimeout(timer);
        resolve(Number(port));
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('exit', (code) => reject(new Error(`target exited (${code}):\n${out}`)));
  });
  afterEach(() => kill(child));
  return { inspectPort, stop: () => child.stdin.end() };
}

/** The text of each `L<n>` line of a code page, tags stripped and entities decoded, and the marked line numbers. */
function shownLines(body: string): { lines: string[]; marked: number[] } {
  const lines: string[] = [];
  const marked: number[] = [];
  for (const m of body.matchAll(
    /<div class="line" id="L(\d+)"( data-marked[^>]*)?><a class="ln" href="#L\d+">\d+<\/a><span class="src">(.*?)<\/span>(?:<span class="mark-note">.*?<\/span>)?<\/div>/g,
  )) {
    expect(Number(m[1])).toBe(lines.length + 1);
    if (m[2]) marked.push(Number(m[1]));
    const text = m[3]!
      .replace(/<[^>]*>/g, '')
      .replace(
        /&(lt|gt|quot|#39|amp);/g,
        (_, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' })[e]!,
      );
    lines.push(text);
  }
  return { lines, marked };
}

async function profileAndBrowse(root: string, inspectPort: number, patterns: string[]): Promise<void> {
  const profiler = await startProfiler(
    ['--inspect', `127.0.0.1:${inspectPort}`, '--db', join(root, 'db.json'), ...patterns],
    { cwd: root },
  );
  await waitFor(async () => (await profiler.status()).inspector.state === 'connected', 'the profiler attached');
  const { status, body } = await profiler.snapshot();
  expect(status, JSON.stringify(body)).toBe(201);
  const record = body as HeapRecord;
  const byName = new Map<string, Entry>(record.entries.map((e) => [e.name, e]));
  const cacheLine = lineOf(tsText, /^const cache\b/);
  expect(byName.get('cache')).toMatchObject({
    module_name: 'src/store.ts',
    filename: 'src/store.ts',
    lineno: cacheLine,
    obj_type: 'Map',
  });
  expect(byName.get('Store')).toMatchObject({
    module_name: 'src/store.ts',
    filename: 'src/store.ts',
    lineno: lineOf(tsText, /^export class Store\b/),
  });

  const res = await fetch(`${profiler.base}/code?${new URLSearchParams({ module: 'src/store.ts', name: 'cache' })}`);
  const page = await res.text();
  expect(res.status, page).toBe(200);
  const { lines, marked } = shownLines(page);
  expect(lines).toEqual(tsText.replace(/\n$/, '').split('\n'));
  expect(marked[0]).toBe(cacheLine);
  expect(page).toContain('original of <code>dist/store.js</code>, from its source map');
}

describe('the code browser on a TypeScript app', () => {
  it('CommonJS with a map file: records name src/store.ts, the page shows its text with the definition marked', async () => {
    const root = join(dir, 'cjs');
    await compile(root, ['--module', 'commonjs', '--sourceMap']);
    const target = await startTsTarget(root, 'require');
    await profileAndBrowse(root, target.inspectPort, []);
    target.stop();
  });

  it("ES module with an inline map, traced by its original name, its files gone: only the inspector's copy", async () => {
    const root = join(dir, 'esm');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
    await compile(root, ['--module', 'esnext', '--inlineSourceMap', '--inlineSources']);
    const target = await startTsTarget(root, 'import');
    rmSync(join(root, 'src'), { recursive: true });
    rmSync(join(root, 'dist'), { recursive: true });
    await profileAndBrowse(root, target.inspectPort, ['--trace-module', 'src/store.ts']);
    target.stop();
  });
});
