/**
 * Entries of a TypeScript app with source maps, from real snapshots. The fixture
 * `fixtures/ts-app/src/store.ts` (a class with a static array, a module-level Map, an
 * exported Map, a function; type-only lines so that JavaScript and TypeScript lines
 * differ) is compiled by the installed `tsc` twice into a temporary app:
 * - `cjs/`: CommonJS, `--sourceMap` (a `store.js.map` file beside `store.js`);
 * - `esm/`: ES module, `--inlineSourceMap --inlineSources` (a data URL, like tsx), with
 *   the `.ts` deleted afterwards so that its text can only come from the map;
 * - `tsx/`: like `esm/` into `.build/`, served by module hooks (fixtures/ts-app/ts-hooks.mjs)
 *   as the text of `tsx/src/store.ts` itself, the way tsx runs TypeScript.
 * A child process loads the first two and writes a snapshot; another runs all three under
 * `node --enable-source-maps --inspect` for a snapshot over a real inspector. Expected
 * lines are read from the `.ts` and `.js` texts.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import CDP from 'chrome-remote-interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../contract/record.js';
import { computeDominators } from './dominators.js';
import { findEntries } from './entries.js';
import { startInspectableTarget } from '../../test/inspectable-target.js';
import type { EntryOptions } from './entries.js';
import { SnapshotLoader, loadSnapshotFile } from './loader.js';
import { createModuleMatcher, readScriptSource } from './module-match.js';
import type { HeapSnapshot } from './snapshot.js';
import { moduleSourceOf, originalSource } from './source-maps.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, 'fixtures/ts-app');
const tsc = join(here, '../../node_modules/.bin/tsc');
const cli = join(here, '../../dist/profiler/cli.js');
const run = promisify(execFile);
const STRINGS = 200;
const LENGTH = 50;

let dir: string;
let cjsRoot: string;
let esmRoot: string;
let tsxRoot: string;
let tsText: string;
let snapshotFile: string;
let snapshot: HeapSnapshot;
let retained: Float64Array;

/** 1-based line of the first line of `text` matching `pattern`. */
function lineOf(text: string, pattern: RegExp): number {
  const index = text.split('\n').findIndex((line) => pattern.test(line));
  if (index < 0) throw new Error(`no line matches ${pattern}`);
  return index + 1;
}

