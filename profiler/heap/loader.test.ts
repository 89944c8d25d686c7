/**
 * The streaming loader: what it loads equals JSON.parse of the same text, however the
 * text is cut into chunks (bytes or strings, inside numbers, strings, escapes and
 * surrogate pairs), and bad input is a BAD_SNAPSHOT error that says what is wrong.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../contract/errors.js';
import { StreamingAnalysis } from './analyze.js';
import { SnapshotLoader, loadSnapshotFile } from './loader.js';
import type { HeapSnapshot } from './snapshot.js';
import { GraphBuilder } from '../../test/graph-builder.js';

let dir: string;
let livePath: string;
let liveBytes: Buffer;

class LoaderTestHolder {
  readonly text = 'quote " backslash \\ tab \t newline \n é 中 😀 \u0001';
  readonly list = Array.from({ length: 100 }, (_, i) => `loader-test-${i}`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-loader-'));
  const holder = new LoaderTestHolder();
  (globalThis as Record<string, unknown>).__loaderTestHolder = holder;
  livePath = writeHeapSnapshot(join(dir, 'live.heapsnapshot'));
  delete (globalThis as Record<string, unknown>).__loaderTestHolder;
  liveBytes = readFileSync(livePath);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Parsed {
  nodes: number[];
  edges: number[];
  strings: string[];
  locations: number[];
}

function expectSameAsJson(snapshot: HeapSnapshot, json: Parsed): void {
  expect(snapshot.nodes.length).toBe(json.nodes.length);
  expect(snapshot.edges.length).toBe(json.edges.length);
  // Compare element-wise without building huge diffs.
  let nodesEqual = true;
  for (let i = 0; i < json.nodes.length; i++) if (snapshot.nodes[i] !== json.nodes[i]) nodesEqual = false;
  let edgesEqual = true;
  for (let i = 0; i < json.edges.length; i++) if (snapshot.edges[i] !== json.edges[i]) edgesEqual = false;
  expect(nodesEqual).toBe(true);
  expect(edgesEqual).toBe(true);
  expect(snapshot.strings).toEqual(json.strings);
  expect(Array.from(snapshot.locations)).toEqual(json.locations);
}

function loadBytes(bytes: Buffer, chunk: number): HeapSnapshot {
  const loader = new SnapshotLoader();
  for (let i = 0; i < bytes.length; i += chunk) loader.write(bytes.subarray(i, i + chunk));
  return loader.end();
}

function loadText(text: string, cuts: number[]): HeapSnapshot {
  const loader = new SnapshotLoader();
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    loader.write(text.slice(from, cut));
    from = cut;
  }
  return loader.end();
}

function badSnapshotMessage(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    if (isAppError(error, 'BAD_SNAPSHOT')) return error.message;
    throw error;
  }
  throw new Error('expected a BAD_SNAPSHOT error');
}

/** A small snapshot whose string table holds escapes and astral characters. */
function trickySnapshot(rawUnicode: boolean): string {
  const g = new GraphBuilder();
  const root = g.node('synthetic', '', 0);
  const global = g.node('object', 'global', 10);
  const s = g.node('string', 'emoji 😀 and 中文 and \\ and " and \n and \u2028', 40);
  g.edge(root, 'shortcut', 'global', global);
  g.edge(global, 'property', 'smile 😀', s);
  return g.toJSON({ rawUnicode, extraStrings: ['\ud83d\ude00\ud83d\ude01', 'tail \\u0041 é', '\u0000\u001f'] });
}

