/**
 * Reading a file's `edges` on a second thread (edges-section.ts) gives exactly what the
 * one-thread loader gives, on a live snapshot and on damaged ones; when the worker
 * cannot deliver, the file is read the ordinary way with the ordinary messages. Runs
 * the compiled code in dist/ (the worker is a file there; `npm test` builds first).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as AnalyzeModule from './analyze.js';
import { GraphBuilder } from '../../test/graph-builder.js';

const { analyzeFile } = (await import(
  new URL('../../dist/profiler/heap/analyze.js', import.meta.url).href
)) as typeof AnalyzeModule;

let dir: string;
let live: string;
let text: string;

/** The snapshot's text with the `edges` values replaced by `edit(values)`. */
function withEdges(name: string, edit: (values: string) => string): string {
  const key = '"edges":[';
  const start = text.indexOf(key) + key.length;
  const end = text.indexOf(']', start);
  const path = join(dir, name);
  writeFileSync(path, text.slice(0, start) + edit(text.slice(start, end)) + text.slice(end));
  return path;
}

async function both(path: string): Promise<[AnalyzeModule.AnalysisResult, AnalyzeModule.AnalysisResult]> {
  return [await analyzeFile(path, { parallel: true }), await analyzeFile(path, { parallel: false })];
}

function expectSame(a: AnalyzeModule.AnalysisResult, b: AnalyzeModule.AnalysisResult): void {
  expect(
    Buffer.compare(
      Buffer.from(a.snapshot.edges.buffer, a.snapshot.edges.byteOffset, a.snapshot.edges.byteLength),
      Buffer.from(b.snapshot.edges.buffer, b.snapshot.edges.byteOffset, b.snapshot.edges.byteLength),
    ),
  ).toBe(0);
  expect(Array.from(a.retained)).toEqual(Array.from(b.retained));
  expect(Array.from(a.dominator)).toEqual(Array.from(b.dominator));
  expect(Array.from(a.dominators.selfSize)).toEqual(Array.from(b.dominators.selfSize));
  expect(a.warnings).toEqual(b.warnings);
  expect(a.root_retained_size).toBe(b.root_retained_size);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-edges-section-'));
  // Something of our own in the heap, so that the snapshot is not only Node's.
  const kept = new Map<number, { text: string; next?: object }>();
  for (let i = 0; i < 5000; i++) kept.set(i, { text: `entry ${i} `.repeat(8) });
  (globalThis as { edgesSectionTestData?: unknown }).edgesSectionTestData = kept;
  live = writeHeapSnapshot(join(dir, 'live.heapsnapshot'));
  delete (globalThis as { edgesSectionTestData?: unknown }).edgesSectionTestData;
  text = readFileSync(live, 'utf8');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edges read on a second thread', () => {
  it('give the same arrays, dominators and sizes as one thread, on a live snapshot', async () => {
    const [parallel, sequential] = await both(live);
    expect(parallel.edgesOnWorker).toBe(true);
    expect(sequential.edgesOnWorker).toBe(false);
    expect(parallel.edge_count).toBeGreaterThan(10000);
    expectSame(parallel, sequential);
  });

  it('give the same entries, found while the worker computes the page objects and shallow sizes', async () => {
    const here = new URL('.', import.meta.url).pathname;
    const entries = {
      traced: (url: string) => (url.includes(here) ? url.slice(url.indexOf(here) + here.length) : undefined),
    };
    const parallel = await analyzeFile(live, { parallel: true, entries });
    const sequential = await analyzeFile(live, { parallel: false, entries });
    expect(parallel.edgesOnWorker).toBe(true);
    expect(parallel.entries.length).toBeGreaterThan(0);
    expect(parallel.entries).toEqual(sequential.entries);
  });

  it('are used when the section after them is not the one V8 writes there (no jump past them)', async () => {
    const path = join(dir, 'no-trace-infos.heapsnapshot');
    const without = text.replace(/"trace_function_infos":\[[^\]]*\],?\s*/, '');
    expect(without.length).toBeLessThan(text.length);
    writeFileSync(path, without);
    const [parallel, sequential] = await both(path);
    expect(parallel.edgesOnWorker).toBe(true);
    expectSame(parallel, sequential);
  });

  it('give the same sizes on a hand-built heap, with and without DOM trees (the main thread then counts the edges)', async () => {
    for (const withDomTrees of [false, true]) {
      const g = new GraphBuilder();
      const root = g.node('synthetic', '', 0);
      const global = g.node('object', 'global', 10);
      g.edge(root, 'shortcut', 'global', global);
      const gcRoots = g.node('synthetic', '(GC roots)', 0);
      g.edge(root, 'element', 1, gcRoots);
      // Outside the page: a handle's hold on a page object does not count.
      const handle = g.node('object', 'DebuggerThing', 3);
      g.edge(gcRoots, 'element', 1, handle);
      const shared = g.node('object', 'Shared', 300);
      g.edge(handle, 'property', 'x', shared);
      g.edge(global, 'property', 'shared', shared);
      // A WeakMap: the table's edge to the value does not count, the key's does.
      const map = g.node('object', 'WeakMap', 8);
      const table = g.node('array', 'system / EphemeronHashTable', 16);
      const key = g.node('object', 'Key', 24);
      const value = g.node('object', 'Value', 1000);
      const pair = (i: number) =>
        `${i} / part of key (Key @${g.idOf(key)}) -> value (Value @${g.idOf(value)}) pair in WeakMap (table @${g.idOf(table)})`;
      g.edge(global, 'property', 'map', map);
      g.edge(global, 'property', 'key', key);
      g.edge(map, 'internal', 'table', table);
      g.edge(table, 'weak', 1, key);
      g.edge(table, 'internal', pair(2), value);
      g.edge(key, 'internal', pair(1), value);
      // Owned arrays (shallow sizes), a cycle, a node only weakly reachable.
      const list = g.node('object', 'List', 20);
      const backing = g.node('array', '', 400);
      g.edge(global, 'property', 'list', list);
      g.edge(list, 'internal', 'elements', backing);
      g.edge(backing, 'element', 0, list);
      const ghost = g.node('object', 'Ghost', 50);
      g.edge(global, 'weak', 'ghost', ghost);
      if (withDomTrees) {
        const trees = g.node('synthetic', '(Document DOM trees)', 0);
        g.edge(root, 'element', 2, trees);
        const tree = g.node('native', 'Detached HTMLDivElement', 120);
        g.edge(trees, 'element', 1, tree);
        g.edge(tree, 'property', 'shared', shared);
      }
      const path = join(dir, `built-${withDomTrees}.heapsnapshot`);
      writeFileSync(path, g.toJSON());
      const [parallel, sequential] = await both(path);
      expect(parallel.edgesOnWorker).toBe(true);
      expectSame(parallel, sequential);
      // Their meaning, not only their agreement: the key retains the value.
      expect(parallel.dominator[value]).toBe(key);
    }
  });

  it('are used whatever the formatting around and inside the section', async () => {
    // JSON.stringify writes no newlines (V8 writes one per node and edge).
    const path = join(dir, 'compact.heapsnapshot');
    writeFileSync(path, JSON.stringify(JSON.parse(text)));
    const [parallel, sequential] = await both(path);
    expect(parallel.edgesOnWorker).toBe(true);
    expectSame(parallel, sequential);
  });

  it('repair edges to nowhere and unknown types as one thread does, with the same warnings', async () => {
    const path = withEdges('odd.heapsnapshot', (values) => {
      const numbers = values.split(',');
      numbers[2] = '1'; // the first edge's to_node: not a node's offset
      numbers[3] = '99'; // the second edge's type: unknown
      return numbers.join(',');
    });
    const [parallel, sequential] = await both(path);
    expect(parallel.edgesOnWorker).toBe(true);
    // (Breaking the root's first edge also leaves nodes unreachable: a third warning.)
    expect(parallel.warnings.slice(0, 2)).toEqual([
      '1 edges point to no node; they are ignored.',
      '1 edges have an unknown type; they are treated as weak.',
    ]);
    expectSame(parallel, sequential);
  });

  it('fall back to one thread, with its message, when the section holds a bad byte', async () => {
    const path = withEdges('bad-byte.heapsnapshot', (values) => values.replace(/\d/, 'x'));
    const message = await analyzeFile(path, { parallel: false }).then(
      () => 'no error',
      (error: Error) => error.message,
    );
    expect(message).toMatch(/unexpected character "x" in "edges" at byte \d+/);
    await expect(analyzeFile(path, { parallel: true })).rejects.toThrow(message);
  });

  it('fall back to one thread when the section has fewer values than the header says', async () => {
    const path = withEdges('short.heapsnapshot', (values) => values.slice(0, values.lastIndexOf(',')));
    await expect(analyzeFile(path, { parallel: true })).rejects.toThrow(
      /"edges" has \d+ values but the header promises \d+/,
    );
  });

  it('say where a file that ends inside the edges ends', async () => {
    const key = '"edges":[';
    const path = join(dir, 'truncated.heapsnapshot');
    writeFileSync(path, text.slice(0, text.indexOf(key) + key.length + 1000));
    await expect(analyzeFile(path, { parallel: true })).rejects.toThrow(/truncated: it ends inside "edges"/);
  });
});
