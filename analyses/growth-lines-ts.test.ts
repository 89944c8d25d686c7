/**
 * Lines that make a TypeScript entry grow: the `.ts` original does not parse as
 * JavaScript, so the lines are found in the script tsc built from it and mapped back
 * through its source map. The fixture (profiler/heap/fixtures/ts-app/src/store.ts) is compiled by
 * the installed tsc (CommonJS, `--sourceMap`); expected lines are read from the `.ts`.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findGrowthLines, sourceGrowthLines } from './growth-lines.js';
import type { ShownSource } from './growth-lines.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '../profiler/heap/fixtures/ts-app');
const tsc = join(here, '../node_modules/.bin/tsc');

let dir: string;
let tsText: string;
let jsText: string;
let sources: Map<string, ShownSource>;

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`no line has ${needle}`);
  return index + 1;
}

describe('lines that make a TypeScript entry grow', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-growth-ts-'));
    mkdirSync(join(dir, 'src'));
    copyFileSync(join(fixture, 'src/store.ts'), join(dir, 'src/store.ts'));
    // In the app's folder, so that tsc does not pick up the repository's tsconfig.json.
    await promisify(execFile)(
      tsc,
      [
        '--sourceMap',
        '--module',
        'commonjs',
        '--target',
        'es2022',
        '--outDir',
        'dist',
        '--rootDir',
        'src',
        'src/store.ts',
      ],
      {
        cwd: dir,
        timeout: 60_000,
      },
    );
    tsText = readFileSync(join(dir, 'src/store.ts'), 'utf8');
    jsText = readFileSync(join(dir, 'dist/store.js'), 'utf8');
    // What the profiler's moduleSource gives: the .ts original for its name, the script for the script's.
    sources = new Map([
      [
        'src/store.ts',
        { url: pathToFileURL(join(dir, 'src/store.ts')).href, source: tsText, generatedFrom: 'dist/store.js' },
      ],
      ['dist/store.js', { url: pathToFileURL(join(dir, 'dist/store.js')).href, source: jsText }],
    ]);
  }, 90_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const read = async (m: string) => sources.get(m);

  it('finds the line in the built script and marks the .ts line', async () => {
    // The TypeScript itself is not JavaScript; the lines differ between the two texts.
    expect(findGrowthLines(tsText, { name: 'Store', properties: ['items'], emitter: false })).toEqual([]);
    expect(lineOf(jsText, 'Store.items.push(')).not.toBe(lineOf(tsText, 'Store.items.push('));
    expect(
      await sourceGrowthLines('src/store.ts', { name: 'Store', properties: ['items'], emitter: false }, read),
    ).toEqual([{ line: lineOf(tsText, 'Store.items.push('), reason: 'adds to Store.items (push)', kind: 'reference' }]);
    expect(
      (await sourceGrowthLines('src/store.ts', { name: 'cache', properties: [], emitter: false }, read)).map(
        (m) => m.line,
      ),
    ).toEqual([lineOf(tsText, 'cache.set(')]);
  });

  it('marks nothing when the built script cannot be read', async () => {
    const onlyTs = async (m: string) => (m === 'src/store.ts' ? sources.get(m) : undefined);
    expect(await sourceGrowthLines('src/store.ts', { name: 'cache', properties: [], emitter: false }, onlyTs)).toEqual(
      [],
    );
  });
});
