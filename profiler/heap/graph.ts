/**
 * Indexes over a loaded snapshot's flat arrays, in compressed-sparse-row form as in
 * DevTools' HeapSnapshot.ts: where each node's edges start, and who retains each node.
 */
import type { HeapSnapshot } from './snapshot.js';

/**
 * `firstEdge[ordinal]` is the offset in `edges` of the node's first edge;
 * `firstEdge[nodeCount]` is `edges.length`. (Prefix sums of the nodes' edge counts.)
 */
export function buildFirstEdgeIndexes(
  snapshot: Pick<HeapSnapshot, 'nodes' | 'layout' | 'nodeCount'>,
  into?: Uint32Array,
): Uint32Array {
  const { nodes, layout, nodeCount } = snapshot;
  const nfc = layout.nodeFieldCount;
  const efc = layout.edgeFieldCount;
  const countOffset = layout.nodeEdgeCountOffset;
  const firstEdge = into ?? new Uint32Array(nodeCount + 1);
  let edgeIndex = 0;
  for (let ordinal = 0, n = countOffset; ordinal < nodeCount; ordinal++, n += nfc) {
    firstEdge[ordinal] = edgeIndex;
    edgeIndex += nodes[n]! * efc;
  }
  firstEdge[nodeCount] = edgeIndex;
  return firstEdge;
}

/**
 * `edgeTo[e]` is the ordinal of the node edge number `e` points to (`to_node` divided
 * by the node field count), computed once so that no pass divides per edge.
 */
export function buildEdgeTargets(snapshot: HeapSnapshot): Uint32Array {
  const { edges, layout } = snapshot;
  const efc = layout.edgeFieldCount;
  const edgeCount = edges.length / efc;
  const scale = 1 / layout.nodeFieldCount;
  const edgeTo = new Uint32Array(edgeCount);
  // to_node is a multiple of the field count (the loader checks), so rounding the
  // product is exact and much cheaper than a division.
  for (let e = 0, slot = layout.edgeToNodeOffset; e < edgeCount; e++, slot += efc) {
    edgeTo[e] = edges[slot]! * scale + 0.5;
  }
  return edgeTo;
}

/**
 * The retainer index: the retainers of node `o` are the slots
 * `firstRetainer[o] .. firstRetainer[o + 1]` of `retainingNodes` (the retaining node's
 * ordinal) and `retainingEdges` (the retaining edge's offset in `edges`), in the order
 * of the edges array.
 */
export interface RetainerIndex {
  firstRetainer: Uint32Array;
  retainingNodes: Uint32Array;
  /** Empty when built with `withEdges` false. */
  retainingEdges: Uint32Array;
}

/**
 * Builds the retainer index (count, prefix sum, fill). With `keep`, only edges whose
 * bit is set there are indexed (e.g. the edges that count for dominators), which saves
 * memory and time in the passes that only look at those; without `withEdges` only the
 * retaining nodes are kept.
 */
export function buildRetainers(
  snapshot: HeapSnapshot,
  firstEdge: Uint32Array,
  edgeTo: Uint32Array,
  keep?: Uint8Array,
  withEdges = true,
): RetainerIndex {
  const { layout, nodeCount } = snapshot;
  const efc = layout.edgeFieldCount;
  const edgeCount = edgeTo.length;
  const firstRetainer = new Uint32Array(nodeCount + 1);
  // Count.
  let kept = 0;
  if (keep) {
    for (let e = 0; e < edgeCount; e++) {
      if ((keep[e >> 3]! & (1 << (e & 7))) === 0) continue;
      firstRetainer[edgeTo[e]!]!++;
      kept++;
    }
  } else {
    for (let e = 0; e < edgeCount; e++) firstRetainer[edgeTo[e]!]!++;
    kept = edgeCount;
  }
  // Prefix sums: firstRetainer[o] becomes the end of o's range; filling walks it back.
  let sum = 0;
  for (let o = 0; o < nodeCount; o++) {
    sum += firstRetainer[o]!;
    firstRetainer[o] = sum;
  }
  firstRetainer[nodeCount] = sum;
  const retainingNodes = new Uint32Array(kept);
  const retainingEdges = new Uint32Array(withEdges ? kept : 0);
  // Fill from the last edge backwards so that each range ends up in edge order.
  for (let from = nodeCount - 1; from >= 0; from--) {
    const begin = firstEdge[from]! / efc;
    for (let e = firstEdge[from + 1]! / efc - 1; e >= begin; e--) {
      if (keep && (keep[e >> 3]! & (1 << (e & 7))) === 0) continue;
      const slot = --firstRetainer[edgeTo[e]!]!;
      retainingNodes[slot] = from;
      if (withEdges) retainingEdges[slot] = e * efc;
    }
  }
  return { firstRetainer, retainingNodes, retainingEdges };
}

/** The ordinal of the node with V8 id `id` (the `@123` DevTools shows), or -1. */
export function findNodeById(snapshot: HeapSnapshot, id: number): number {
  const { nodes, layout, nodeCount } = snapshot;
  const nfc = layout.nodeFieldCount;
  const idOffset = layout.nodeIdOffset;
  for (let o = 0, i = idOffset; o < nodeCount; o++, i += nfc) if (nodes[i] === id) return o;
  return -1;
}