describe('SnapshotLoader', () => {
  it('loads a live snapshot exactly as JSON.parse reads it', () => {
    const json = JSON.parse(liveBytes.toString('utf8')) as Parsed & { snapshot: { node_count: number } };
    const snapshot = loadSnapshotFile(livePath);
    expect(snapshot.nodeCount).toBe(json.snapshot.node_count);
    expect(snapshot.layout.nodeFieldCount).toBe(snapshot.meta.node_fields.length);
    expectSameAsJson(snapshot, json);
    // V8 writes escapes for the quote, backslash, controls and non-ASCII text (and
    // mangles astral characters, hence only the start of the text).
    expect(snapshot.strings.some((s) => s.startsWith('quote " backslash \\ tab \t newline \n é 中 '))).toBe(true);
    expect(snapshot.warnings).toEqual([]);
  });

  it('gives identical results for chunks of 7 bytes, 64 KB and the whole file', () => {
    const results = [7, 64 * 1024, liveBytes.length].map((chunk) => {
      const analysis = new StreamingAnalysis();
      for (let i = 0; i < liveBytes.length; i += chunk) analysis.write(liveBytes.subarray(i, i + chunk));
      return analysis.finish();
    });
    const [first, ...rest] = results;
    const bytes = (a: Uint32Array | Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const r of rest) {
      expect(bytes(r.snapshot.nodes).equals(bytes(first!.snapshot.nodes))).toBe(true);
      expect(bytes(r.snapshot.edges).equals(bytes(first!.snapshot.edges))).toBe(true);
      expect(r.snapshot.strings).toEqual(first!.snapshot.strings);
      expect(bytes(r.retained).equals(bytes(first!.retained))).toBe(true);
      expect(r.root_retained_size).toBe(first!.root_retained_size);
    }
  });

  it('gives identical results for 1-byte chunks of a small snapshot', () => {
    const bytes = Buffer.from(trickySnapshot(true), 'utf8');
    const whole = loadBytes(bytes, bytes.length);
    const single = loadBytes(bytes, 1);
    const json = JSON.parse(bytes.toString('utf8')) as Parsed;
    expectSameAsJson(whole, json);
    expectSameAsJson(single, json);
  });

  it('reads string chunks cut anywhere: inside escapes and surrogate pairs', () => {
    for (const raw of [false, true]) {
      const text = trickySnapshot(raw);
      const json = JSON.parse(text) as Parsed;
      // Every place to cut once, then chunks of 1, 2 and 3 characters.
      for (let cut = 1; cut < text.length; cut++) expectSameAsJson(loadText(text, [cut]), json);
      for (const size of [1, 2, 3]) {
        const cuts: number[] = [];
        for (let i = size; i < text.length; i += size) cuts.push(i);
        expectSameAsJson(loadText(text, cuts), json);
      }
    }
    // The cuts above include the middle of "\ud83d\ude00" (raw) and of "\\u0041".
    expect(trickySnapshot(true)).toContain('😀');
  });

  it('loads a live snapshot sent as CDP-like string chunks', () => {
    const text = liveBytes.toString('utf8');
    const loader = new SnapshotLoader();
    for (let i = 0; i < text.length; i += 100_000 - 7) loader.write(text.slice(i, i + 100_000 - 7));
    expectSameAsJson(loader.end(), JSON.parse(text) as Parsed);
  });

  it('reports bad input with what is wrong', () => {
    const good = trickySnapshot(false);
    const load = (text: string) => () => loadText(text, []);
    expect(badSnapshotMessage(() => new SnapshotLoader().end())).toMatch(/empty/);
    expect(badSnapshotMessage(load('[1,2,3]'))).toMatch(/not a V8 heap snapshot/);
    expect(badSnapshotMessage(load('{"a": 1, "b": [1, 2]}'))).toMatch(/no "snapshot" header/);
    expect(badSnapshotMessage(load('hello'))).toMatch(/not a V8 heap snapshot/);
    for (const at of [
      10,
      good.indexOf('"nodes"') + 12,
      good.indexOf('"edges"') + 12,
      good.indexOf('"strings"') + 14,
      good.length - 1,
    ]) {
      expect(badSnapshotMessage(load(good.slice(0, at)))).toMatch(/truncated|no complete "snapshot" header/);
    }
    expect(badSnapshotMessage(load(good.replace('"detachedness"', '"colour"')))).toMatch(/unknown node field "colour"/);
    expect(badSnapshotMessage(load(good.replace('"to_node"', '"target"')))).toMatch(/unknown edge field "target"/);
    expect(badSnapshotMessage(load(good.replace('"node_count":3', '"node_count":4')))).toMatch(
      /"nodes" has 21 values but the header promises 28/,
    );
    expect(badSnapshotMessage(load(good.replace('"nodes":[9', '"nodes":[x')))).toMatch(
      /unexpected character "x" in "nodes"/,
    );
  });

  it('turns odd data into warnings with counts', () => {
    const g = new GraphBuilder();
    const root = g.node('synthetic', '', 0);
    const global = g.node('object', 'global', 10);
    const a = g.node('object', 'A', 5);
    g.edge(root, 'shortcut', 'global', global);
    g.edge(global, 'property', 'a', a);
    g.edge(global, 'property', 'nowhere', a);
    g.edge(a, 'property', 'nowhere2', a);
    // Point the last two edges past the end of the nodes array.
    const text = g.toJSON().replace(/"edges":\[([^\]]*)\]/, (_, body: string) => {
      const rows = body.split('\n,');
      rows[2] = rows[2]!.replace(/,\d+$/, ',700');
      rows[3] = rows[3]!.replace(/,\d+$/, ',15');
      return `"edges":[${rows.join('\n,')}]`;
    });
    const analysis = new StreamingAnalysis();
    analysis.write(text);
    const result = analysis.finish();
    expect(result.warnings).toContain('2 edges point to no node; they are ignored.');
    expect(result.root_retained_size).toBe(15);
    expect(result.retained[a]).toBe(5);
  });

  it('reads a file in any chunk size and reports progress', () => {
    const path = join(dir, 'small.heapsnapshot');
    writeFileSync(path, trickySnapshot(false));
    const seen: number[] = [];
    const snapshot = loadSnapshotFile(path, { chunkSize: 16, onProgress: (bytes) => seen.push(bytes) });
    expect(snapshot.nodeCount).toBe(3);
    expect(seen[seen.length - 1]).toBe(readFileSync(path).length);
    expect(badSnapshotMessage(() => loadSnapshotFile(join(dir, 'missing.heapsnapshot')))).toMatch(/no such file/);
  });
});
