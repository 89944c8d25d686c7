/**
 * The heap analysis pipeline shared by the live profiler (chunks from CDP's
 * `HeapProfiler.addHeapSnapshotChunk`, parsed as they arrive) and the offline
 * `apptrace-profiler analyze FILE`: load → dominator tree and retained sizes → module
 * entries.
 *
 * @example
 *   const analysis = new StreamingAnalysis({ entries: { traced } });
 *   session.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => analysis.write(chunk));
 *   await session.send('HeapProfiler.takeHeapSnapshot');
 *   const result = analysis.finish();
 */
import { statSync } from 'node:fs';
import { debug } from '../../common/debug-log.js';
import type { Entry } from '../../contract/record.js';
import {
  allocateDominatorArena,
  computeDominators,
  computeDominatorsAsync,
  hasDomTreeRoots,
  releaseScratch,
  shallowSizeInputs,
  weakMapEdgeNames,
} from './dominators.js';
import type { DominatorArena, DominatorHelp, Dominators } from './dominators.js';
import { findEntries, prepareEntries } from './entries.js';
import type { EntryOptions } from './entries.js';
import { buildFirstEdgeIndexes } from './graph.js';
import { EdgesWorker, findEdgesEnd } from './edges-section.js';
import { nodeIdIndex } from './node-index.js';
import { SnapshotLoader, readFileChunks, readFileChunksAsync } from './loader.js';
import type { ExternalEdges, LoadedHeader, LoaderOptions } from './loader.js';
import type { HeapSnapshot } from './snapshot.js';
import { warmUpEngine } from './warm-up.js';

export interface AnalysisOptions {
  /** How to find module entries; without it no entries are computed. */
  entries?: EntryOptions;
}

export interface FileAnalysisOptions extends AnalysisOptions {
  /** Called as the file is read: bytes read so far and the file's size. */
  onProgress?: (bytes: number, total: number) => void;
  /**
   * Read the `edges` section on a second thread (see edges-section.ts): by default
   * for files of PARALLEL_MIN_BYTES and more, where it saves more than the thread's
   * start-up costs.
   */
  parallel?: boolean;
}

/** From this size on a file's edges are read on a second thread (by default). */
export const PARALLEL_MIN_BYTES = 24 << 20;

/** One node as the CLI and API show it. */
export interface NodeSummary {
  /** V8's node id (`@id` in DevTools). */
  id: number;
  type: string;
  name: string;
  /** Self ("shallow") size as DevTools shows it. */
  self_size: number;
  retained_size: number;
}

export interface NodeDetails extends NodeSummary {
  /** The immediate dominator's id (the root's own id for the root). */
  dominator_id: number;
}

export interface AnalysisResult {
  snapshot: HeapSnapshot;
  dominators: Dominators;
  /** Retained size by node ordinal. */
  retained: Float64Array;
  /** Immediate dominator's ordinal by node ordinal. */
  dominator: Uint32Array;
  /** Sum of all self sizes (equals root_retained_size). */
  total_size: number;
  node_count: number;
  edge_count: number;
  root_retained_size: number;
  /** Module entries; empty when no entry options were given. */
  entries: Entry[];
  timings: { parse_ms: number; dominators_ms: number; entries_ms: number };
  /** True when the `edges` section was read on a second thread (analyzeFile). */
  edgesOnWorker: boolean;
  warnings: string[];
  /** The `n` objects with the largest retained sizes (not the root nor synthetic nodes). */
  top(n?: number): NodeSummary[];
}

/** Parses chunks as they arrive; `finish()` computes everything else. */
export class StreamingAnalysis {
  private readonly loader: SnapshotLoader;
  private readonly options: AnalysisOptions;
  private parseMs = 0;
  private arena: DominatorArena | null = null;
  private firstEdgeBuilt = false;

  /** `loader`: options for the loader (externalEdges, onSection). */
  constructor(options: AnalysisOptions = {}, loader: Pick<LoaderOptions, 'externalEdges' | 'onSection'> = {}) {
    this.options = options;
    // The dominator arrays are allocated as soon as the counts are known (see
    // DominatorArena: the garbage collection a large allocation causes is cheap then).
    this.loader = new SnapshotLoader({
      ...loader,
      onHeader: ({ nodeCount, edgeCount }) => {
        this.arena = allocateDominatorArena(nodeCount, edgeCount);
      },
    });
  }

  /** See SnapshotLoader.skipExternal. */
  skipEdgesTo(offset: number): boolean {
    return this.loader.skipExternal(offset);
  }

  /** See SnapshotLoader.provideEdges. */
  provideEdges(edges: ExternalEdges): boolean {
    return this.loader.provideEdges(edges);
  }

  write(chunk: string | Buffer): void {
    const t = performance.now();
    this.loader.write(chunk);
    this.parseMs += performance.now() - t;
  }

  /** Computes everything; the scratch memory of the dominators is freed soon after. */
  finish(): AnalysisResult {
    const { snapshot, arena, parseMs } = this.loadStage();
    const t = performance.now();
    const dominators = computeDominators(snapshot, arena);
    releaseScratch(arena);
    return this.entriesStage({ snapshot, dominators, parseMs, dominatorsMs: performance.now() - t });
  }

