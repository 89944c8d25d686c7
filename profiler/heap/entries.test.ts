/**
 * Module entries from real Node snapshots: a child process loads a CommonJS and an ES
 * fixture (each with a module-scope Map, a class with a static array, top-level
 * functions, exported objects and a captured variable that is not exported), fills
 * them, and writes a snapshot with `v8.writeHeapSnapshot`. Expected lines are read from
 * the fixture text, not copied from the output.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../contract/record.js';
import { findEntries } from './entries.js';
import type { EntryOptions } from './entries.js';
import { computeDominators } from './dominators.js';
import { layoutFromMeta } from './layout.js';
import { loadSnapshotFile } from './loader.js';
import { createModuleMatcher, readScriptSource } from './module-match.js';
import type { HeapSnapshot } from './snapshot.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const STRINGS = 1000;
const LENGTH = 100;

let dir: string;
let snapshot: HeapSnapshot;
let retained: Float64Array;
const texts = new Map<string, string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apptrace-entries-'));
  const file = join(dir, 'entries.heapsnapshot');
  await promisify(execFile)(
    process.execPath,
    [join(fixtures, 'write-entries-snapshot.mjs'), file, String(STRINGS), String(LENGTH)],
    { timeout: 30_000 },
  );
  snapshot = loadSnapshotFile(file);
  retained = computeDominators(snapshot).retained;
  for (const name of [
    'entries-store.cjs',
    'entries-store.mjs',
    'entries-no-context.cjs',
    'entries-reexport.mjs',
    'entries-tslike.cjs',
    'entries-class-export.cjs',
    'entries-nested.cjs',
  ]) {
    texts.set(name, await readFile(join(fixtures, name), 'utf8'));
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** 1-based line of the first line of a fixture that matches `pattern`. */
function lineOf(module: string, pattern: RegExp): number {
  const lines = texts.get(module)!.split('\n');
  const index = lines.findIndex((line) => pattern.test(line));
  if (index < 0) throw new Error(`no line of ${module} matches ${pattern}`);
  return index + 1;
}

function offlineOptions(): EntryOptions {
  return createModuleMatcher({ root: fixtures });
}

function byModule(entries: Entry[], module: string): Map<string, Entry> {
  return new Map(entries.filter((e) => e.module_name === module).map((e) => [e.name, e]));
}

/** Node type name of the node with V8 id `id`. */
function nodeTypeOfId(id: number): string {
  const { nodes, layout } = snapshot;
  for (let node = 0; node < nodes.length; node += layout.nodeFieldCount) {
    if (nodes[node + layout.nodeIdOffset] === id) return layout.nodeTypes[nodes[node + layout.nodeTypeOffset]!]!;
  }
  return 'missing';
}

/**
 * What `Debugger.scriptParsed` would have told a live profiler: script id → URL, with
 * paths turned into file URLs as Node's inspector does. Read off the heap: each
 * closure's location row gives the id, closure → shared → script → name the name.
 */
function scriptUrlsFromHeap(): Map<number, string> {
  const { nodes, edges, strings, layout, locations } = snapshot;
  const first = new Uint32Array(snapshot.nodeCount + 1);
  for (let ordinal = 0, edge = 0; ordinal < snapshot.nodeCount; ordinal++) {
    first[ordinal] = edge;
    edge += nodes[ordinal * layout.nodeFieldCount + layout.nodeEdgeCountOffset]! * layout.edgeFieldCount;
    first[ordinal + 1] = edge;
  }
  const follow = (node: number, names: string[]): number => {
    const ordinal = node / layout.nodeFieldCount;
    for (let edge = first[ordinal]!; edge < first[ordinal + 1]!; edge += layout.edgeFieldCount) {
      const type = edges[edge + layout.edgeTypeOffset]!;
      if (type === layout.edgeType.element || type === layout.edgeType.hidden) continue;
      if (names.includes(strings[edges[edge + layout.edgeNameOffset]!]!)) return edges[edge + layout.edgeToNodeOffset]!;
    }
    return -1;
  };
  const urls = new Map<number, string>();
  const width = layout.locationFieldCount;
  for (let row = 0; row < locations.length; row += width) {
    const node = locations[row]!;
    if (nodes[node + layout.nodeTypeOffset] !== layout.nodeType.closure || urls.has(locations[row + 1]!)) continue;
    const shared = follow(node, ['shared']);
    const script = shared < 0 ? -1 : follow(shared, ['script_or_debug_info', 'script']);
    const nameNode = script < 0 ? -1 : follow(script, ['name']);
    if (nameNode < 0) continue;
    const name = strings[nodes[nameNode + layout.nodeNameOffset]!]!;
    urls.set(locations[row + 1]!, name.startsWith('/') ? pathToFileURL(name).href : name);
  }
  return urls;
}

