/**
 * The growth path walk: on hand-built graphs (expected paths follow from the graph's
 * sizes) and on a `v8.writeHeapSnapshot` of objects this test allocates.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeFile } from './analyze.js';
import type { AnalysisResult } from './analyze.js';
import { computeDominators } from './dominators.js';
import { growthPath } from './growth-path.js';
import { SnapshotLoader } from './loader.js';
import { GraphBuilder } from '../../test/graph-builder.js';

function load(g: GraphBuilder) {
  const loader = new SnapshotLoader();
  loader.write(g.toJSON());
  const snapshot = loader.end();
  return { snapshot, dominators: computeDominators(snapshot) };
}

describe('growthPath on hand-built graphs', () => {
  // root → global → MainPage (class) → history (Array of ITEMS objects) and a small prototype;
  // global → requestLog (Map) → table with string keys, object values (one Smi value: key only).
  const ITEMS = 4;
  const g = new GraphBuilder();
  const root = g.node('synthetic', '', 0);
  const global = g.node('object', 'global', 10);
  g.edge(root, 'shortcut', 'global', global);
  const page = g.node('closure', 'MainPage', 100);
  g.edge(global, 'property', 'MainPage', page);
  const proto = g.node('object', 'Object', 30);
  g.edge(page, 'property', 'prototype', proto);
  const history = g.node('object', 'Array', 32);
  g.edge(page, 'property', 'history', history);
  const store = g.node('array', '(object elements)', 16);
  g.edge(history, 'internal', 'elements', store);
  for (let i = 0; i < ITEMS; i++) {
    const item = g.node('object', 'Object', 200);
    g.edge(history, 'element', i, item);
    g.edge(store, 'internal', String(i), item);
  }
  g.edge(history, 'property', '__proto__', proto);

  const map = g.node('object', 'Map', 40);
  g.edge(global, 'property', 'requestLog', map);
  const table = g.node('array', '', 64);
  g.edge(map, 'internal', 'table', table);
  const rows: [string, boolean][] = [
    ['k0', true],
    ['k1', true],
    ['k2', false], // a Smi value: only the key is an edge
    ['k3', true],
  ];
  let slot = 7;
  for (const [key, hasValue] of rows) {
    g.edge(table, 'internal', String(slot), g.node('string', key, 24));
    if (hasValue) g.edge(table, 'internal', String(slot + 1), g.node('object', 'Object', 300));
    slot += 3;
  }
  const twins = g.node('object', 'Twins', 8);
  g.edge(global, 'property', 'twins', twins);
  g.edge(twins, 'property', 'a', g.node('object', 'Object', 100));
  g.edge(twins, 'property', 'b', g.node('object', 'Object', 100));

  const shaped = g.node('object', 'Shaped', 8);
  g.edge(global, 'property', 'shaped', shaped);
  g.edge(shaped, 'internal', 'map', g.node('object shape', 'system / Map', 500));
  g.edge(shaped, 'internal', 'code', g.node('code', 'system / Code', 500));

  const { snapshot, dominators } = load(g);

  it('goes from a class to its static array, which holds every element; no item holds half', () => {
    const path = growthPath(snapshot, dominators, page);
    expect(path.map((s) => [s.edge, s.type, s.name])).toEqual([
      ['', 'closure', 'MainPage'],
      ['history', 'object', 'Array'],
    ]);
    expect(path[0]!.id).toBe(g.idOf(page));
    expect(path[1]!.id).toBe(g.idOf(history));
    expect(path[1]!.length).toBe(ITEMS);
    // The array's store is an internal array owned by it alone: counted in its self size.
    expect(path[1]!.self_size).toBe(32 + 16);
    expect(path[1]!.retained_size).toBe(32 + 16 + ITEMS * 200);
    expect(path[0]!.retained_size).toBe(100 + 30 + 32 + 16 + ITEMS * 200);
  });

  it('goes from a Map to its table and counts its entries by rows, not by edges', () => {
    const path = growthPath(snapshot, dominators, map);
    expect(path.map((s) => [s.edge, s.name])).toEqual([
      ['', 'Map'],
      ['(table)', '(Map table)'],
    ]);
    expect(path[0]!.length).toBe(rows.length);
  });

  it('stops where no child holds half, and at the depth asked', () => {
    expect(growthPath(snapshot, dominators, twins).map((s) => s.name)).toEqual(['Twins']);
    // Hidden classes and code are V8's: never a step, however large.
    expect(growthPath(snapshot, dominators, shaped).map((s) => s.name)).toEqual(['Shaped']);
    expect(growthPath(snapshot, dominators, page, { maxDepth: 0 })).toHaveLength(1);
    // requestLog holds 1100 of the global's 3304 bytes (a third); a value holds 300 of the table's 996.
    expect(growthPath(snapshot, dominators, global, { share: 0.33 }).map((s) => s.edge)).toEqual([
      '',
      'requestLog',
      '(table)',
    ]);
  });

  it('has no fixed depth: it reaches a collection twelve steps below the entry (express-session: server → … → store → sessions)', () => {
    const deep = new GraphBuilder();
    const top = deep.node('synthetic', '', 0);
    let holder = deep.node('object', 'Server', 20);
    deep.edge(top, 'shortcut', 'server', holder);
    const server = holder;
    for (let depth = 1; depth < 12; depth++) {
      const next = deep.node('object', `Level${depth}`, 20);
      deep.edge(holder, 'property', `level${depth}`, next);
      holder = next;
    }
    const sessions = deep.node('object', 'Object', 40);
    deep.edge(holder, 'property', 'sessions', sessions);
    for (let i = 0; i < 5; i++) deep.edge(sessions, 'property', `sid${i}`, deep.node('string', `session ${i}`, 200));
    const built = load(deep);
    const path = growthPath(built.snapshot, built.dominators, server);
    expect(path).toHaveLength(13);
    expect(path.at(-1)).toMatchObject({ edge: 'sessions', name: 'Object', length: 5 });
  });

  it('names a Map value by its key', () => {
    const path = growthPath(snapshot, dominators, map, { share: 0.25 });
    expect(path.map((s) => s.edge)).toEqual(['', '(table)', 'get("k0")']);
  });
});

// Objects this test allocates, reachable from a unique global name.
const PUSHES = 7;
const SETS = 5;
const LISTENERS = 3;
// biome-ignore lint/complexity/noStaticOnlyClass: the heap shape under test is a class that holds state in static fields.
class ApptraceGrowthPage {
  static history: { url: string; body: string }[] = [];
}

describe('growthPath on a live snapshot', () => {
  let dir: string;
  let result: AnalysisResult;
  beforeAll(async () => {
    const requestLog = new Map<string, { n: number; text: string }>();
    const bus = new EventEmitter();
    bus.setMaxListeners(0);
    for (let i = 0; i < PUSHES; i++)
      ApptraceGrowthPage.history.push({ url: `/p${i}`, body: `${i}`.padStart(500, 'x') });
    for (let i = 0; i < SETS; i++) requestLog.set(`key${i}`, { n: i, text: `${i}`.padStart(400, 'y') });
    for (let i = 0; i < LISTENERS; i++) bus.on('request', () => `${i}`.padStart(300, 'z'));
    (globalThis as Record<string, unknown>).apptraceGrowthTest = { ApptraceGrowthPage, requestLog, bus };
    dir = mkdtempSync(join(tmpdir(), 'apptrace-growth-'));
    const file = writeHeapSnapshot(join(dir, 'live.heapsnapshot'));
    result = await analyzeFile(file);
  });
  afterAll(() => {
    delete (globalThis as Record<string, unknown>).apptraceGrowthTest;
    rmSync(dir, { recursive: true, force: true });
  });

  /** The ordinal of property `name` of the test's global holder. */
  function held(name: string): number {
    const { nodes, edges, strings, layout, nodeCount } = result.snapshot;
    const { firstEdge } = result.dominators;
    const nfc = layout.nodeFieldCount;
    const child = (o: number, property: string): number => {
      for (let e = firstEdge[o]!; e < firstEdge[o + 1]!; e += layout.edgeFieldCount) {
        if (
          edges[e + layout.edgeTypeOffset] === layout.edgeType.property &&
          strings[edges[e + layout.edgeNameOffset]!] === property
        ) {
          return edges[e + layout.edgeToNodeOffset]! / nfc;
        }
      }
      return -1;
    };
    for (let o = 0; o < nodeCount; o++) {
      if (nodes[o * nfc + layout.nodeTypeOffset] !== layout.nodeType.object) continue;
      const holder = child(o, 'apptraceGrowthTest');
      if (holder >= 0) return child(holder, name);
    }
    throw new Error('the test objects are not in the snapshot');
  }

  it('a static array: the class, then `history`, an Array with one element per push', () => {
    const path = growthPath(result.snapshot, result.dominators, held('ApptraceGrowthPage'));
    expect(path[0]).toMatchObject({ type: 'closure', name: 'ApptraceGrowthPage' });
    expect(path[1]).toMatchObject({ edge: 'history', name: 'Array', length: PUSHES });
    expect(path).toHaveLength(2);
  });

  it('a Map: its entries counted from its table', () => {
    const path = growthPath(result.snapshot, result.dominators, held('requestLog'));
    expect(path[0]).toMatchObject({ name: 'Map', length: SETS });
    expect(path[1]).toMatchObject({ edge: '(table)', name: '(Map table)' });
  });

  it('an EventEmitter: `_events`, then the array of listeners of the event', () => {
    const path = growthPath(result.snapshot, result.dominators, held('bus'));
    expect(path.map((s) => s.edge)).toEqual(['', '_events', 'request']);
    expect(path[0]!.name).toBe('EventEmitter');
    expect(path[2]).toMatchObject({ name: 'Array', length: LISTENERS });
  });
});