  /**
   * As finish(), but lets the event loop turn between the dominators and the entries,
   * so that the dominators' scratch memory is freed before the entries take more: a
   * lower peak (used by analyzeFile). With `helper` (the worker that read the edges),
   * the worker decides which edges count and computes the shallow sizes while this
   * thread finds the entries' modules and bindings; then this thread builds the
   * dominator tree (see DominatorHelp).
   */
  async finishAsync(helper?: EdgesWorker): Promise<AnalysisResult> {
    const { snapshot, arena, parseMs } = this.loadStage();
    let help: DominatorHelp | null = null;
    let prepared: ((retained: Float64Array) => Entry[]) | null = null;
    let entriesMs = 0;
    if (helper) {
      if (!this.firstEdgeBuilt) buildFirstEdgeIndexes(snapshot, arena.firstEdge);
      // The worker's page objects know only the global objects' part.
      const weakMapTables = hasDomTreeRoots(snapshot, arena.firstEdge, 0)
        ? null
        : weakMapEdgeNames(snapshot.stringTable);
      helper.sendEssentialInputs(weakMapTables);
      const inputs = shallowSizeInputs(snapshot, arena.firstEdge, 0);
      helper.sendShallowInputs(inputs);
      help = {
        pageObjects: helper.pageObjects(),
        essential: weakMapTables ? helper.essential() : Promise.resolve(null),
        weakMapTables: weakMapTables ?? new Map(),
        selfSize: inputs ? helper.selfSize() : Promise.resolve(null),
        firstEdgeBuilt: true,
      };
      const t = performance.now();
      if (this.options.entries)
        prepared = prepareEntries(snapshot, { firstEdge: arena.firstEdge, ...this.options.entries });
      entriesMs = performance.now() - t;
    }
    const t = performance.now();
    // Frees the dominator tree's own scratch before the sizes are computed.
    const dominators = await computeDominatorsAsync(snapshot, arena, help);
    releaseScratch(arena);
    const dominatorsMs = performance.now() - t;
    // The released buffer is freed when its message port closes, in the close phase
    // of the next turn of the loop: two turns to be sure.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    return this.entriesStage({ snapshot, dominators, parseMs, dominatorsMs, prepared, entriesMs });
  }

  /**
   * Builds the first-edge offsets into the arena as soon as the nodes are read (for
   * the edges worker); returns a copy.
   */
  firstEdgesOfNodes(header: LoadedHeader): Uint32Array<ArrayBuffer> {
    const arena = this.arena ?? (this.arena = allocateDominatorArena(header.nodeCount, header.edgeCount));
    buildFirstEdgeIndexes(header, arena.firstEdge);
    this.firstEdgeBuilt = true;
    return arena.firstEdge.slice();
  }

  private loadStage(): { snapshot: HeapSnapshot; arena: DominatorArena; parseMs: number } {
    const t = performance.now();
    const snapshot = this.loader.end();
    const parseMs = this.parseMs + (performance.now() - t);
    const arena = this.arena ?? allocateDominatorArena(snapshot.nodeCount, snapshot.edgeCount);
    this.arena = null;
    return { snapshot, arena, parseMs };
  }

  private entriesStage(stage: {
    snapshot: HeapSnapshot;
    dominators: Dominators;
    parseMs: number;
    dominatorsMs: number;
    prepared?: ((retained: Float64Array) => Entry[]) | null;
    entriesMs?: number;
  }): AnalysisResult {
    const { snapshot, dominators } = stage;
    const t = performance.now();
    const entries = stage.prepared
      ? stage.prepared(dominators.retained)
      : this.options.entries
        ? findEntries(snapshot, dominators.retained, { firstEdge: dominators.firstEdge, ...this.options.entries })
        : [];
    return makeResult(snapshot, dominators, entries, {
      parse_ms: round(stage.parseMs),
      dominators_ms: round(stage.dominatorsMs),
      entries_ms: round((stage.entriesMs ?? 0) + performance.now() - t),
    });
  }
}

/** Analyses a `.heapsnapshot` file, reading it in chunks (any size works). */
export async function analyzeFile(path: string, options: FileAnalysisOptions = {}): Promise<AnalysisResult> {
  warmUpEngine();
  const parallel = options.parallel ?? fileSize(path) >= PARALLEL_MIN_BYTES;
  const worker = parallel ? EdgesWorker.start() : null;
  if (parallel && !worker) debug('edges worker not found (not a compiled build?): %s is analysed on one thread', path);
  if (worker) {
    const result = await analyzeFileInParallel(path, options, worker);
    if (result) return result;
    debug('the edges worker could not deliver the edges of %s: read again on one thread', path);
  }
  const analysis = new StreamingAnalysis(options);
  await readFileChunksAsync(path, (chunk) => analysis.write(chunk), { onProgress: options.onProgress });
  return analysis.finishAsync();
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // readFileChunksAsync says what is wrong
  }
}

/**
 * The main thread reads the file but skips `edges`, which the worker reads meanwhile.
 * Null when the worker could not deliver them (the caller then reads the file again,
 * the ordinary way); an error in the rest of the file is thrown as usual.
 */
