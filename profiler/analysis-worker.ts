/**
 * The heap analysis, in a worker thread. The profiler's own event loop must stay free
 * while a snapshot is parsed and its dominator tree computed: the proxy's signals, the
 * UI and the event stream keep being answered, so a request's signal arrives before the
 * next snapshot starts and is counted in the record that holds its effect.
 *
 * Protocol (one snapshot at a time, in order on one port; see analysis-client.ts):
 *   → { type: 'begin', id }          a new snapshot starts
 *   → { type: 'chunk', id, chunk }    a piece of it, as V8 streamed it
 *   → { type: 'finish', id, context } script ids, sources and module naming
 *   ← { type: 'result', id, result } | { type: 'error', id, message, code }
 *   → { type: 'abort', id }           forget it (the target died mid-stream)
 */
import { parentPort } from 'node:worker_threads';
import { isAppError } from '../contract/errors.js';
import { StreamingAnalysis } from './heap/analyze.js';
import type { AnalysisResult } from './heap/analyze.js';
import type { EntryOptions } from './heap/entries.js';
import { appFrameResolver, findAllocationSites } from './heap/allocation-sites.js';
import { growthPath } from './heap/growth-path.js';
import { warmUpEngine } from './heap/warm-up.js';
import { GrowthTracker } from './heap/growth-table.js';
import { heapGrowth } from './heap/heap-growers.js';
import { createModuleMatcher, readScriptSource } from './heap/module-match.js';
import type { Entry, HeapGrower } from '../contract/record.js';

export interface FinishContext {
  /** Module names are relative to this root; patterns are --trace-module values. */
  root: string;
  patterns: string[];
  /** scriptId → URL, from Debugger.scriptParsed. */
  scriptUrls: [number, string][];
  /** URL → source of the traced (and the app's source-mapped) scripts, as the target loaded them. */
  sources: [string, string][];
  /** `--allocation-sites`: attribute the entries' objects to their allocation sites. */
  allocationSites?: boolean;
  /**
   * The inspector session (the record's `session`) and the matching requests this
   * snapshot covers: with both, heap-wide growers are found against the session's
   * previous snapshots (heap/heap-growers.ts).
   */
  session?: string;
  requests?: number;
}

export interface AnalysisSummary {
  total_size: number;
  node_count: number;
  edge_count: number;
  entries: Entry[];
  /** Whether the snapshot carried allocation stacks (asked for with `allocationSites`). */
  allocation_tracking?: boolean;
  /** Heap-wide growers (with a session and a tracker; see FinishContext.session). */
  growers?: HeapGrower[];
}

export type WorkerRequest =
  | { type: 'begin'; id: number }
  | { type: 'chunk'; id: number; chunk: string }
  | { type: 'finish'; id: number; context: FinishContext }
  | { type: 'abort'; id: number };

export type WorkerAnswer =
  | { type: 'result'; id: number; result: AnalysisSummary }
  | { type: 'error'; id: number; message: string; code: string };

/** Runs one analysis from its chunks; also usable in-process. */
export class ChunkedAnalysis {
  readonly #entries: EntryOptions = { traced: () => undefined };
  readonly #analysis = new StreamingAnalysis({ entries: this.#entries });
  readonly #tracker: GrowthTracker | undefined;
  #error: unknown;

  /** `tracker`: the session's previous growth tables, for heap-wide growers. */
  constructor(tracker?: GrowthTracker) {
    this.#tracker = tracker;
  }