describe('entries for a CommonJS and an ESM module', () => {
  it('lists the CommonJS module: Map, class, functions, exported and captured objects', () => {
    const m = 'entries-store.cjs';
    const entries = byModule(findEntries(snapshot, retained, offlineOptions()), m);
    expect([...entries.keys()].sort()).toEqual([
      'Registry',
      'bump',
      'events',
      'hidden',
      'remember',
      'sessions',
      'settings',
    ]);
    const expected: [string, string, RegExp][] = [
      ['sessions', 'Map', /^const sessions = new Map\(\)/],
      ['Registry', 'class', /^class Registry \{/],
      ['remember', 'function', /^function remember\(/],
      ['bump', 'function', /^function bump\(/],
      ['hidden', 'Object', /^const hidden = /],
      ['events', 'EventEmitter', /^const events = new EventEmitter\(\)/],
      ['settings', 'Object', /^\s+settings: \{/],
    ];
    for (const [name, objType, line] of expected) {
      expect(entries.get(name), name).toMatchObject({
        obj_type: objType,
        filename: m,
        module_name: m,
        lineno: lineOf(m, line),
      });
    }
    expect(nodeTypeOfId(entries.get('remember')!.id!)).toBe('closure');
    expect(nodeTypeOfId(entries.get('sessions')!.id!)).toBe('object');
  });

  it('lists the ES module: context variables and exported bindings from the export cells', () => {
    const m = 'entries-store.mjs';
    const entries = byModule(findEntries(snapshot, retained, offlineOptions()), m);
    // `counter` holds a small integer (not a heap object) and `EventEmitter` is an import.
    expect([...entries.keys()].sort()).toEqual([
      'Registry',
      'bump',
      'default',
      'events',
      'hidden',
      'remember',
      'sessions',
      'settings',
    ]);
    const expected: [string, string, RegExp][] = [
      ['sessions', 'Map', /^const sessions = new Map\(\)/],
      ['Registry', 'class', /^export class Registry \{/],
      ['remember', 'function', /^export function remember\(/],
      ['bump', 'function', /^export function bump\(/],
      ['default', 'function', /^export default function/],
      ['hidden', 'Object', /^const hidden = /],
      ['events', 'EventEmitter', /^const events = new EventEmitter\(\)/],
      ['settings', 'Object', /^export const settings = /],
    ];
    for (const [name, objType, line] of expected) {
      expect(entries.get(name), name).toMatchObject({
        obj_type: objType,
        filename: m,
        module_name: m,
        lineno: lineOf(m, line),
      });
    }
  });

  it('does not take a function call context for the module context', () => {
    const m = 'entries-no-context.cjs';
    const entries = byModule(findEntries(snapshot, retained, offlineOptions()), m);
    expect([...entries.keys()].sort()).toEqual(['makeCounter', 'tick']);
    expect(entries.get('makeCounter')).toMatchObject({
      obj_type: 'function',
      lineno: lineOf(m, /^function makeCounter\(/),
    });
    // `tick` is the arrow function makeCounter returned: defined inside it.
    expect(entries.get('tick')).toMatchObject({ obj_type: 'function', lineno: lineOf(m, /return \(\) =>/) });
  });

  it('keeps re-exported bindings with the module that defines them', () => {
    const entries = byModule(findEntries(snapshot, retained, offlineOptions()), 'entries-reexport.mjs');
    expect([...entries.keys()]).toEqual(['own']);
    expect(entries.get('own')).toMatchObject({
      obj_type: 'Array',
      lineno: lineOf('entries-reexport.mjs', /^export const own/),
    });
  });

  it('does not list imports, nor the import wrappers TypeScript emits', () => {
    const m = 'entries-tslike.cjs';
    // Over 1 KB: the heap keeps only the start of its source, so read it from disk.
    const entries = byModule(findEntries(snapshot, retained, { ...offlineOptions(), source: readScriptSource }), m);
    // `__createBinding` is a helper function of this module that `__importStar` captures.
    expect([...entries.keys()].sort()).toEqual(['__createBinding', 'bus', 'handler']);
    expect(entries.get('bus')).toMatchObject({ obj_type: 'EventEmitter', lineno: lineOf(m, /^const bus = /) });
    expect(entries.get('handler')).toMatchObject({ obj_type: 'function', lineno: lineOf(m, /^function handler\(/) });
  });

  it('finds a module context that only calls made in it still reach', () => {
    const m = 'entries-nested.cjs';
    const entries = byModule(findEntries(snapshot, retained, offlineOptions()), m);
    expect([...entries.keys()].sort()).toEqual(['cache', 'handlers']);
    expect(entries.get('cache')).toMatchObject({ obj_type: 'Map', lineno: lineOf(m, /^const cache = /) });
  });

  it('lists a module.exports that is not a plain object as one entry', () => {
    const m = 'entries-class-export.cjs';
    const entries = byModule(findEntries(snapshot, retained, offlineOptions()), m);
    expect([...entries.keys()]).toEqual(['module.exports']);
    expect(entries.get('module.exports')).toMatchObject({ obj_type: 'class', lineno: lineOf(m, /^class Store \{/) });
  });

  it('without readable sources still finds the same bindings, types and function lines', () => {
    const withSource = findEntries(snapshot, retained, offlineOptions());
    const without = findEntries(snapshot, retained, { ...offlineOptions(), source: () => 'this is not JavaScript' });
    const strip = (e: Entry) => [e.module_name, e.name, e.obj_type, e.id];
    expect(without.map(strip).sort()).toEqual(withSource.map(strip).sort());
    for (const entry of without) {
      const same = withSource.find((e) => e.module_name === entry.module_name && e.name === entry.name)!;
      if (entry.obj_type === 'function' || entry.obj_type === 'class')
        expect(entry.lineno, entry.name).toBe(same.lineno);
    }
  });

  it('gives the same entries with a script-id → URL map (live) as from the heap alone (offline)', () => {
    // The fixtures are read from disk in both modes (the heap keeps only 1 KB of a source).
    const offline = findEntries(snapshot, retained, { ...offlineOptions(), source: readScriptSource });
    const scriptUrls = scriptUrlsFromHeap();
    const seen = new Set<string>();
    const matcher = createModuleMatcher({ root: fixtures });
    const live = findEntries(snapshot, retained, {
      ...matcher,
      traced: (url) => {
        seen.add(url);
        return matcher.traced(url);
      },
      scriptUrls,
      source: readScriptSource,
    });
    expect(live).toEqual(offline);
    // The CommonJS script went by its inspector URL, not by the heap's path.
    expect(seen.has(pathToFileURL(join(fixtures, 'entries-store.cjs')).href)).toBe(true);
    expect(offline.length).toBeGreaterThan(10);
  });

  it('gives each entry its retained size: a Map of N strings retains at least their bytes', () => {
    const entries = findEntries(snapshot, retained, offlineOptions());
    for (const m of ['entries-store.cjs', 'entries-store.mjs']) {
      const byName = byModule(entries, m);
      // Each Map holds STRINGS distinct one-byte strings of LENGTH characters; the
      // Registry's static array STRINGS / 4 more (objects holding such strings).
      expect(byName.get('sessions')!.dominated_size, m).toBeGreaterThanOrEqual(STRINGS * LENGTH);
      expect(byName.get('Registry')!.dominated_size, m).toBeGreaterThanOrEqual((STRINGS / 4) * LENGTH);
      // The small objects stay small: they hold none of those strings.
      expect(byName.get('hidden')!.dominated_size, m).toBeLessThan(LENGTH * 10);
      expect(byName.get('settings')!.dominated_size, m).toBeLessThan(LENGTH * 10);
    }
    for (const entry of entries) {
      expect(entry.dominated_size, entry.name).toBeGreaterThan(0);
    }
  });

  it('reads the node layout from meta: the same entries with 5 node fields instead of 7', () => {
    const { layout, nodes, edges, locations, meta } = snapshot;
    const keep = ['type', 'name', 'id', 'self_size', 'edge_count'];
    const from = keep.map((f) => meta.node_fields.indexOf(f));
    const narrow = new Uint32Array(snapshot.nodeCount * keep.length);
    for (let ordinal = 0; ordinal < snapshot.nodeCount; ordinal++) {
      for (let f = 0; f < keep.length; f++)
        narrow[ordinal * keep.length + f] = nodes[ordinal * layout.nodeFieldCount + from[f]!]!;
    }
    // Node offsets in edges and locations scale with the node width.
    const rescale = (offset: number) => (offset / layout.nodeFieldCount) * keep.length;
    const narrowEdges = edges.slice();
    for (let e = layout.edgeToNodeOffset; e < narrowEdges.length; e += layout.edgeFieldCount)
      narrowEdges[e] = rescale(narrowEdges[e]!);
    const narrowLocations = locations.slice();
    for (let row = 0; row < narrowLocations.length; row += layout.locationFieldCount)
      narrowLocations[row] = rescale(narrowLocations[row]!);
    const narrowMeta = { ...meta, node_fields: keep, node_types: from.map((f) => meta.node_types[f]!) };
    const narrowSnapshot: HeapSnapshot = {
      ...snapshot,
      meta: narrowMeta,
      layout: layoutFromMeta(narrowMeta),
      nodes: narrow,
      edges: narrowEdges,
      locations: narrowLocations,
    };
    expect(findEntries(narrowSnapshot, retained, offlineOptions())).toEqual(
      findEntries(snapshot, retained, offlineOptions()),
    );
  });

  it('traces only the modules the patterns name', () => {
    const entries = findEntries(snapshot, retained, createModuleMatcher({ root: fixtures, patterns: ['*.mjs'] }));
    expect(new Set(entries.map((e) => e.module_name))).toEqual(new Set(['entries-store.mjs', 'entries-reexport.mjs']));
    const one = findEntries(
      snapshot,
      retained,
      createModuleMatcher({ root: fixtures, patterns: ['entries-store.cjs'] }),
    );
    expect(new Set(one.map((e) => e.module_name))).toEqual(new Set(['entries-store.cjs']));
    const none = findEntries(snapshot, retained, createModuleMatcher({ root: join(fixtures, 'nowhere') }));
    expect(none).toEqual([]);
  });
});