/** The entries the TypeScript source defines, with lines read from it. */
function expectedEntries(moduleName: string): Partial<Entry>[] {
  const at = (pattern: RegExp) => ({ module_name: moduleName, filename: moduleName, lineno: lineOf(tsText, pattern) });
  return [
    { name: 'Store', obj_type: 'class', ...at(/^export class Store\b/) },
    { name: 'cache', obj_type: 'Map', ...at(/^const cache\b/) },
    { name: 'sessions', obj_type: 'Map', ...at(/^export const sessions\b/) },
    { name: 'remember', obj_type: 'function', ...at(/^export function remember\(/) },
  ];
}

function named(entries: Entry[]): Map<string, Entry> {
  return new Map(entries.map((e) => [e.name, e]));
}

function expectTypeScriptEntries(entries: Entry[], moduleName = 'src/store.ts'): void {
  const byName = named(entries);
  for (const expected of expectedEntries(moduleName))
    expect(byName.get(expected.name!), expected.name).toMatchObject(expected);
  // STRINGS strings of LENGTH characters in each of the two Maps and the static array.
  for (const name of ['Store', 'cache', 'sessions']) {
    expect(byName.get(name)!.dominated_size, name).toBeGreaterThanOrEqual(STRINGS * LENGTH);
  }
}

async function compile(root: string, args: string[], outDir = 'dist'): Promise<void> {
  mkdirSync(join(root, 'src'), { recursive: true });
  copyFileSync(join(fixture, 'src/store.ts'), join(root, 'src/store.ts'));
  // Run in the app's folder so that tsc does not pick up the repository's tsconfig.json.
  await run(tsc, [...args, '--target', 'es2022', '--outDir', outDir, '--rootDir', 'src', 'src/store.ts'], {
    cwd: root,
    timeout: 60_000,
  });
}

function options(root: string, patterns?: string[]): EntryOptions {
  const matcher = createModuleMatcher({ root, patterns });
  return { traced: matcher.traced, filename: matcher.filename, source: readScriptSource };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-ts-'));
  tsText = readFileSync(join(fixture, 'src/store.ts'), 'utf8');
  cjsRoot = join(dir, 'cjs');
  esmRoot = join(dir, 'esm');
  tsxRoot = join(dir, 'tsx');
  mkdirSync(esmRoot, { recursive: true });
  writeFileSync(join(esmRoot, 'package.json'), '{"type":"module"}\n');
  await Promise.all([
    compile(cjsRoot, ['--module', 'commonjs', '--sourceMap']),
    compile(esmRoot, ['--module', 'esnext', '--inlineSourceMap', '--inlineSources']),
    compile(tsxRoot, ['--module', 'esnext', '--inlineSourceMap', '--inlineSources'], '.build'),
  ]);
  rmSync(join(esmRoot, 'src'), { recursive: true });
  snapshotFile = join(dir, 'ts.heapsnapshot');
  await run(
    process.execPath,
    [
      join(fixture, 'write-snapshot.mjs'),
      snapshotFile,
      String(STRINGS),
      String(LENGTH),
      `require:${join(cjsRoot, 'dist/store.js')}`,
      `import:${join(esmRoot, 'dist/store.js')}`,
    ],
    { timeout: 30_000 },
  );
  snapshot = loadSnapshotFile(snapshotFile);
  retained = computeDominators(snapshot).retained;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('entries of a TypeScript app with source maps (offline)', () => {
  it('tsc --sourceMap, CommonJS: entries name src/store.ts and its lines', () => {
    const entries = findEntries(snapshot, retained, options(cjsRoot));
    expect(new Set(entries.map((e) => e.module_name))).toEqual(new Set(['src/store.ts']));
    expectTypeScriptEntries(entries);
  });

  it('tsc --inlineSourceMap, ES module: the same, from the inline map', () => {
    const entries = findEntries(snapshot, retained, options(esmRoot));
    expect(new Set(entries.map((e) => e.module_name))).toEqual(new Set(['src/store.ts']));
    expectTypeScriptEntries(entries);
  });

  it('--trace-module src/store.ts traces the compiled script; a pattern on the script itself still works', () => {
    for (const root of [cjsRoot, esmRoot]) {
      expectTypeScriptEntries(findEntries(snapshot, retained, options(root, ['src/store.ts'])));
      expectTypeScriptEntries(findEntries(snapshot, retained, options(root, ['src/**/*.ts'])));
      expectTypeScriptEntries(findEntries(snapshot, retained, options(root, ['dist/store.js'])));
      expect(findEntries(snapshot, retained, options(root, ['src/other.ts']))).toEqual([]);
    }
  });

  it('without a source map, entries stay those of the loaded script', () => {
    const jsPath = join(cjsRoot, 'dist/store.js');
    const js = readFileSync(jsPath, 'utf8');
    const withoutMap = js.replace(/\/\/# sourceMappingURL=.*\n?$/, '');
    expect(withoutMap).not.toBe(js);
    const matcher = createModuleMatcher({ root: cjsRoot });
    const entries = findEntries(snapshot, retained, {
      ...matcher,
      source: (url) => (url === jsPath || url === pathToFileURL(jsPath).href ? withoutMap : readScriptSource(url)),
    });
    const byName = named(entries);
    expect(byName.get('Store')).toMatchObject({
      module_name: 'dist/store.js',
      filename: 'dist/store.js',
      lineno: lineOf(js, /^class Store\b/),
    });
    expect(byName.get('sessions')).toMatchObject({
      filename: 'dist/store.js',
      lineno: lineOf(js, /^exports\.sessions = new Map/),
    });
    expect(byName.get('cache')).toMatchObject({ filename: 'dist/store.js', lineno: lineOf(js, /^const cache\b/) });
    expect(byName.get('remember')).toMatchObject({
      filename: 'dist/store.js',
      lineno: lineOf(js, /^function remember\(/),
    });
  });

  it('gives the code browser the .ts text: from disk (map file) and from sourcesContent (inline)', () => {
    for (const root of [cjsRoot, esmRoot]) {
      const url = pathToFileURL(join(root, 'dist/store.js')).href;
      const original = originalSource(url, readScriptSource(url)!, root);
      expect(original).toMatchObject({ path: 'src/store.ts', text: tsText });
    }
  });

  it('apptrace-profiler analyze --root DIR --trace-module src/store.ts maps entries (compiled CLI)', async () => {
    const { stdout } = await run(
      process.execPath,
      [cli, 'analyze', snapshotFile, '--root', cjsRoot, '--trace-module', 'src/store.ts', '--json'],
      {
        timeout: 60_000,
      },
    );
    const entries = (JSON.parse(stdout) as { entries: Entry[] }).entries;
    expectTypeScriptEntries(entries);
    const text = await run(process.execPath, [cli, 'analyze', snapshotFile, '--root', esmRoot], { timeout: 60_000 });
    expect(text.stdout).toContain(`(src/store.ts:${lineOf(tsText, /^const cache\b/)}, module src/store.ts)`);
  });
});

describe('entries of a TypeScript app over a real inspector (node --enable-source-maps)', () => {
  let target: Awaited<ReturnType<typeof startInspectableTarget>> | undefined;

  afterAll(() => {
    target?.stop();
  });

  it("maps entries with the inspector's script URLs and sources, like offline; the code browser gets the .ts", async () => {
    target = await startInspectableTarget(
      [
        join(fixture, 'write-snapshot.mjs'),
        '-',
        String(STRINGS),
        String(LENGTH),
        `require:${join(cjsRoot, 'dist/store.js')}`,
        `import:${join(esmRoot, 'dist/store.js')}`,
        `tsx:${join(tsxRoot, 'src/store.ts')}`,
      ],
      ['--enable-source-maps'],
    );
    const port = target.port;
    const scriptUrls = new Map<number, string>();
    const sources = new Map<string, string>();
    const roots = [cjsRoot, esmRoot, tsxRoot];
    const matchers = roots.map((root) => createModuleMatcher({ root, patterns: ['src/store.ts'] }));
    let live: HeapSnapshot;
    const client = await CDP({ host: '127.0.0.1', port });
    try {
      const fetches: Promise<void>[] = [];
      // As the live profiler does: sources of traced scripts only.
      client.Debugger.scriptParsed(({ scriptId, url }) => {
        scriptUrls.set(Number(scriptId), url);
        if (matchers.every((m) => m.traced(url) === undefined)) return;
        fetches.push(
          client.Debugger.getScriptSource({ scriptId }).then(({ scriptSource }) => void sources.set(url, scriptSource)),
        );
      });
      await client.Debugger.enable({});
      await Promise.all(fetches);
      const loader = new SnapshotLoader();
      client.HeapProfiler.addHeapSnapshotChunk(({ chunk }) => loader.write(chunk));
      await client.HeapProfiler.takeHeapSnapshot({ reportProgress: false });
      live = loader.end();
    } finally {
      await client.close();
    }
    const loadedUrls = [
      join(cjsRoot, 'dist/store.js'),
      join(esmRoot, 'dist/store.js'),
      join(tsxRoot, 'src/store.ts'),
    ].map((p) => pathToFileURL(p).href);
    expect([...sources.keys()].sort()).toEqual([...loadedUrls].sort());
    // Under tsx the script named src/store.ts is JavaScript: entries must not use its lines.
    expect(sources.get(loadedUrls[2]!)).not.toBe(tsText);
    const liveRetained = computeDominators(live).retained;
    for (const [index, root] of roots.entries()) {
      const matcher = matchers[index]!;
      const entries = findEntries(live, liveRetained, { ...matcher, scriptUrls, source: (url) => sources.get(url) });
      expectTypeScriptEntries(entries);
      // Offline, the disk has the scripts as loaded, except tsx's (its .ts file is TypeScript).
      if (root !== tsxRoot) expect(entries).toEqual(findEntries(live, liveRetained, options(root, ['src/store.ts'])));
      // What the code browser shows for the module name of the entries: the .ts text.
      const scripts = [...scriptUrls.values()].map((url) => ({ url, moduleName: matcher.traced(url) }));
      const shown = await moduleSourceOf('src/store.ts', scripts, (url) => sources.get(url), root);
      expect(shown).toMatchObject({ url: pathToFileURL(join(root, 'src/store.ts')).href, source: tsText });
      expect(shown?.generated?.moduleName).toBe(root === tsxRoot ? 'src/store.ts' : 'dist/store.js');
    }
  });
});