async function analyzeFileInParallel(
  path: string,
  options: FileAnalysisOptions,
  worker: EdgesWorker,
): Promise<AnalysisResult | null> {
  let sentFirstEdges = false;
  // Where the edges end, once known: the main thread jumps there (see findEdgesEnd).
  let edgesEnd: number | undefined;
  let skipped = false;
  const analysis = new StreamingAnalysis(options, {
    externalEdges: true,
    onSection: (key, offset, header) => {
      if (key === 'edges') {
        // The nodes are complete: the worker needs their first-edge offsets.
        worker.sendFirstEdges(analysis.firstEdgesOfNodes(header));
        sentFirstEdges = true;
        edgesEnd = findEdgesEnd(path, offset);
        return;
      }
      if (key !== 'nodes') return;
      worker.request({
        path,
        layout: header.layout,
        nodeCount: header.nodeCount,
        from: offset,
        values: header.edgeCount * header.layout.edgeFieldCount,
      });
    },
  });
  try {
    // Read on this thread: the thread pool's reads would share the second core with
    // the worker, and this thread would wait for them.
    readFileChunks(path, (chunk) => analysis.write(chunk), {
      onProgress: options.onProgress,
      skip: () => {
        const to = edgesEnd;
        edgesEnd = undefined;
        if (to === undefined || !analysis.skipEdgesTo(to)) return undefined;
        skipped = true;
        return to;
      },
    });
  } catch (error) {
    worker.stop();
    // After a jump, an error may be the jump's: the ordinary reading says what is wrong.
    if (skipped) return null;
    throw error;
  }
  // (Without the first edges the worker would wait for them for ever.)
  const edges = sentFirstEdges ? await worker.edges() : null;
  if (!edges || !analysis.provideEdges(edges)) {
    worker.stop();
    return null;
  }
  try {
    const result = await analysis.finishAsync(worker);
    result.edgesOnWorker = true;
    return result;
  } finally {
    worker.stop();
  }
}

/**
 * Details of the node with V8 id `nodeId` (`@123` in DevTools), or undefined. The first
 * call indexes the snapshot's ids (node-index.ts): later ones are a binary search.
 */
export function nodeInfo(result: AnalysisResult, nodeId: number): NodeDetails | undefined {
  const ordinal = nodeIdIndex(result.snapshot)(nodeId);
  if (ordinal === -1) return undefined;
  const { nodes, layout } = result.snapshot;
  const dominatorId = nodes[result.dominator[ordinal]! * layout.nodeFieldCount + layout.nodeIdOffset]!;
  return { ...summarize(result.snapshot, result.dominators, ordinal), dominator_id: dominatorId };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function summarize(snapshot: HeapSnapshot, dominators: Dominators, ordinal: number): NodeSummary {
  const { nodes, layout, stringTable } = snapshot;
  const base = ordinal * layout.nodeFieldCount;
  return {
    id: nodes[base + layout.nodeIdOffset]!,
    type: layout.nodeTypes[nodes[base + layout.nodeTypeOffset]!] ?? 'unknown',
    name: stringTable.get(nodes[base + layout.nodeNameOffset]!),
    self_size: dominators.selfSize[ordinal]!,
    retained_size: dominators.retained[ordinal]!,
  };
}

function makeResult(
  snapshot: HeapSnapshot,
  dominators: Dominators,
  entries: Entry[],
  timings: AnalysisResult['timings'],
): AnalysisResult {
  const { retained, dominator, rootOrdinal } = dominators;
  const rootRetained = retained[rootOrdinal]!;
  return {
    snapshot,
    dominators,
    retained,
    dominator,
    // The shallow sizes only move bytes between nodes, so this is the sum of self sizes.
    total_size: rootRetained,
    node_count: snapshot.nodeCount,
    edge_count: snapshot.edgeCount,
    root_retained_size: rootRetained,
    entries,
    timings,
    edgesOnWorker: false,
    warnings: snapshot.warnings,
    top: (n = 20) => topRetainers(snapshot, dominators, n).map((o) => summarize(snapshot, dominators, o)),
  };
}

/** Ordinals of the `n` largest retained sizes, largest first, in one pass. */
function topRetainers(snapshot: HeapSnapshot, dominators: Dominators, n: number): number[] {
  const { nodes, layout, nodeCount } = snapshot;
  const nfc = layout.nodeFieldCount;
  const typeOffset = layout.nodeTypeOffset;
  const synthetic = layout.nodeType.synthetic;
  const { retained, rootOrdinal } = dominators;
  const best: number[] = [];
  let threshold = -1;
  for (let o = 0; o < nodeCount; o++) {
    const size = retained[o]!;
    if (size <= threshold || o === rootOrdinal || nodes[o * nfc + typeOffset] === synthetic) continue;
    let i = best.length;
    while (i > 0 && retained[best[i - 1]!]! < size) i--;
    best.splice(i, 0, o);
    if (best.length > n) best.pop();
    if (best.length === n) threshold = retained[best[n - 1]!]!;
  }
  return best;
}
