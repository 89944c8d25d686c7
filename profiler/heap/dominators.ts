/**
 * Dominator tree and retained sizes with Chrome DevTools' semantics, so that a retained
 * size here is the one the DevTools Memory panel shows for the same snapshot.
 *
 * The rules follow DevTools' heap_snapshot_worker/HeapSnapshot.ts (JSHeapSnapshot):
 * - an edge "counts" (is essential) unless it is weak; a self edge; a shortcut edge
 *   from any node but the root; the WeakMap table's own edge to a value (V8 writes both
 *   "table → value" and "key → value" for an ephemeron, and only the key's counts); or
 *   an edge from an object outside the page into one reachable from the user roots
 *   (the root's shortcut edges, i.e. the global objects) — so that e.g. the debugger's
 *   handles do not change the dominators of the app's objects;
 * - "shallow" sizes: an owned internal object (a hidden or array node, or external
 *   string data, reachable only through one owner) is counted in its owner's self size;
 * - nodes that the counted edges do not reach from the root hang off the root, so the
 *   root's retained size is the sum of all self sizes.
 * The decision per edge is made once into a bit vector and used by every pass.
 *
 * The dominators are computed iteratively — Lengauer–Tarjan semidominators (T. Lengauer
 * and R. E. Tarjan, "A fast algorithm for finding dominators in a flowgraph", TOPLAS
 * 1979) with the Semi-NCA final step (L. Georgiadis, R. E. Tarjan, R. F. Werneck,
 * "Finding dominators in practice", JGAA 2006), which yields the same tree without
 * LT's buckets — over preallocated Uint32Arrays; there is no recursion, since real
 * heaps are far deeper than the call stack. All arrays live in one arena (about 10
 * words per node and 1 per edge on top of the snapshot).
 */
import { buildFirstEdgeIndexes } from './graph.js';
import { SnapshotLoader } from './loader.js';
import { releaseBuffer } from './release-buffer.js';
import type { HeapSnapshot } from './snapshot.js';
import { warmUpSnapshotText } from './warm-up-snapshot.js';

export interface Dominators {
  /** Ordinal of each node's immediate dominator, by node ordinal (the root's is itself). */
  dominator: Uint32Array;
  /** Retained size of each node, by ordinal. */
  retained: Float64Array;
  /** Self sizes as DevTools shows them (owned internal objects counted in their owner). */
  selfSize: Uint32Array;
  /** Bit `e` is set when edge `e` (edge offset / edge field count) counts. */
  essential: Uint8Array;
  /** First-edge offsets, as buildFirstEdgeIndexes returns them. */
  firstEdge: Uint32Array;
  rootOrdinal: number;
  /** Nodes the counted edges do not reach from the root (hung off the root). */
  unreachable: number;
  /** Milliseconds per step, for benchmarks. */
  steps: Record<string, number>;
}

/** True when edge number `edgeOrdinal` counts for dominators and retained sizes. */
export function isEssential(essential: Uint8Array, edgeOrdinal: number): boolean {
  return (essential[edgeOrdinal >> 3]! & (1 << (edgeOrdinal & 7))) !== 0;
}

const WEAK_MAP_EDGE = /^\d+ \/ part of key \(.*? @\d+\) -> value \(.*? @\d+\) pair in WeakMap \(table @(\d+)\)$/s;

/** Scratch words per node (+1) that the passes share (besides the DFS parents). */
const POOL_SLOTS = 4;

/**
 * Every array the dominator computation needs, in three allocations: the results, the
 * scratch space that `releaseScratch` can hand back as soon as the dominators are done,
 * and the part of it (`early`) that can go even before the shallow and retained sizes.
 * The live profiler and `analyze` allocate it as soon as a snapshot's header has
 * arrived: a large allocation makes V8 collect garbage, which is cheap while the heap
 * is still small and costly once the snapshot's strings are in it.
 */
export interface DominatorArena {
  nodeCount: number;
  edgeCount: number;
  retained: Float64Array;
  firstEdge: Uint32Array;
  dominator: Uint32Array;
  selfSize: Uint32Array;
  essential: Uint8Array;
  scratch: ArrayBuffer;
  pool: Uint32Array;
  pageObject: Uint8Array;
  /**
   * Scratch only the dominator tree itself needs (the counted retainers and the DFS
   * parents): freed before the shallow and retained sizes touch their arrays, so that
   * the two never count in the peak together (see computeDominatorsAsync).
   */
  early: ArrayBuffer;
  retainers: Uint32Array;
  parent: Uint32Array;
}

