/**
 * A class with an explicit constructor is an entry at its `class` line, not at its
 * constructor's: V8 locates such a class at the constructor's `(`. Real snapshot from a
 * child process that loads an ES and a CommonJS fixture; expected lines are read from
 * the fixture texts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../contract/record.js';
import { moduleDeclarations } from './declarations.js';
import { computeDominators } from './dominators.js';
import { findEntries } from './entries.js';
import { loadSnapshotFile } from './loader.js';
import { createModuleMatcher } from './module-match.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const MODULES = ['class-constructors.cjs', 'class-constructors.mjs'];

let dir: string;
let entries: Entry[];
const texts = new Map<string, string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-class-lines-'));
  const file = join(dir, 'classes.heapsnapshot');
  await promisify(execFile)(process.execPath, [join(fixtures, 'write-class-constructors-snapshot.mjs'), file], {
    timeout: 30_000,
  });
  const snapshot = loadSnapshotFile(file);
  const { retained } = computeDominators(snapshot);
  entries = findEntries(snapshot, retained, createModuleMatcher({ root: fixtures, patterns: MODULES }));
  for (const name of MODULES) texts.set(name, await readFile(join(fixtures, name), 'utf8'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** 1-based line of the first line of a fixture that matches `pattern`. */
function lineOf(module: string, pattern: RegExp): number {
  const index = texts
    .get(module)!
    .split('\n')
    .findIndex((line) => pattern.test(line));
  if (index < 0) throw new Error(`no line of ${module} matches ${pattern}`);
  return index + 1;
}

describe.each(MODULES)('classes of %s', (module) => {
  const entry = (name: string) => entries.find((e) => e.module_name === module && e.name === name);

  it('places a class declaration with a constructor at its class line', () => {
    const session = entry('Session');
    expect(session).toMatchObject({
      obj_type: 'class',
      filename: module,
      lineno: lineOf(module, /^(export )?class Session\b/),
    });
    // The constructor is several lines further down: that is where V8 says the class is.
    expect(lineOf(module, /^ {2}constructor\(id\)/) - session!.lineno).toBeGreaterThanOrEqual(5);
  });

  it('places `const X = class` with a constructor at its class line', () => {
    expect(entry('Pool')).toMatchObject({
      obj_type: 'class',
      filename: module,
      lineno: lineOf(module, /^(export )?const Pool = class\b/),
    });
  });

  it('still places a class without a constructor at its class line', () => {
    expect(entry('Plain')).toMatchObject({ obj_type: 'class', lineno: lineOf(module, /^(export )?class Plain\b/) });
  });
});

describe('classOfConstructor', () => {
  const source = [
    'class A {', //                         1
    '  static x = 1;', //                   2
    '  constructor(a) {', //                3
    '    this.f = () => class B { constructor() {} };', // 4
    '  }', //                               5
    '}', //                                 6
    'const C = class {', //                 7
    '  constructor() {}', //                8
    '};', //                                9
  ].join('\n');
  const declarations = moduleDeclarations(source, 'commonjs')!;

  it("answers the class line for the constructor's `(` or keyword, 0-based in, 1-based out", () => {
    expect(declarations.classOfConstructor(2, 13)).toEqual({ line: 1, column: 0 });
    expect(declarations.classOfConstructor(2, 2)).toEqual({ line: 1, column: 0 });
    expect(declarations.classOfConstructor(7, 13)).toEqual({ line: 7, column: 10 });
    const inner = source.split('\n')[3]!;
    expect(declarations.classOfConstructor(3, inner.indexOf('constructor()') + 'constructor'.length)).toEqual({
      line: 4,
      column: inner.indexOf('class B'),
    });
  });

  it('answers nothing for a function inside a constructor or any other place', () => {
    const arrow = source.split('\n')[3]!.indexOf('()');
    expect(declarations.classOfConstructor(3, arrow)).toBeUndefined();
    expect(declarations.classOfConstructor(0, 0)).toBeUndefined();
  });
});
