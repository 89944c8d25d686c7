/**
 * The loader's check of the `edges` array, on its own so that the thread that parses
 * the array (the loader, or the edges worker of a file analysis) can run it while the
 * data is at hand. Repairs in place what would make a pass go astray: an edge to
 * nowhere becomes a weak edge to the root, an unknown type becomes weak.
 */
import type { SnapshotLayout } from './snapshot.js';

export interface EdgeCheckLayout {
  edgeFieldCount: number;
  edgeToNodeOffset: number;
  edgeTypeOffset: number;
  edgeNameOffset: number;
  /** `nodes.length`: every `to_node` must be a node offset below it. */
  nodesLength: number;
  nodeFieldCount: number;
  /** How many edge types the snapshot names. */
  typeCount: number;
  weak: number;
  element: number;
  hidden: number;
  rootIndex: number;
}

export interface EdgeCheck {
  /** Edges whose `to_node` is no node (repaired). */
  nowhere: number;
  /** Edges with an unknown type (repaired). */
  badTypes: number;
  /**
   * The largest string index named by an edge that has a name (not an element or
   * hidden edge, whose "name" is an index); -1 when there is none. The caller compares
   * it with the string table's length, which it may not know yet.
   */
  maxName: number;
}

/** What checkEdges needs to know of a snapshot's layout. */
export function edgeCheckLayout(layout: SnapshotLayout, nodeCount: number, rootIndex: number): EdgeCheckLayout {
  return {
    edgeFieldCount: layout.edgeFieldCount,
    edgeToNodeOffset: layout.edgeToNodeOffset,
    edgeTypeOffset: layout.edgeTypeOffset,
    edgeNameOffset: layout.edgeNameOffset,
    nodesLength: nodeCount * layout.nodeFieldCount,
    nodeFieldCount: layout.nodeFieldCount,
    typeCount: layout.edgeTypes.length,
    weak: layout.edgeType.weak,
    element: layout.edgeType.element,
    hidden: layout.edgeType.hidden,
    rootIndex,
  };
}

export function checkEdges(edges: Uint32Array, layout: EdgeCheckLayout): EdgeCheck {
  const {
    edgeFieldCount: efc,
    edgeToNodeOffset: toOffset,
    edgeTypeOffset: typeOffset,
    edgeNameOffset: nameOffset,
  } = layout;
  const { nodesLength, nodeFieldCount: nfc, typeCount, weak, element, hidden, rootIndex } = layout;
  const scale = 1 / nfc;
  let nowhere = 0;
  let badTypes = 0;
  let maxName = -1;
  for (let e = 0, n = edges.length; e < n; e += efc) {
    const to = edges[e + toOffset]!;
    // A multiply checks "is a multiple of nfc" faster than a remainder.
    if (to >= nodesLength || ((to * scale + 0.5) | 0) * nfc !== to) {
      edges[e + toOffset] = rootIndex;
      edges[e + typeOffset] = weak;
      nowhere++;
      continue;
    }
    const type = edges[e + typeOffset]!;
    if (type >= typeCount) {
      edges[e + typeOffset] = weak;
      badTypes++;
    } else if (type !== element && type !== hidden) {
      const name = edges[e + nameOffset]!;
      if (name > maxName) maxName = name;
    }
  }
  return { nowhere, badTypes, maxName };
}