  write(chunk: string): void {
    if (this.#error !== undefined) return;
    try {
      this.#analysis.write(chunk);
    } catch (error) {
      // Remembered, and reported at finish: the rest of the stream is skipped.
      this.#error = error;
    }
  }

  finish(context: FinishContext): AnalysisSummary {
    if (this.#error !== undefined) throw this.#error;
    const sources = new Map(context.sources);
    // A pattern may name a script's original source: its map is found in the inspector's copy.
    const modules = createModuleMatcher({
      root: context.root,
      patterns: context.patterns,
      source: (url) => sources.get(url),
    });
    const found: [Entry, number][] = [];
    Object.assign(this.#entries, {
      onEntry: (entry: Entry, node: number) => found.push([entry, node]),
      traced: (url: string) => modules.traced(url),
      filename: (url: string) => modules.filename(url),
      scriptUrls: new Map(context.scriptUrls),
      source: (url: string) => sources.get(url),
    } satisfies EntryOptions);
    const result = this.#analysis.finish();
    addGrowthPaths(result, found);
    const summary: AnalysisSummary = {
      total_size: result.total_size,
      node_count: result.node_count,
      edge_count: result.edge_count,
      entries: result.entries,
    };
    if (this.#tracker && context.session !== undefined) this.#addGrowers(summary, result, context, modules, sources);
    if (context.allocationSites) {
      const sites = findAllocationSites(result.snapshot, {
        dominator: result.dominator,
        selfSize: result.dominators.selfSize,
        entries: result.entries,
        scriptUrls: this.#entries.scriptUrls,
        appFrame: appFrameResolver({
          root: context.root,
          traced: (url) => modules.traced(url),
          source: (url) => sources.get(url),
        }),
      });
      for (const entry of result.entries) {
        const list = entry.id === undefined ? undefined : sites.byEntry.get(entry.id);
        if (list && list.length > 0) entry.allocations = list;
      }
      summary.allocation_tracking = sites.tracked;
    }
    return summary;
  }

  /**
   * Heap-wide growers against the session's previous snapshots. A failure here costs
   * the record its growers, never the record: the entries are kept.
   */
  #addGrowers(
    summary: AnalysisSummary,
    result: AnalysisResult,
    context: FinishContext,
    modules: ReturnType<typeof createModuleMatcher>,
    sources: Map<string, string>,
  ): void {
    const tracker = this.#tracker!;
    const { previous, tracked, requestsBefore } = tracker.begin(context.session!);
    const scriptUrls = this.#entries.scriptUrls;
    try {
      const growth = heapGrowth(result, {
        previous,
        tracked,
        requests: requestsBefore + (context.requests ?? 0),
        entries: result.entries,
        owner: {
          traced: (url) => modules.traced(url),
          filename: (url) => modules.filename(url),
          source: (url) => sources.get(url) ?? readScriptSource(url),
          ...(scriptUrls ? { scriptUrls, appUrls: [...new Set(scriptUrls.values())] } : {}),
        },
      });
      tracker.remember(
        growth.table,
        growth.growers.map((g) => g.id!),
      );
      if (growth.growers.length > 0) summary.growers = growth.growers;
    } catch {
      // Odd data the walks did not expect: this record goes without growers.
    }
  }
}

/** Entries smaller than this get no path: nothing in them is worth pointing at. */
const PATH_MIN_BYTES = 1024;

/** Each entry's growth path (heap/growth-path.ts), while the dominator tree is at hand. */
export function addGrowthPaths(result: AnalysisResult, found: readonly [Entry, number][]): void {
  const nfc = result.snapshot.layout.nodeFieldCount;
  for (const [entry, node] of found) {
    if (entry.dominated_size < PATH_MIN_BYTES) continue;
    entry.path = growthPath(result.snapshot, result.dominators, node / nfc);
  }
}

if (parentPort) {
  const port = parentPort;
  // Before the first snapshot arrives, while the profiler attaches.
  warmUpEngine();
  let current: { id: number; analysis: ChunkedAnalysis } | null = null;
  // The growth tables of the session being profiled, from one snapshot to the next.
  const tracker = new GrowthTracker();
  port.on('message', (message: WorkerRequest) => {
    switch (message.type) {
      case 'begin':
        current = { id: message.id, analysis: new ChunkedAnalysis(tracker) };
        break;
      case 'chunk':
        if (current?.id === message.id) current.analysis.write(message.chunk);
        break;
      case 'abort':
        if (current?.id === message.id) current = null;
        break;
      case 'finish': {
        if (current?.id !== message.id) {
          port.postMessage({
            type: 'error',
            id: message.id,
            message: 'no such analysis',
            code: 'SNAPSHOT_ABORTED',
          } satisfies WorkerAnswer);
          break;
        }
        const { analysis } = current;
        current = null;
        try {
          port.postMessage({
            type: 'result',
            id: message.id,
            result: analysis.finish(message.context),
          } satisfies WorkerAnswer);
        } catch (error) {
          port.postMessage({
            type: 'error',
            id: message.id,
            message: (error as Error)?.message ?? String(error),
            code: isAppError(error) ? error.code : 'BAD_SNAPSHOT',
          } satisfies WorkerAnswer);
        }
        break;
      }
    }
  });
}
