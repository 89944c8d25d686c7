import { describe, expect, it } from 'vitest';
import { isClassAt, moduleDeclarations } from './declarations.js';

/** 1-based line of the first line containing `marker`. */
function lineOf(source: string, marker: string): number {
  const index = source.split('\n').findIndex((line) => line.includes(marker));
  if (index < 0) throw new Error(`marker ${marker} not found`);
  return index + 1;
}

const esm = `import { readFile as read } from 'node:fs/promises';
import * as path from 'node:path';

const cache = new Map();
let a = 1,
  { b, c: [d, ...rest] = [] } = {};
var e = 2;
function helper() {}
class Store {}
export const settings = {};
export function handler() {}
export class Registry {}
const local = [];
export { local as renamed, e };
export { thing } from './other.mjs';
export * as everything from './other.mjs';
export default class Main {}
`;

const esmDefaultExpression = `const x = 1;
export default {
  x,
};
`;

const cjs = `'use strict';
const { EventEmitter } = require('node:events');
const sessions = new Map();
if (process.env.X) {
  var hoisted = [];
}
for (var i = 0; i < 1; i++) {}
try {
  var inTry = {};
} catch {}
{
  let blockScoped = 1;
}
function remember() { return function inner() {}; }
class Registry {}
exports.direct = 1;
module.exports.viaModule = 2;
module.exports = {
  sessions,
  remember,
  settings: { mode: 'cjs' },
  'quoted': 3,
};
`;

describe('moduleDeclarations (ES modules)', () => {
  const d = moduleDeclarations(esm, 'module')!;

  it('finds the line of each top-level binding, destructuring included', () => {
    expect(d.localLine('cache')).toBe(lineOf(esm, 'const cache'));
    expect(d.localLine('a')).toBe(lineOf(esm, 'let a'));
    expect(d.localLine('b')).toBe(lineOf(esm, '{ b, c'));
    expect(d.localLine('d')).toBe(lineOf(esm, '{ b, c'));
    expect(d.localLine('rest')).toBe(lineOf(esm, '{ b, c'));
    expect(d.localLine('e')).toBe(lineOf(esm, 'var e'));
    expect(d.localLine('helper')).toBe(lineOf(esm, 'function helper'));
    expect(d.localLine('Store')).toBe(lineOf(esm, 'class Store'));
    expect(d.localLine('read')).toBe(lineOf(esm, 'readFile as read'));
    expect(d.localLine('path')).toBe(lineOf(esm, 'import * as path'));
    expect(d.localLine('c')).toBeUndefined();
    expect(d.locals.has('Main')).toBe(true);
  });

  it('maps export names to the lines of their local bindings', () => {
    expect(d.localExport('settings')).toEqual({ line: lineOf(esm, 'export const settings') });
    expect(d.localExport('handler')).toEqual({ line: lineOf(esm, 'export function handler') });
    expect(d.localExport('Registry')).toEqual({ line: lineOf(esm, 'export class Registry') });
    expect(d.localExport('renamed')).toEqual({ line: lineOf(esm, 'const local') });
    expect(d.localExport('e')).toEqual({ line: lineOf(esm, 'var e') });
    expect(d.localExport('default')).toEqual({ line: lineOf(esm, 'export default class Main') });
    expect(d.localExport('local')).toBeUndefined();
  });

  it('knows re-exports are not this module’s bindings', () => {
    expect(d.localExport('thing')).toBeUndefined();
    expect(d.isReexport('thing')).toBe(true);
    expect(d.isReexport('everything')).toBe(true);
    expect(d.isReexport('settings')).toBe(false);
  });

  it('points an `export default <expression>` at its statement', () => {
    const x = moduleDeclarations(esmDefaultExpression, 'module')!;
    expect(x.localExport('default')).toEqual({ line: lineOf(esmDefaultExpression, 'export default') });
  });

  it('tells a class keyword at a 0-based position', () => {
    const line = lineOf(esm, 'class Store') - 1;
    expect(isClassAt(esm, line, 0)).toBe(true);
    expect(isClassAt(esm, lineOf(esm, 'function helper') - 1, 0)).toBe(false);
    expect(isClassAt(esm, 10_000, 0)).toBe(false);
  });
});

describe('moduleDeclarations (CommonJS)', () => {
  const d = moduleDeclarations(cjs, 'commonjs')!;

  it('finds top-level bindings, hoisted vars and the wrapper’s parameters', () => {
    expect(d.localLine('EventEmitter')).toBe(lineOf(cjs, 'const { EventEmitter }'));
    expect(d.localLine('sessions')).toBe(lineOf(cjs, 'const sessions'));
    expect(d.localLine('hoisted')).toBe(lineOf(cjs, 'var hoisted'));
    expect(d.localLine('i')).toBe(lineOf(cjs, 'for (var i'));
    expect(d.localLine('inTry')).toBe(lineOf(cjs, 'var inTry'));
    expect(d.localLine('blockScoped')).toBeUndefined();
    expect(d.localLine('inner')).toBeUndefined();
    expect(d.locals.has('require')).toBe(true);
    expect(d.locals.has('__dirname')).toBe(true);
    expect(d.locals.has('blockScoped')).toBe(false);
  });

  it('finds where each module.exports property is defined', () => {
    expect(d.commonjsExportLine('direct')).toBe(lineOf(cjs, 'exports.direct'));
    expect(d.commonjsExportLine('viaModule')).toBe(lineOf(cjs, 'module.exports.viaModule'));
    // A shorthand property points at the variable's declaration, others at the property.
    expect(d.commonjsExportLine('sessions')).toBe(lineOf(cjs, 'const sessions'));
    expect(d.commonjsExportLine('settings')).toBe(lineOf(cjs, "settings: { mode: 'cjs' }"));
    expect(d.commonjsExportLine('quoted')).toBe(lineOf(cjs, "'quoted'"));
    expect(d.commonjsExportLine('unknown')).toBe(lineOf(cjs, 'module.exports = {'));
  });

  it('reads a chained `module.exports = exports = {…}`', () => {
    const source = 'const x = [];\nmodule.exports = exports = {\n  x,\n  y: 1,\n};\n';
    const c = moduleDeclarations(source, 'commonjs')!;
    expect(c.commonjsExportLine('x')).toBe(1);
    expect(c.commonjsExportLine('y')).toBe(4);
  });

  it('binds a block-level function at module level in sloppy scripts only (Annex B)', () => {
    const sloppy = 'if (true) {\n  function late() {}\n}\n';
    expect(moduleDeclarations(sloppy, 'commonjs')?.localLine('late')).toBe(2);
    expect(moduleDeclarations(`'use strict';\n${sloppy}`, 'commonjs')?.localLine('late')).toBeUndefined();
    expect(moduleDeclarations(sloppy, 'module')?.localLine('late')).toBeUndefined();
  });

  it('accepts a top-level return and a hashbang, and gives up on what is not JavaScript', () => {
    expect(moduleDeclarations('#!/usr/bin/env node\nconst a = 1;\nif (a) return;\n', 'commonjs')?.localLine('a')).toBe(
      2,
    );
    expect(moduleDeclarations('const a: number = 1;\ninterface X {}\n', 'commonjs')).toBeUndefined();
  });
});
