/**
 * The trace tree of a snapshot taken with allocation tracking on: the loader's rows on a
 * hand-written tree, then a real target (this test's own child, --inspect, a CDP session
 * of the test) whose allocations are attributed to the function that made them.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import CDP from 'chrome-remote-interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFrameResolver, findAllocationSites } from './allocation-sites.js';
import { computeDominators } from './dominators.js';
import { SnapshotLoader, TRACE_ROOT_PARENT } from './loader.js';
import type { HeapSnapshot } from './snapshot.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/allocation-target.cjs', import.meta.url));

function lineOf(re: RegExp): number {
  const i = readFileSync(FIXTURE, 'utf8')
    .split('\n')
    .findIndex((line) => re.test(line));
  if (i < 0) throw new Error(`${re} not in the fixture`);
  return i + 1;
}

const meta = {
  node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  node_types: [
    ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'],
    'string',
  ],
  edge_fields: ['type', 'name_or_index', 'to_node'],
  edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'], 'string'],
  trace_function_info_fields: ['function_id', 'name', 'script_name', 'script_id', 'line', 'column'],
  trace_node_fields: ['id', 'function_info_index', 'count', 'size', 'children'],
};

describe('trace_tree in the loader', () => {
  it('becomes rows of the node fields and the parent row, whatever the chunking', () => {
    const text =
      `{"snapshot":${JSON.stringify({ meta, node_count: 1, edge_count: 0, trace_function_count: 2 })},` +
      `"nodes":[9,0,1,0,0,0,0],"edges":[],` +
      `"trace_function_infos":[0,0,0,0,0,0,7,1,0,3,12,5],` +
      // root(1) → a(2) → c(4); root → b(3); b has an empty children array
      `"trace_tree":[1,0,5,100,[2,1,3,60,[4,1,1,8,[]],3,1,2,40,[]]],"locations":[],"strings":["","f"]}`;
    const expected = [1, 0, 5, 100, TRACE_ROOT_PARENT, 2, 1, 3, 60, 0, 4, 1, 1, 8, 1, 3, 1, 2, 40, 0];
    for (const size of [1, 7, text.length]) {
      const loader = new SnapshotLoader();
      for (let i = 0; i < text.length; i += size) loader.write(text.slice(i, i + size));
      const snapshot = loader.end();
      expect(Array.from(snapshot.traceTree!)).toEqual(expected);
      expect(Array.from(snapshot.traceFunctionInfos!)).toEqual([0, 0, 0, 0, 0, 0, 7, 1, 0, 3, 12, 5]);
    }
  });

  it('refuses a tree whose children come without their node', () => {
    const text =
      `{"snapshot":${JSON.stringify({ meta, node_count: 1, edge_count: 0 })},` +
      `"nodes":[9,0,1,0,0,0,0],"edges":[],"trace_tree":[[1,0,5,100,[]]],"strings":[""]}`;
    const loader = new SnapshotLoader();
    expect(() => loader.write(text)).toThrow(/trace_tree/);
  });
});

describe('allocation sites of a live target', () => {
  let child: ChildProcess;
  let client: CDP.Client;

  async function snapshot(): Promise<HeapSnapshot> {
    const loader = new SnapshotLoader();
    const off = client.HeapProfiler.addHeapSnapshotChunk(({ chunk }) => loader.write(chunk));
    try {
      await client.HeapProfiler.takeHeapSnapshot({ reportProgress: false });
    } finally {
      off();
    }
    return loader.end();
  }

  beforeAll(async () => {
    child = spawn(process.execPath, ['--inspect=127.0.0.1:0', FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] });
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        const m = /ws:\/\/127\.0\.0\.1:(\d+)\//.exec(err);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`target exited (${code}): ${err}`)));
    });
    client = await CDP({ host: '127.0.0.1', port, local: true });
    await client.HeapProfiler.enable();
    await client.HeapProfiler.startTrackingHeapObjects({ trackAllocations: true });
  }, 30_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    child?.kill('SIGKILL');
  });

  it("walks from a new object up its allocation stack to allocateThings, and attributes the array's growth to it", async () => {
    // The kept array's id (stable for the session), from the target itself.
    const { result: kept } = await client.Runtime.evaluate({ expression: 'globalThis.keptThings' });
    const keptId = Number(
      (await client.HeapProfiler.getHeapObjectId({ objectId: kept.objectId! })).heapSnapshotObjectId,
    );
    const entry = {
      obj_type: 'Array',
      name: 'kept',
      dominated_size: 0,
      filename: 'allocation-target.cjs',
      lineno: 3,
      module_name: 'allocation-target.cjs',
      id: keptId,
    };
    const appFrame = appFrameResolver({ root: dirname(FIXTURE), traced: () => undefined });
    const sitesOf = (heap: HeapSnapshot) => {
      const dominators = computeDominators(heap);
      const found = findAllocationSites(heap, {
        dominator: dominators.dominator,
        selfSize: dominators.selfSize,
        entries: [entry],
        appFrame,
      });
      expect(found.tracked).toBe(true);
      return found.byEntry.get(keptId) ?? [];
    };
    const allocateLine = lineOf(/^function allocateThings\(/);
    const before = sitesOf(await snapshot()).find((s) => s.function_name === 'allocateThings')?.count ?? 0;

    const count = 40;
    await client.Runtime.evaluate({ expression: `allocateThings(${count})`, returnByValue: true });
    const after = await snapshot();
    const { nodes, layout, strings, meta: m } = after;
    expect(after.traceTree!.length % m.trace_node_fields!.length).toBe(0);

    // Every new `Object` with a trace node has allocateThings on its stack, at its line.
    const rowWidth = m.trace_node_fields!.length; // fields without children, plus the parent
    const infoWidth = m.trace_function_info_fields!.length;
    const rowOf = new Map<number, number>();
    for (let r = 0; r * rowWidth < after.traceTree!.length; r++) rowOf.set(after.traceTree![r * rowWidth]!, r);
    const stackOf = (traceId: number) => {
      const names: { name: string; line: number }[] = [];
      for (let r = rowOf.get(traceId)!; r !== TRACE_ROOT_PARENT; r = after.traceTree![r * rowWidth + rowWidth - 1]!) {
        const info = after.traceTree![r * rowWidth + 1]!;
        names.push({
          name: strings[after.traceFunctionInfos![info * infoWidth + 1]!]!,
          line: after.traceFunctionInfos![info * infoWidth + 4]!,
        });
      }
      return names;
    };
    let fresh = 0;
    for (let base = 0; base < nodes.length; base += layout.nodeFieldCount) {
      const traceId = nodes[base + layout.nodeTraceNodeIdOffset]!;
      if (traceId === 0) continue;
      if (
        strings[nodes[base + layout.nodeNameOffset]!] !== 'Object' ||
        nodes[base + layout.nodeTypeOffset] !== layout.nodeType.object
      )
        continue;
      const stack = stackOf(traceId);
      if (!stack.some((f) => f.name === 'allocateThings')) continue;
      expect(stack.find((f) => f.name === 'allocateThings')!.line).toBe(allocateLine);
      expect(stack[stack.length - 1]!.name).toBe('(root)');
      fresh++;
    }
    expect(fresh).toBeGreaterThanOrEqual(count);

    const sites = sitesOf(after);
    expect(sites[0]).toMatchObject({
      function_name: 'allocateThings',
      line: allocateLine,
      module_name: 'allocation-target.cjs',
      filename: 'allocation-target.cjs',
    });
    // Per thing at least the object and its tags array (the label string and the tags'
    // elements may be counted in their owner's self size).
    expect(sites[0]!.count - before).toBeGreaterThanOrEqual(2 * count);
    expect(sites[0]!.bytes).toBeGreaterThan(0);
  }, 60_000);
});

describe('appFrameResolver', () => {
  const root = '/app';
  // dist/store.js, built from src/store.ts: generated line 3, column 9 (0-based) comes from
  // line 10, column 4 (0-based) of the original (mappings written by hand: "AAAA;;SASI").
  const map = { version: 3, sources: ['../src/store.ts'], names: [], mappings: 'AAAA;;SASI' };
  const script = `"use strict";\n\nfunction remember() {}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
  const frames = appFrameResolver({
    root,
    traced: (url) => (url === 'file:///app/dist/store.js' ? 'dist/store.js' : undefined),
    source: (url) => (url === 'file:///app/dist/store.js' ? script : undefined),
  });

  it('maps a source-mapped frame to the original source (V8 positions are 1-based)', () => {
    expect(frames('file:///app/dist/store.js', 3, 10)).toEqual({
      module_name: 'src/store.ts',
      filename: 'src/store.ts',
      line: 10,
      column: 5,
    });
  });

  it("counts the app's own files even when --trace-module names others, never node_modules nor node: internals", () => {
    expect(frames('/app/routes/users.js', 7, 3)).toEqual({
      module_name: 'routes/users.js',
      filename: 'routes/users.js',
      line: 7,
      column: 3,
    });
    expect(frames('/app/node_modules/express/lib/router.js', 7, 3)).toBeUndefined();
    expect(frames('node:internal/streams/readable', 7, 3)).toBeUndefined();
    expect(frames('/elsewhere/lib.js', 7, 3)).toBeUndefined();
  });
});
