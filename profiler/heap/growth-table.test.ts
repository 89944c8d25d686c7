/**
 * Heap-wide growth on hand-built graphs: the per-snapshot tables, growers found by id
 * across three snapshots and collapsed along the dominator tree, the shortest retaining
 * path, and the id index of `--node`. Expected values follow from how each graph is built.
 */
import { describe, expect, it } from 'vitest';
import { computeDominators } from './dominators.js';
import { findNodeById } from './graph.js';
import { findGrowers, growthTable, GrowthTracker, rowOf } from './growth-table.js';
import { shortestRetainingPaths } from './grower-owner.js';
import { SnapshotLoader } from './loader.js';
import { nodeIdIndex } from './node-index.js';
import { GraphBuilder } from '../../test/graph-builder.js';

function load(g: GraphBuilder) {
  const loader = new SnapshotLoader();
  loader.write(g.toJSON());
  const snapshot = loader.end();
  return { snapshot, dominators: computeDominators(snapshot) };
}

/**
 * root → global → Store (a class instance, never grows in length) → `sessions` (one
 * property per request, each a 600-byte string) and `lists` (an object whose `current`
 * array gets one element per request while `lists` keeps its one property); a closure
 * whose code grows (bytes only, as V8's compiled code does). Ids are fixed so that the
 * same object has the same id in every snapshot, as within one inspector session.
 */
function heapAfter(requests: number): GraphBuilder {
  const g = new GraphBuilder();
  const root = g.node('synthetic', '', 0, 1);
  const global = g.node('object', 'global', 10, 3);
  g.edge(root, 'shortcut', 'global', global);
  const store = g.node('object', 'Store', 40, 5);
  g.edge(global, 'property', 'store', store);
  const sessions = g.node('object', 'Object', 50, 7);
  g.edge(store, 'property', 'sessions', sessions);
  const lists = g.node('object', 'Object', 20, 9);
  g.edge(store, 'property', 'lists', lists);
  const current = g.node('object', 'Array', 32, 11);
  g.edge(lists, 'property', 'current', current);
  const fn = g.node('closure', 'handler', 64, 13);
  g.edge(global, 'property', 'handler', fn);
  const code = g.node('code', '(code)', 1000 + 300 * requests, 15);
  g.edge(fn, 'internal', 'code', code);
  for (let i = 0; i < requests; i++) {
    const value = g.node('string', `session ${i}`, 600, 1001 + 4 * i);
    g.edge(sessions, 'property', `sid${i}`, value);
    const item = g.node('object', 'Item', 200, 1003 + 4 * i);
    g.edge(current, 'element', i, item);
  }
  return g;
}

function tableAfter(requests: number) {
  const { snapshot, dominators } = load(heapAfter(requests));
  return { snapshot, dominators, table: growthTable(snapshot, dominators, requests, 100) };
}

describe('growth tables', () => {
  it('lists the objects above the floor by id, with retained size and length', () => {
    const { table } = tableAfter(3);
    expect([...table.ids]).toEqual([...table.ids].sort((a, b) => a - b));
    const sessions = rowOf(table, 7);
    expect(table.lengths[sessions]).toBe(3);
    expect(table.retained[sessions]).toBe(50 + 3 * 600);
    expect(table.lengths[rowOf(table, 11)]).toBe(3);
    // Store: two properties whatever the requests; the strings are not objects.
    expect(table.lengths[rowOf(table, 5)]).toBe(2);
    expect(rowOf(table, 1001)).toBe(-1);
    // Below the floor (a 20-byte object with an empty array under it) it is left out.
    expect(rowOf(tableAfter(0).table, 9)).toBe(-1);
  });
});

describe('findGrowers', () => {
  const tables = [tableAfter(2), tableAfter(4), tableAfter(6)];
  const latest = tables[2]!;
  const grow = (options: Parameters<typeof findGrowers>[4] = {}) =>
    findGrowers(
      latest.table,
      [tables[0]!.table, tables[1]!.table],
      latest.dominators.dominator,
      latest.dominators.rootOrdinal,
      options,
    );

  it('finds the innermost collections that grow in length, not their owners nor code that gains bytes', () => {
    const ids = grow().map((c) => c.id);
    // sessions (+2 properties per step) and current (+2 elements); not Store, lists,
    // global (only their retained sizes grow) nor the handler (its code grows).
    expect(ids.sort((a, b) => a - b)).toEqual([7, 11]);
  });

  it('reports growth since the oldest table compared, the most bytes first', () => {
    const [first, second] = grow();
    expect(first).toMatchObject({ id: 7, bytes: 4 * 600, elements: 4, requests: 4 });
    expect(second).toMatchObject({ id: 11, bytes: 4 * 200, elements: 4, requests: 4 });
  });

  it('leaves out ids the entries cover, and keeps tracked ones that stopped growing', () => {
    expect(grow({ skip: new Set([7]) }).map((c) => c.id)).toEqual([11]);
    const flat = findGrowers(
      latest.table,
      [latest.table, latest.table],
      latest.dominators.dominator,
      latest.dominators.rootOrdinal,
      {
        tracked: new Set([7]),
      },
    );
    expect(flat).toEqual([{ ordinal: rowOrdinal(7), id: 7, bytes: 0, elements: 0, requests: 0 }]);
  });

  it('an outer collection that grows holds an inner one that grows: they collapse into the inner one', () => {
    // `lists` also gets one property per request (a small object each): it grows in
    // length and dominates `current`, which grows too.
    const withOuter = (requests: number) => {
      const g = heapAfter(requests);
      const lists = g.nodes.findIndex((n) => n.id === 9);
      for (let i = 0; i < requests; i++)
        g.edge(lists, 'property', `extra${i}`, g.node('object', 'Extra', 40, 5001 + 2 * i));
      const { snapshot, dominators } = load(g);
      return { dominators, table: growthTable(snapshot, dominators, requests, 100) };
    };
    const [a, b, c] = [withOuter(2), withOuter(4), withOuter(6)];
    const ids = findGrowers(c!.table, [a!.table, b!.table], c!.dominators.dominator, c!.dominators.rootOrdinal).map(
      (g) => g.id,
    );
    expect(ids.sort((x, y) => x - y)).toEqual([7, 11]);
  });

  function rowOrdinal(id: number): number {
    return findNodeById(latest.snapshot, id);
  }
});