export function allocateDominatorArena(nodeCount: number, edgeCount: number): DominatorArena {
  const size = nodeCount + 1;
  const essentialBytes = (edgeCount + 7) >> 3;
  const results = new ArrayBuffer(nodeCount * 8 + (size + size + nodeCount) * 4 + essentialBytes);
  let at = 0;
  const take = (n: number): number => {
    const offset = at;
    at += n;
    return offset;
  };
  // Float64 first, for its 8-byte alignment.
  const retained = new Float64Array(results, take(nodeCount * 8), nodeCount);
  const firstEdge = new Uint32Array(results, take(size * 4), size);
  const dominator = new Uint32Array(results, take(size * 4), size);
  const selfSize = new Uint32Array(results, take(nodeCount * 4), nodeCount);
  const essential = new Uint8Array(results, take(essentialBytes), essentialBytes);
  const scratch = new ArrayBuffer(POOL_SLOTS * size * 4 + nodeCount);
  at = 0;
  const pool = new Uint32Array(scratch, take(POOL_SLOTS * size * 4), POOL_SLOTS * size);
  const pageObject = new Uint8Array(scratch, take(nodeCount), nodeCount);
  const early = new ArrayBuffer((edgeCount + size) * 4);
  at = 0;
  const retainers = new Uint32Array(early, take(edgeCount * 4), edgeCount);
  const parent = new Uint32Array(early, take(size * 4), size);
  return {
    nodeCount,
    edgeCount,
    retained,
    firstEdge,
    dominator,
    selfSize,
    essential,
    scratch,
    pool,
    pageObject,
    early,
    retainers,
    parent,
  };
}

/**
 * Gives the arena's scratch memory back without waiting for a full garbage collection
 * (which may come much later, after more memory was taken): the buffer is transferred
 * into a message that is dropped, which frees it once the event loop turns. The arena
 * must not be used for another computation afterwards.
 */
export function releaseScratch(arena: DominatorArena): void {
  releaseBuffer(arena.early);
  releaseBuffer(arena.scratch);
}

/**
 * Runs the passes twice over a small graph that takes all their branches, so that V8
 * has type feedback for all their code before a large snapshot comes (see
 * warm-up-snapshot.ts). A few milliseconds; part of warmUpEngine (warm-up.ts).
 */
export function warmUpDominators(): void {
  const loader = new SnapshotLoader();
  loader.write(warmUpSnapshotText());
  const snapshot = loader.end();
  for (let round = 0; round < 2; round++) computeDominators(snapshot);
}

/**
 * Work another thread may do for the passes while this one does others (the edges
 * worker of a file analysis, see edges-section.ts). A promise that gives null means
 * "not done there": the passes then do it themselves.
 */
export interface DominatorHelp {
  /** Page-object flags from the root's shortcut edges (markPageObjects with globals only). */
  pageObjects: Promise<Uint8Array | null>;
  /** The edges that count and each node's count of them (markEssentialEdgesApart). */
  essential: Promise<EssentialApart | null>;
  /** The WeakMap edge names given to the helper for that (weakMapEdgeNames). */
  weakMapTables: Map<number, number>;
  /** The shallow sizes (ownedSizes over shallowSizeInputs). */
  selfSize: Promise<Uint32Array | null>;
  /** `arena.firstEdge` holds the first-edge offsets already. */
  firstEdgeBuilt: boolean;
}

/** What the passes wait for (see dominatorSteps). */
type Need = 'essential' | 'page-objects' | 'release-early' | 'self-size';

/** What markEssentialEdgesApart hands back. */
export interface EssentialApart {
  essential: Uint8Array;
  retainerCount: Uint32Array;
  /**
   * Pairs (edge number, source ordinal) of edges that count unless they are the
   * WeakMap table's own edge to a value, which takes the source's id to tell: the main
   * thread decides them (resolveWeakMapEdges).
   */
  pending: Uint32Array;
}

/**
 * Computes the dominator tree and retained sizes; odd data is reported in
 * snapshot.warnings. The results are views into `arena` (made here when not given).
 */
export function computeDominators(
  snapshot: HeapSnapshot,
  arena = allocateDominatorArena(snapshot.nodeCount, snapshot.edgeCount),
): Dominators {
  const steps = dominatorSteps(snapshot, arena, null);
  for (;;) {
    const next = steps.next(null);
    if (next.done) return next.value;
  }
}

/**
 * As computeDominators, but the scratch memory only the dominator tree needs is freed
 * (the event loop turns for that) before the shallow and retained sizes are computed:
 * a lower peak (used by StreamingAnalysis.finishAsync).
 */
