/**
 * Growers' names and owners on a real snapshot: a child process builds two collections
 * in a CommonJS app of its own and writes `v8.writeHeapSnapshot`; `largestCollections`
 * (what `analyze --heap-wide` prints) must name each after its holder and place it at
 * the app line that owns it. Expected lines are read from the app's text, not from output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from './analyze.js';
import { largestCollections } from './heap-growers.js';
import { createModuleMatcher, readScriptSource } from './module-match.js';
import type { HeapGrower } from '../../contract/record.js';

const APP = `const v8 = require('node:v8');

class Cart {
  constructor(owner) {
    this.owner = owner;
    this.items = [];
  }
}

const cart = new Cart('someone');
for (let i = 0; i < 700; i++) cart.items.push({ sku: 'sku-' + i });

const seen = new Map();
function remember(key) {
  seen.set(key, { key, at: 0 });
}
for (let i = 0; i < 600; i++) remember('key-' + i);

process.on('apptrace-test', () => cart);
process.on('apptrace-test', remember);
v8.writeHeapSnapshot(process.argv[2]);
`;

function lineOf(text: string): number {
  return APP.split('\n').findIndex((line) => line.includes(text)) + 1;
}

describe('growers named after their holders and placed at their owners in the app', () => {
  let dir: string;
  let collections: HeapGrower[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'apptrace-owner-'));
    writeFileSync(join(dir, 'app.js'), APP);
    const file = join(dir, 'app.heapsnapshot');
    execFileSync(process.execPath, ['app.js', file], { cwd: dir });
    const modules = createModuleMatcher({ root: dir });
    const owner = { traced: modules.traced, filename: modules.filename, source: readScriptSource };
    const result = await analyzeFile(file, { entries: owner });
    collections = largestCollections(result, owner, 40).growers;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function find(name: string): HeapGrower {
    const found = collections.find((c) => c.name === name);
    if (!found) throw new Error(`no ${name} among ${collections.map((c) => c.name).join(', ')}`);
    return found;
  }

  it('an array in an instance of an app class: Cart.items, at the line that creates the field', () => {
    const items = find('Cart.items');
    expect(items).toMatchObject({
      obj_type: 'Array',
      length: 700,
      filename: 'app.js',
      lineno: lineOf('this.items = []'),
    });
    expect(items.owner).toEqual({ kind: 'instance', name: 'Cart.items' });
    expect(items.retainers.at(-1)).toMatchObject({ edge: 'items', name: 'Array' });
    expect(items.retainers.at(-2)).toMatchObject({ name: 'Cart' });
  });

  it('a Map in a module-scope variable an app function captures: seen, at its declaration', () => {
    const map = find('seen');
    expect(map).toMatchObject({
      obj_type: 'Map',
      length: 600,
      filename: 'app.js',
      lineno: lineOf('const seen = new Map()'),
    });
    expect(map.owner).toEqual({ kind: 'variable', name: 'seen' });
    expect(map.retainers.at(-1)).toMatchObject({ edge: '(context) seen', name: 'Map' });
    expect(map.retainers.at(-2)).toMatchObject({ edge: '(closure context)', name: '(closure context)' });
  });
});