describe('GrowthTracker', () => {
  it('keeps the last three tables of a session, replaces one without requests, starts over for a new session', () => {
    const tracker = new GrowthTracker();
    const table = (requests: number) => ({ ...tableAfter(requests).table, requests });
    expect(tracker.begin('a').previous).toEqual([]);
    tracker.remember(table(0), []);
    tracker.remember(table(2), []);
    tracker.remember(table(2), []); // no request since: replaces the previous one
    tracker.remember(table(4), [7]);
    tracker.remember(table(6), []);
    const seen = tracker.begin('a');
    expect(seen.previous.map((t) => t.requests)).toEqual([2, 4, 6]);
    expect(seen.requestsBefore).toBe(6);
    expect([...seen.tracked]).toEqual([7]);
    const fresh = tracker.begin('b');
    expect(fresh.previous).toEqual([]);
    expect(fresh.tracked.size).toBe(0);
  });
});

describe('shortestRetainingPaths', () => {
  it('takes the fewest counted edges from the root, not a weak one', () => {
    const g = new GraphBuilder();
    const root = g.node('synthetic', '', 0);
    const a = g.node('object', 'A', 10);
    const b = g.node('object', 'B', 10);
    const c = g.node('object', 'C', 10);
    const target = g.node('object', 'Target', 10);
    g.edge(root, 'shortcut', 'a', a);
    g.edge(root, 'weak', 'w', target);
    g.edge(a, 'property', 'b', b);
    g.edge(b, 'property', 'c', c);
    g.edge(c, 'property', 'long', target);
    g.edge(a, 'property', 'short', target);
    const { snapshot, dominators } = load(g);
    const paths = shortestRetainingPaths(snapshot, dominators, [target]);
    expect(paths.get(target)!.map((step) => step.ordinal)).toEqual([root, a, target]);
  });
});

describe('shortestRetainingPaths from the user roots first', () => {
  it('prefers a path from a global object to a shorter one through a synthetic root, as DevTools does', () => {
    const g = new GraphBuilder();
    const root = g.node('synthetic', '', 0);
    const handles = g.node('synthetic', '(Handles)', 0);
    const global = g.node('object', 'global', 10);
    const a = g.node('object', 'A', 10);
    const target = g.node('object', 'Target', 10);
    const other = g.node('object', 'OnlyFromHandles', 10);
    g.edge(root, 'element', 1, handles);
    g.edge(root, 'shortcut', 'global', global);
    g.edge(handles, 'element', 1, target);
    g.edge(handles, 'element', 2, other);
    g.edge(global, 'property', 'a', a);
    g.edge(a, 'property', 'target', target);
    const { snapshot, dominators } = load(g);
    const paths = shortestRetainingPaths(snapshot, dominators, [target, other]);
    expect(paths.get(target)!.map((step) => step.ordinal)).toEqual([root, global, a, target]);
    expect(paths.get(other)!.map((step) => step.ordinal)).toEqual([root, handles, other]);
  });
});

describe('nodeIdIndex', () => {
  it('finds every node by id as a scan does, whether the ids are in order or not', () => {
    for (const order of ['sorted', 'shuffled'] as const) {
      const g = new GraphBuilder();
      const root = g.node('synthetic', '', 0, 1);
      const ids = Array.from({ length: 50 }, (_, i) => 3 + 2 * i);
      if (order === 'shuffled') ids.reverse();
      for (const id of ids) g.edge(root, 'element', id, g.node('object', 'O', 1, id));
      const { snapshot } = load(g);
      const lookup = nodeIdIndex(snapshot);
      for (const id of [1, ...ids]) expect(lookup(id)).toBe(findNodeById(snapshot, id));
      for (const missing of [0, 2, 4, 1000]) expect(lookup(missing)).toBe(-1);
    }
  });
});