export async function computeDominatorsAsync(
  snapshot: HeapSnapshot,
  arena: DominatorArena,
  help: DominatorHelp | null = null,
): Promise<Dominators> {
  const steps = dominatorSteps(snapshot, arena, help);
  let answer: Uint8Array | Uint32Array | EssentialApart | null = null;
  for (;;) {
    const next = steps.next(answer);
    if (next.done) return next.value;
    answer = null;
    if (next.value === 'essential') answer = await help!.essential;
    else if (next.value === 'page-objects') answer = await help!.pageObjects;
    else if (next.value === 'self-size') answer = await help!.selfSize;
    else {
      releaseBuffer(arena.early);
      // Freed when the message port closes, in the close phase of a later turn.
      for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * The passes. They yield what they wait for: with `help`, the edges that count (or
 * else the page objects) and the shallow sizes — the answer is the result, or null to
 * compute it here; and when `arena.early` is no longer needed.
 */
function* dominatorSteps(
  snapshot: HeapSnapshot,
  arena: DominatorArena,
  help: DominatorHelp | null,
): Generator<Need, Dominators, Uint8Array | Uint32Array | EssentialApart | null> {
  if (
    arena.nodeCount !== snapshot.nodeCount ||
    arena.edgeCount !== snapshot.edgeCount ||
    arena.scratch.byteLength === 0 ||
    arena.early.byteLength === 0
  ) {
    throw new Error('computeDominators: the arena was made for another snapshot');
  }
  const rootOrdinal = 0;
  const steps: Record<string, number> = {};
  let t = performance.now();
  const step = (name: string): void => {
    const now = performance.now();
    steps[name] = Math.round((now - t) * 10) / 10;
    t = now;
  };
  const size = snapshot.nodeCount + 1;
  const firstEdge = help?.firstEdgeBuilt ? arena.firstEdge : buildFirstEdgeIndexes(snapshot, arena.firstEdge);
  step('first_edges');
  const slot = (i: number, count = 1): Uint32Array => arena.pool.subarray(i * size, (i + count) * size);

  // Slot 0 holds the retainer counts (then the index) until the dominators are done.
  const apart = help ? ((yield 'essential') as EssentialApart | null) : null;
  step('wait_essential');
  const essential = arena.essential;
  if (apart) {
    essential.set(apart.essential);
    slot(0).set(apart.retainerCount);
    resolveWeakMapEdges(snapshot, apart.pending, help!.weakMapTables, essential, slot(0));
    step('essential');
  } else {
    const pageObject = arena.pageObject;
    const globalPageObjects = help ? ((yield 'page-objects') as Uint8Array | null) : null;
    step('wait_page_objects');
    if (globalPageObjects) {
      pageObject.set(globalPageObjects);
      markPageObjects(snapshot, firstEdge, rootOrdinal, pageObject, slot(1), { globals: false, domTrees: true });
    } else {
      pageObject.fill(0);
      markPageObjects(snapshot, firstEdge, rootOrdinal, pageObject, slot(1));
    }
    step('page_objects');
    // The same pass as the edges worker's, with the WeakMap tables resolved right after.
    const weakMapTables = weakMapEdgeNames(snapshot.stringTable);
    const pending = markEssentialEdges(
      snapshot,
      snapshot.nodeCount,
      firstEdge,
      rootOrdinal,
      pageObject,
      weakMapTables,
      essential,
      slot(0),
    );
    resolveWeakMapEdges(snapshot, pending, weakMapTables, essential, slot(0));
    step('essential');
  }
  const { dominator, order, count, unreachable } = lengauerTarjan(
    snapshot,
    firstEdge,
    essential,
    rootOrdinal,
    slot,
    arena.retainers,
    arena.parent,
    arena.dominator,
    step,
  );
  yield 'release-early';
  const selfSize = arena.selfSize;
  const given = help ? ((yield 'self-size') as Uint32Array | null) : null;
  if (help) step('wait_self_size');
  if (given) selfSize.set(given);
  else {
    // Slots 0, 2 and 3 and the page-object flags are free now (slot 1 is the DFS order).
    shallowSizes(snapshot, firstEdge, rootOrdinal, selfSize, {
      kinds: arena.pageObject,
      owner: slot(0).subarray(0, snapshot.nodeCount),
      work: slot(2, 2),
    });
    step('shallow');
  }
  const retained = arena.retained;
  retained.set(selfSize);
  // Children come after their dominator in DFS order: add up from the last one.
  for (let i = count - 1; i > 0; i--) {
    const o = order[i]!;
    retained[dominator[o]!]! += retained[o]!;
  }
  step('retained');
  if (unreachable > 0) {
    snapshot.warnings.push(
      `${unreachable} nodes are not reachable from the root through edges that retain (only weak or no retainers); they are counted under the root.`,
    );
  }
  return { dominator, retained, selfSize, essential, firstEdge, rootOrdinal, unreachable, steps };
}

/** True when the root has an element edge to "(Document DOM trees)" (a browser heap). */
export function hasDomTreeRoots(snapshot: HeapSnapshot, firstEdge: Uint32Array, rootOrdinal: number): boolean {
  const { nodes, edges, layout, stringTable } = snapshot;
  for (let e = firstEdge[rootOrdinal]!, end = firstEdge[rootOrdinal + 1]!; e < end; e += layout.edgeFieldCount) {
    if (edges[e + layout.edgeTypeOffset] !== layout.edgeType.element) continue;
    const to = edges[e + layout.edgeToNodeOffset]!;
    if (nodes[to + layout.nodeTypeOffset] !== layout.nodeType.synthetic) continue;
    if (stringTable.equals(nodes[to + layout.nodeNameOffset]!, '(Document DOM trees)')) return true;
  }
  return false;
}

/**
 * DevTools' "page object" flag: everything reachable (by non-weak edges) from the
 * root's shortcut edges — the global objects — and from "(Document DOM trees)". `roots`
 * says which of the two to start from: the edges worker of a file analysis, which has
 * the edges but not the nodes and strings, does the globals (see edges-section.ts) and
 * the main thread adds the DOM trees (none in a Node heap) to its flags.
 */
export function markPageObjects(
  graph: Pick<HeapSnapshot, 'edges' | 'layout'> & Partial<Pick<HeapSnapshot, 'nodes' | 'stringTable'>>,
  firstEdge: Uint32Array,
  rootOrdinal: number,
  flags: Uint8Array,
  stack: Uint32Array,
  roots: { globals: boolean; domTrees: boolean } = { globals: true, domTrees: true },
): void {
  const { nodes, edges, layout, stringTable } = graph;
  const nfc = layout.nodeFieldCount;
  const efc = layout.edgeFieldCount;
  const scale = 1 / nfc;
  const toOffset = layout.edgeToNodeOffset;
  const typeOffset = layout.edgeTypeOffset;
  const { weak, shortcut, element } = layout.edgeType;
  const synthetic = layout.nodeType.synthetic;
  let top = 0;
  for (let e = firstEdge[rootOrdinal]!, end = firstEdge[rootOrdinal + 1]!; e < end; e += efc) {
    const type = edges[e + typeOffset]!;
    const to = edges[e + toOffset]!;
    if (type === element) {
      if (!roots.domTrees || !nodes || !stringTable || nodes[to + layout.nodeTypeOffset] !== synthetic) continue;
      if (!stringTable.equals(nodes[to + layout.nodeNameOffset]!, '(Document DOM trees)')) continue;
    } else if (type !== shortcut || !roots.globals) continue;
    const o = (to * scale + 0.5) | 0;
    if (flags[o]) continue;
    flags[o] = 1;
    stack[top++] = o;
  }
  while (top > 0) {
    const o = stack[--top]!;
    for (let e = firstEdge[o]!, end = firstEdge[o + 1]!; e < end; e += efc) {
      // to_node is a multiple of the field count (the loader checks it), so rounding
      // the product is exact — and cheaper than a division.
      const child = (edges[e + toOffset]! * scale + 0.5) | 0;
      if (flags[child] || edges[e + typeOffset] === weak) continue;
      flags[child] = 1;
      stack[top++] = child;
    }
  }
}

/**
 * The names of WeakMap edges ("1 / part of key (K @1) -> value (V @2) pair in WeakMap
 * (table @3)") in the string table, each with its table's id: what the essential-edge
 * rules need of the strings, for a thread that has only the edges.
 */
export function weakMapEdgeNames(stringTable: HeapSnapshot['stringTable']): Map<number, number> {
  const names = new Map<number, number>();
  for (const i of stringTable.containing(') pair in WeakMap (table @')) {
    const m = WEAK_MAP_EDGE.exec(stringTable.get(i));
    if (m) names.set(i, Number(m[1]));
  }
  return names;
}

/**
 * DevTools' rule for the edges that count, in one pass over the edges — the one
 * implementation, used on the main thread and by the edges worker of a file analysis
 * (which has the edges but not the nodes or strings). An edge counts unless it is weak;
 * a self edge; a shortcut edge from any node but the root; or an edge from a non-page
 * object into a page object (`pageObject`, see markPageObjects). Sets the bit of every
 * edge that counts in `essential` and counts each node's counted retainers into
 * `retainerCount` (the first half of building the retainer index; both are cleared
 * here). An internal edge named as a WeakMap pair (`weakMapTables`, see
 * weakMapEdgeNames) counts unless its source is the table itself, which takes the
 * source's id to tell: those edges are returned as pairs (edge number, source ordinal)
 * for resolveWeakMapEdges.
 */
export function markEssentialEdges(
  graph: Pick<HeapSnapshot, 'edges' | 'layout'>,
  nodeCount: number,
  firstEdge: Uint32Array,
  rootOrdinal: number,
  pageObject: Uint8Array,
  weakMapTables: ReadonlyMap<number, number>,
  essential: Uint8Array,
  retainerCount: Uint32Array,
): Uint32Array<ArrayBuffer> {
  const { edges, layout } = graph;
  const efc = layout.edgeFieldCount;
  const scale = 1 / layout.nodeFieldCount;
  const toOffset = layout.edgeToNodeOffset;
  const typeOffset = layout.edgeTypeOffset;
  const nameOffset = layout.edgeNameOffset;
  const { weak, shortcut, internal } = layout.edgeType;
  essential.fill(0);
  retainerCount.fill(0);
  const pending: number[] = [];
  let e = 0;
  for (let o = 0; o < nodeCount; o++) {
    const end = firstEdge[o + 1]! / efc;
    const isRoot = o === rootOrdinal;
    const fromPage = pageObject[o];
    for (; e < end; e++) {
      const edge = e * efc;
      const type = edges[edge + typeOffset]!;
      if (type === weak) continue;
      const to = (edges[edge + toOffset]! * scale + 0.5) | 0;
      if (to === o) continue;
      if (!isRoot) {
        if (type === shortcut) continue;
        if (!fromPage && pageObject[to]) continue;
      }
      if (type === internal && weakMapTables.has(edges[edge + nameOffset]!)) {
        pending.push(e, o);
        continue;
      }
      essential[e >> 3]! |= 1 << (e & 7);
      retainerCount[to]!++;
    }
  }
  return Uint32Array.from(pending);
}

/** markEssentialEdges into new arrays, for the edges worker (which hands them over). */
export function markEssentialEdgesApart(
  graph: Pick<HeapSnapshot, 'edges' | 'layout'>,
  nodeCount: number,
  firstEdge: Uint32Array,
  rootOrdinal: number,
  pageObject: Uint8Array,
  weakMapTables: ReadonlyMap<number, number>,
): EssentialApart {
  const essential = new Uint8Array((graph.edges.length / graph.layout.edgeFieldCount + 7) >> 3);
  const retainerCount = new Uint32Array(nodeCount);
  const pending = markEssentialEdges(
    graph,
    nodeCount,
    firstEdge,
    rootOrdinal,
    pageObject,
    weakMapTables,
    essential,
    retainerCount,
  );
  return { essential, retainerCount, pending };
}

/** The WeakMap edges markEssentialEdges left: they count unless their source is the table. */
function resolveWeakMapEdges(
  snapshot: HeapSnapshot,
  pending: Uint32Array,
  weakMapTables: ReadonlyMap<number, number>,
  essential: Uint8Array,
  retainerCount: Uint32Array,
): void {
  const { nodes, edges, layout } = snapshot;
  const efc = layout.edgeFieldCount;
  const scale = 1 / layout.nodeFieldCount;
  for (let k = 0; k < pending.length; k += 2) {
    const e = pending[k]!;
    const o = pending[k + 1]!;
    if (
      weakMapTables.get(edges[e * efc + layout.edgeNameOffset]!) ===
      nodes[o * layout.nodeFieldCount + layout.nodeIdOffset]
    )
      continue;
    essential[e >> 3]! |= 1 << (e & 7);
    retainerCount[(edges[e * efc + layout.edgeToNodeOffset]! * scale + 0.5) | 0]!++;
  }
}

const UNVISITED = 0xffffffff;
const MANY = 0xfffffffe;

/** Per node, for the shallow sizes (classifyOwnable, ownedSizes); 0: owns itself. */
const OWNABLE = 1;
const SYNTHETIC = 2;

/**
 * DevTools' JSHeapSnapshot.calculateShallowSizes, the one implementation: a hidden or
 * array node (or external string data) reached — through non-weak edges — from one
 * owner only gives its size to that owner. Writes the sizes into `selfSize`; `scratch`
 * gives the arrays it works in (`owner` and `kinds` of the node count, `work` of twice
 * that plus one). Raw sizes stand when the snapshot has no user roots: DevTools then
 * shows raw sizes, as for a snapshot taken with internals exposed.
 */
function shallowSizes(
  snapshot: HeapSnapshot,
  firstEdge: Uint32Array,
  rootOrdinal: number,
  selfSize: Uint32Array,
  scratch: { kinds: Uint8Array; owner: Uint32Array; work: Uint32Array },
): void {
  if (classifyOwnable(snapshot, firstEdge, rootOrdinal, scratch.kinds, selfSize)) {
    ownedSizes(snapshot, firstEdge, rootOrdinal, scratch.kinds, selfSize, scratch);
  }
}

/**
 * What the shallow sizes need of the nodes and strings: copies the raw self sizes into
 * `selfSize` and each node's kind (owns itself, may be owned, synthetic) into `kinds`.
 * False (kinds untouched) when the snapshot has no user roots: the raw sizes stand.
 */
function classifyOwnable(
  snapshot: HeapSnapshot,
  firstEdge: Uint32Array,
  rootOrdinal: number,
  kinds: Uint8Array,
  selfSize: Uint32Array,
): boolean {
  const { nodes, layout, nodeCount } = snapshot;
  const nfc = layout.nodeFieldCount;
  const nodeTypeOffset = layout.nodeTypeOffset;
  const nameOffset = layout.nodeNameOffset;
  const sizeOffset = layout.nodeSelfSizeOffset;
  if (!hasUserRoots(snapshot, firstEdge, rootOrdinal)) {
    for (let o = 0, i = sizeOffset; o < nodeCount; o++, i += nfc) selfSize[o] = nodes[i]!;
    return false;
  }
  const { hidden, array, native, synthetic } = layout.nodeType;
  const isExternalStringData = nameTest(snapshot, 'system / ExternalStringData');
  for (let o = 0, i = 0; o < nodeCount; o++, i += nfc) {
    selfSize[o] = nodes[i + sizeOffset]!;
    const type = nodes[i + nodeTypeOffset];
    if (type === hidden || type === array || (type === native && isExternalStringData(nodes[i + nameOffset]!)))
      kinds[o] = OWNABLE;
    else kinds[o] = type === synthetic ? SYNTHETIC : 0;
  }
  return true;
}

/** True when the root has an edge to a user root: not synthetic, or "(Document DOM trees)". */
function hasUserRoots(snapshot: HeapSnapshot, firstEdge: Uint32Array, rootOrdinal: number): boolean {
  const { nodes, edges, layout, stringTable } = snapshot;
  const efc = layout.edgeFieldCount;
  const toOffset = layout.edgeToNodeOffset;
  const synthetic = layout.nodeType.synthetic;
  for (let e = firstEdge[rootOrdinal]!, end = firstEdge[rootOrdinal + 1]!; e < end; e += efc) {
    const to = edges[e + toOffset]!;
    if (
      nodes[to + layout.nodeTypeOffset] !== synthetic ||
      stringTable.equals(nodes[to + layout.nodeNameOffset]!, '(Document DOM trees)')
    ) {
      return true;
    }
  }
  return false;
}

/**
 * A test "string index `name` is `text`" for a pass over the nodes that asks it of few
 * nodes (one type): remembers its last answers instead of searching the whole table.
 */
function nameTest(snapshot: HeapSnapshot, text: string): (name: number) => boolean {
  let yes = -1;
  let no = -1;
  return (name) => {
    if (name === yes) return true;
    if (name === no) return false;
    if (snapshot.stringTable.equals(name, text)) {
      yes = name;
      return true;
    }
    no = name;
    return false;
  };
}

/**
 * Hands owners on from the nodes on the work list (`top` of them) along non-weak
 * edges until nothing changes: an owned node reached from a second owner becomes
 * owned by many. Each node enters the list at most twice (unvisited → one → many).
 */
function floodOwners(
  graph: Pick<HeapSnapshot, 'edges' | 'layout'>,
  firstEdge: Uint32Array,
  owner: Uint32Array,
  work: Uint32Array,
  top: number,
): void {
  const { edges, layout } = graph;
  const efc = layout.edgeFieldCount;
  const scale = 1 / layout.nodeFieldCount;
  const toOffset = layout.edgeToNodeOffset;
  const typeOffset = layout.edgeTypeOffset;
  const weak = layout.edgeType.weak;
  while (top > 0) {
    const o = work[--top]!;
    const own = owner[o]!;
    for (let e = firstEdge[o]!, end = firstEdge[o + 1]!; e < end; e += efc) {
      if (edges[e + typeOffset] === weak) continue;
      const t = (edges[e + toOffset]! * scale + 0.5) | 0;
      const current = owner[t]!;
      if (current !== t && current !== own && current !== MANY) {
        owner[t] = current === UNVISITED ? own : MANY;
        work[top++] = t;
      }
    }
  }
}

/** Moves each owned node's size to its one owner (not to the root or a synthetic node). */
function moveOwnedSizes(
  owner: Uint32Array,
  selfSize: Uint32Array,
  rootOrdinal: number,
  synthetic: (o: number) => boolean,
): Uint32Array {
  for (let o = 0, n = owner.length; o < n; o++) {
    const own = owner[o]!;
    if (own === o || own === UNVISITED || own === MANY) continue;
    if (own === rootOrdinal || synthetic(own)) continue;
    selfSize[own]! += selfSize[o]!;
    selfSize[o] = 0;
  }
  return selfSize;
}

/**
 * The shallow sizes' inputs (classifyOwnable) in new arrays, for the edges worker of a
 * file analysis, which has the edges but not the nodes or strings. Null when the
 * snapshot has no user roots: the raw sizes stand.
 */
export function shallowSizeInputs(
  snapshot: HeapSnapshot,
  firstEdge: Uint32Array,
  rootOrdinal: number,
): { kinds: Uint8Array<ArrayBuffer>; selfSize: Uint32Array<ArrayBuffer> } | null {
  if (!hasUserRoots(snapshot, firstEdge, rootOrdinal)) return null;
  const kinds = new Uint8Array(snapshot.nodeCount);
  const selfSize = new Uint32Array(snapshot.nodeCount);
  classifyOwnable(snapshot, firstEdge, rootOrdinal, kinds, selfSize);
  return { kinds, selfSize };
}

/**
 * The shallow sizes from classifyOwnable's kinds and the edges, in one flood from every
 * node that owns itself. Moves the sizes within `selfSize` and returns it. `scratch`:
 * arrays to work in (else new ones).
 */
export function ownedSizes(
  graph: Pick<HeapSnapshot, 'edges' | 'layout'>,
  firstEdge: Uint32Array,
  rootOrdinal: number,
  kinds: Uint8Array,
  selfSize: Uint32Array,
  scratch?: { owner: Uint32Array; work: Uint32Array },
): Uint32Array {
  const nodeCount = kinds.length;
  const owner = scratch?.owner ?? new Uint32Array(nodeCount);
  // Each node enters the work list at most twice (unvisited → one owner → many).
  const work = scratch?.work ?? new Uint32Array(2 * nodeCount + 1);
  let top = 0;
  for (let o = 0; o < nodeCount; o++) {
    if (kinds[o] === OWNABLE) owner[o] = UNVISITED;
    else {
      owner[o] = o;
      work[top++] = o;
    }
  }
  floodOwners(graph, firstEdge, owner, work, top);
  return moveOwnedSizes(owner, selfSize, rootOrdinal, (own) => kinds[own] === SYNTHETIC);
}

/**
 * Semidominators as in Lengauer–Tarjan ("simple" version with path compression), then
 * Semi-NCA. Everything but the DFS works on DFS numbers (1-based, so that 0 means
 * "none"): the arrays are then read along tree paths, close together, instead of at
 * random ordinals. Unreached nodes are handled as DevTools does: first every node with
 * no counted retainer starts a DFS of its own under the root; whatever is still
 * unnumbered (cycles retained only by themselves) is hung off the root one by one.
 * Returns the dominators by ordinal and the DFS order (ordinals).
 *
 * The predecessor lists (counted retainers, as DFS numbers) are filled by the DFS
 * itself as it looks at each counted edge once, which saves a pass over the edges;
 * their order within a list differs from the edges' order, which the minimum over
 * them does not see.
 */
function lengauerTarjan(
  snapshot: HeapSnapshot,
  firstEdge: Uint32Array,
  essential: Uint8Array,
  rootOrdinal: number,
  slot: (i: number) => Uint32Array,
  retainerSpace: Uint32Array,
  parent: Uint32Array,
  dom: Uint32Array,
  step: (name: string) => void,
): { dominator: Uint32Array; order: Uint32Array; count: number; unreachable: number } {
  const { edges, layout, nodeCount } = snapshot;
  const efc = layout.edgeFieldCount;
  const scale = 1 / layout.nodeFieldCount;
  const toOffset = layout.edgeToNodeOffset;

  // The retainers of ordinal o are retainers[firstRetainer[o] .. firstRetainer[o + 1]]
  // (compressed sparse rows). Slot 0 holds the counts already: make them starts.
  const firstRetainer = slot(0);
  let kept = 0;
  for (let o = 0; o < nodeCount; o++) {
    const c = firstRetainer[o]!;
    firstRetainer[o] = kept;
    kept += c;
  }
  firstRetainer[nodeCount] = kept;
  const retainers = retainerSpace.subarray(0, kept);
  // Where the next retainer of each ordinal goes, while the DFS fills the lists.
  const cursor = slot(2);
  cursor.set(firstRetainer);

  // By DFS number: the ordinal (this slot stays the DFS order), the DFS parent, and
  // Lengauer–Tarjan's label and ancestor; semi comes after the DFS, in `dom`.
  const vertex = slot(1);
  const label = slot(3);
  // By ordinal, during the DFS: its number (0 = not reached yet). The same array holds
  // semi (by number) afterwards, and the dominators (by ordinal) at the end: one
  // scratch slot fewer.
  const num = dom;
  num.fill(0);
  parent.fill(0);
  let n = 0;
  // The DFS path (ordinal, next edge to look at) and, later, the path-compression
  // stack: as deep as the heap is, which is usually far less than its size, so they
  // start small and grow.
  let stackVertex = new Uint32Array(1 << 16);
  let stackEdge = new Uint32Array(1 << 16);
  const grow = (): void => {
    const bigger = new Uint32Array(stackVertex.length * 2);
    bigger.set(stackVertex);
    stackVertex = bigger;
    const biggerEdges = new Uint32Array(stackEdge.length * 2);
    biggerEdges.set(stackEdge);
    stackEdge = biggerEdges;
  };

  const dfs = (start: number, parentNumber: number): void => {
    num[start] = ++n;
    vertex[n] = start;
    parent[n] = parentNumber;
    let sp = 0;
    stackVertex[sp] = start;
    stackEdge[sp++] = firstEdge[start]! / efc;
    while (sp > 0) {
      const v = stackVertex[sp - 1]!;
      const numberV = num[v]!;
      const end = firstEdge[v + 1]! / efc;
      let e = stackEdge[sp - 1]!;
      let w = -1;
      for (; e < end; e++) {
        if ((essential[e >> 3]! & (1 << (e & 7))) === 0) continue;
        const to = (edges[e * efc + toOffset]! * scale + 0.5) | 0;
        retainers[cursor[to]!++] = numberV;
        if (num[to] === 0) {
          w = to;
          break;
        }
      }
      if (w === -1) {
        sp--;
        continue;
      }
      stackEdge[sp - 1] = e + 1;
      num[w] = ++n;
      vertex[n] = w;
      parent[n] = numberV;
      if (sp === stackVertex.length) grow();
      stackVertex[sp] = w;
      stackEdge[sp++] = firstEdge[w]! / efc;
    }
  };

  dfs(rootOrdinal, 0);
  const reached = n;
  if (n < nodeCount) {
    for (let o = 0; o < nodeCount; o++) {
      if (num[o] === 0 && firstRetainer[o] === firstRetainer[o + 1]) dfs(o, 1);
    }
  }
  if (n < nodeCount) {
    for (let o = 0; o < nodeCount; o++) {
      if (num[o] !== 0) continue;
      num[o] = ++n;
      vertex[n] = o;
      parent[n] = 1;
      // Not walked by a DFS: its counted edges still retain.
      for (let e = firstEdge[o]! / efc, end = firstEdge[o + 1]! / efc; e < end; e++) {
        if ((essential[e >> 3]! & (1 << (e & 7))) === 0) continue;
        retainers[cursor[(edges[e * efc + toOffset]! * scale + 0.5) | 0]!++] = n;
      }
    }
  }
  step('dfs');

  const ancestor = cursor;
  ancestor.fill(0);
  const semi = dom;
  for (let i = 1; i <= n; i++) {
    semi[i] = i;
    label[i] = i;
  }
  let stack = stackVertex;
  for (let w = n; w >= 2; w--) {
    const o = vertex[w]!;
    const begin = firstRetainer[o]!;
    const end = firstRetainer[o + 1]!;
    // No counted retainer: its only predecessor is the root.
    let semiW = begin === end ? 1 : w;
    for (let k = begin; k < end; k++) {
      const v = retainers[k]!;
      // eval(v), compressing the path iteratively.
      let u = v;
      if (ancestor[v] !== 0) {
        let sp = 0;
        let x = v;
        while (ancestor[ancestor[x]!] !== 0) {
          if (++sp === stack.length) {
            grow();
            stack = stackVertex;
          }
          stack[sp] = x;
          x = ancestor[x]!;
        }
        while (sp > 0) {
          const y = stack[sp--]!;
          const a = ancestor[y]!;
          if (semi[label[a]!]! < semi[label[y]!]!) label[y] = label[a]!;
          ancestor[y] = ancestor[a]!;
        }
        u = label[v]!;
      }
      if (semi[u]! < semiW) semiW = semi[u]!;
    }
    semi[w] = semiW;
    ancestor[w] = parent[w]!; // link(parent[w], w)
  }
  // Semi-NCA (Georgiadis, Tarjan & Werneck, "Finding dominators in practice", 2006):
  // in DFS order, the immediate dominator of w is the nearest vertex on the dominator
  // path of w's DFS parent whose number is at most semi(w). It gives Lengauer–Tarjan's
  // tree without its buckets. `label` is reused for the dominators' numbers.
  const idom = label;
  idom[1] = 1;
  for (let w = 2; w <= n; w++) {
    const s = semi[w]!;
    let x = parent[w]!;
    while (x > s) x = idom[x]!;
    idom[w] = x;
  }
  step('semi_dominators');

  // By ordinal (overwrites semi, no longer needed).
  for (let w = 1; w <= n; w++) dom[vertex[w]!] = vertex[idom[w]!]!;
  const dominator = dom.subarray(0, nodeCount);
  return { dominator, order: vertex.subarray(1, n + 1), count: n, unreachable: nodeCount - reached };
}
