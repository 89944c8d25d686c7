/**
 * Entries from a snapshot taken over a real inspector, the way the live profiler takes
 * it: script URLs from `Debugger.scriptParsed`, sources from `Debugger.getScriptSource`,
 * the snapshot streamed in `HeapProfiler.addHeapSnapshotChunk` chunks. The snapshot's
 * `locations` carry the same script ids as the Debugger domain, so the live names must
 * agree with the ones read from the heap alone — also with breakpoints set.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import CDP from 'chrome-remote-interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Entry } from '../../contract/record.js';
import { computeDominators } from './dominators.js';
import { findEntries } from './entries.js';
import { startInspectableTarget } from '../../test/inspectable-target.js';
import { SnapshotLoader } from './loader.js';
import { createModuleMatcher, readScriptSource } from './module-match.js';
import type { HeapSnapshot } from './snapshot.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

let target: Awaited<ReturnType<typeof startInspectableTarget>> | undefined;
let snapshot: HeapSnapshot;
let retained: Float64Array;
let firstEdge: Uint32Array;
const scriptUrls = new Map<number, string>();
const sources = new Map<string, string>();

beforeAll(async () => {
  target = await startInspectableTarget([join(fixtures, 'write-entries-snapshot.mjs'), '-', '200', '50']);
  const port = target.port;
  const client = await CDP({ host: '127.0.0.1', port });
  try {
    const matcher = createModuleMatcher({ root: fixtures });
    const fetches: Promise<void>[] = [];
    client.Debugger.scriptParsed(({ scriptId, url }) => {
      scriptUrls.set(Number(scriptId), url);
      if (matcher.traced(url) === undefined) return;
      fetches.push(
        client.Debugger.getScriptSource({ scriptId }).then(({ scriptSource }) => {
          sources.set(url, scriptSource);
        }),
      );
    });
    await client.Debugger.enable({});
    await Promise.all(fetches);
    // A developer's breakpoint puts a DebugInfo between a function and its script.
    for (const file of ['entries-store.cjs', 'entries-store.mjs']) {
      const { locations } = await client.Debugger.setBreakpointByUrl({
        url: pathToFileURL(join(fixtures, file)).href,
        lineNumber: lineOf(file, /^\s+sessions\.set\(/) - 1,
      });
      expect(locations.length, file).toBe(1);
    }
    const loader = new SnapshotLoader();
    client.HeapProfiler.addHeapSnapshotChunk(({ chunk }) => loader.write(chunk));
    await client.HeapProfiler.takeHeapSnapshot({ reportProgress: false });
    snapshot = loader.end();
  } finally {
    await client.close();
  }
  const dominators = computeDominators(snapshot);
  retained = dominators.retained;
  firstEdge = dominators.firstEdge;
});

afterAll(() => {
  target?.stop();
});

function lineOf(module: string, pattern: RegExp): number {
  const lines = readFileSync(join(fixtures, module), 'utf8').split('\n');
  return lines.findIndex((line) => pattern.test(line)) + 1;
}

describe('entries over a real inspector', () => {
  it('names scripts by their inspector URLs and finds the same entries as offline', () => {
    const matcher = createModuleMatcher({ root: fixtures });
    const cjsUrl = pathToFileURL(join(fixtures, 'entries-store.cjs')).href;
    // Node's inspector reports CommonJS scripts by file URL (V8 itself names them by path).
    expect([...scriptUrls.values()]).toContain(cjsUrl);
    expect(sources.get(cjsUrl)).toBe(readFileSync(join(fixtures, 'entries-store.cjs'), 'utf8'));

    const live = findEntries(snapshot, retained, {
      ...matcher,
      scriptUrls,
      source: (url) => sources.get(url),
      firstEdge,
    });
    const offline = findEntries(snapshot, retained, { ...matcher, source: readScriptSource });
    expect(live).toEqual(offline);

    const find = (module: string, name: string): Entry | undefined =>
      live.find((e) => e.module_name === module && e.name === name);
    expect(find('entries-store.cjs', 'sessions')).toMatchObject({
      obj_type: 'Map',
      lineno: lineOf('entries-store.cjs', /^const sessions = new Map\(\)/),
    });
    expect(find('entries-store.mjs', 'Registry')).toMatchObject({
      obj_type: 'class',
      lineno: lineOf('entries-store.mjs', /^export class Registry/),
    });
    expect(find('entries-store.cjs', 'remember')).toMatchObject({
      obj_type: 'function',
      lineno: lineOf('entries-store.cjs', /^function remember\(/),
    });
    // 200 strings of 50 characters in each Map.
    expect(find('entries-store.mjs', 'sessions')!.dominated_size).toBeGreaterThanOrEqual(200 * 50);
  });
});
