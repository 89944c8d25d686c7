/**
 * An entry's growth path: where its retained size sits. From the entry's node, down its
 * dominator tree, always to the child with the largest retained size, while that child
 * holds at least half of its parent's. For a leak this ends at the object that collects
 * the leaked items (`MainPage.history`, an Array; a Map; an EventEmitter's listener
 * array), since each item alone holds little. Comparing one entry's paths in two records
 * by V8 node id (suspects.ts) says which of these objects grows and by how many elements.
 *
 * The walk looks only at the edges of the nodes on the path (a child of a node in the
 * dominator tree is almost always one of its own edges' targets: a node that two of its
 * children both reach is dominated by it without an edge, but then neither child holds
 * it alone and the walk would stop anyway), so it costs the few edges it reads, not a
 * pass over the snapshot.
 */
import type { PathStep } from '../../contract/record.js';
import type { Dominators } from './dominators.js';
import type { HeapSnapshot } from './snapshot.js';

export interface GrowthPathOptions {
  /**
   * Steps below the entry at most. The walk goes down the dominator tree for as long as
   * one child holds the share, so that it does not stop short of the growing collection
   * (express-session's store sits ten steps below an app's `server`; a cap of 8 stopped
   * at the store, one step above its `sessions`). The default bound only matters for
   * chains, where every link holds all the rest (a linked list): their path would be as
   * long as the list.
   */
  maxDepth?: number;
  /** The heaviest child must hold at least this share of its parent's retained size. */
  share?: number;
}

const DEFAULT_MAX_DEPTH = 256;
const DEFAULT_SHARE = 0.5;

type DominatorTree = Pick<Dominators, 'dominator' | 'retained' | 'selfSize' | 'essential' | 'firstEdge'>;

/**
 * The path from the node at `ordinal` (node offset / node field count) down its
 * dominator tree; the first step is the node itself.
 *
 * @example
 *   const path = growthPath(snapshot, dominators, entryOrdinal);
 *   // [{ edge: '', name: 'MainPage', … }, { edge: 'history', name: 'Array', length: 120, … }]
 */
export function growthPath(
  snapshot: HeapSnapshot,
  tree: DominatorTree,
  ordinal: number,
  options: GrowthPathOptions = {},
): PathStep[] {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const share = options.share ?? DEFAULT_SHARE;
  const reader = new StepReader(snapshot, tree);
  const path: PathStep[] = [reader.step(ordinal, '', -1)];
  let current = ordinal;
  for (let depth = 0; depth < maxDepth; depth++) {
    const { child, edge } = reader.heaviestChild(current);
    if (child < 0 || tree.retained[child]! < share * tree.retained[current]! || tree.retained[child]! === 0) break;
    path.push(reader.step(child, reader.edgeLabel(current, edge), current));
    current = child;
  }
  return path;
}

class StepReader {
  private readonly nfc: number;
  private readonly efc: number;
  private readonly scale: number;
  /** The string index of `__proto__` (-1 when absent): compared by index, not decoded per edge. */
  private readonly protoName: number;

  constructor(
    private readonly snapshot: HeapSnapshot,
    private readonly tree: DominatorTree,
  ) {
    this.nfc = snapshot.layout.nodeFieldCount;
    this.efc = snapshot.layout.edgeFieldCount;
    this.scale = 1 / this.nfc;
    this.protoName = snapshot.stringTable.indexOf('__proto__');
  }

  /** The dominated child with the largest retained size and the (first counted) edge to it. */
  heaviestChild(ordinal: number): { child: number; edge: number } {
    const { edges, nodes, layout } = this.snapshot;
    const { dominator, retained, essential, firstEdge } = this.tree;
    const { code, 'object shape': shape } = layout.nodeType;
    let child = -1;
    let edge = -1;
    for (let e = firstEdge[ordinal]!, end = firstEdge[ordinal + 1]!; e < end; e += this.efc) {
      const k = e / this.efc;
      if ((essential[k >> 3]! & (1 << (k & 7))) === 0) continue;
      const to = (edges[e + layout.edgeToNodeOffset]! * this.scale + 0.5) | 0;
      if (to === ordinal || dominator[to] !== ordinal) continue;
      // Compiled code and hidden classes are V8's, not the program's data.
      const type = nodes[to * this.nfc + layout.nodeTypeOffset];
      if (type === code || type === shape) continue;
      if (child < 0 || retained[to]! > retained[child]!) {
        child = to;
        edge = e;
      }
    }
    return { child, edge };
  }

  step(ordinal: number, edge: string, parent: number): PathStep {
    const { nodes, layout, stringTable: strings } = this.snapshot;
    const base = ordinal * this.nfc;
    return {
      id: nodes[base + layout.nodeIdOffset]!,
      edge,
      type: layout.nodeTypes[nodes[base + layout.nodeTypeOffset]!] ?? 'unknown',
      name: this.displayName(ordinal, strings.get(nodes[base + layout.nodeNameOffset]!), parent),
      self_size: this.tree.selfSize[ordinal]!,
      retained_size: this.tree.retained[ordinal]!,
      length: this.length(ordinal),
    };
  }

  /** `history`, `[3]`, `(table)`: how `from` holds the target of edge offset `e`. */
  edgeLabel(from: number, e: number): string {
    const { edges, layout, stringTable: strings } = this.snapshot;
    const type = edges[e + layout.edgeTypeOffset]!;
    const raw = edges[e + layout.edgeNameOffset]!;
    const { element, hidden, internal } = layout.edgeType;
    if (type === element || type === hidden) return `[${raw}]`;
    const name = strings.get(raw);
    if (type !== internal) return name;
    // A Map's or Set's table holds its entries in numbered slots: say whose value it is.
    if (/^\d+$/.test(name) && this.isCollectionTable(from)) {
      const key = this.keyBefore(from, Number(name));
      return key === undefined ? `[${name}]` : `get(${JSON.stringify(key)})`;
    }
    return `(${name})`;
  }

  /** V8 names a collection's table and an object's backing stores ''; say what they are. */
  private displayName(ordinal: number, name: string, parent: number): string {
    if (name !== '' || parent < 0) return name;
    const { nodes, layout } = this.snapshot;
    if (
      nodes[ordinal * this.nfc + layout.nodeTypeOffset] === layout.nodeType.array &&
      this.isTableOf(parent, ordinal)
    ) {
      return `(${this.nameOf(parent)} table)`;
    }
    return name;
  }

  private nameOf(ordinal: number): string {
    const { nodes, layout, stringTable: strings } = this.snapshot;
    return strings.get(nodes[ordinal * this.nfc + layout.nodeNameOffset]!);
  }

  private isCollection(ordinal: number): 'Map' | 'Set' | undefined {
    const { nodes, layout } = this.snapshot;
    if (nodes[ordinal * this.nfc + layout.nodeTypeOffset] !== layout.nodeType.object) return undefined;
    const name = this.nameOf(ordinal);
    return name === 'Map' || name === 'Set' ? name : undefined;
  }

  /** The `table` of a Map or Set node, or -1. */
  private tableOf(ordinal: number): number {
    if (this.isCollection(ordinal) === undefined) return -1;
    const { edges, layout, stringTable: strings } = this.snapshot;
    const { firstEdge } = this.tree;
    for (let e = firstEdge[ordinal]!, end = firstEdge[ordinal + 1]!; e < end; e += this.efc) {
      if (edges[e + layout.edgeTypeOffset] !== layout.edgeType.internal) continue;
      if (strings.get(edges[e + layout.edgeNameOffset]!) === 'table')
        return (edges[e + layout.edgeToNodeOffset]! * this.scale + 0.5) | 0;
    }
    return -1;
  }

  private isTableOf(parent: number, ordinal: number): boolean {
    return this.tableOf(parent) === ordinal;
  }

  /** True when `ordinal` is the table of the Map or Set that dominates it. */
  private isCollectionTable(ordinal: number): boolean {
    const owner = this.tree.dominator[ordinal]!;
    return this.tableOf(owner) === ordinal;
  }

  /** The string key in the slot before `slot` of a Map's table (the value's key). */
  private keyBefore(table: number, slot: number): string | undefined {
    const { edges, nodes, layout, stringTable: strings } = this.snapshot;
    const { firstEdge } = this.tree;
    const wanted = String(slot - 1);
    for (let e = firstEdge[table]!, end = firstEdge[table + 1]!; e < end; e += this.efc) {
      if (
        edges[e + layout.edgeTypeOffset] !== layout.edgeType.internal ||
        strings.get(edges[e + layout.edgeNameOffset]!) !== wanted
      )
        continue;
      const to = edges[e + layout.edgeToNodeOffset]!;
      if (nodes[to + layout.nodeTypeOffset] !== layout.nodeType.string) return undefined;
      const text = strings.get(nodes[to + layout.nodeNameOffset]!);
      return text.length > 60 ? `${text.slice(0, 57)}…` : text;
    }
    return undefined;
  }

  /**
   * How many things a node holds: a Map's or Set's entries (rows of its table), an
   * object's elements and properties, an internal array's slots.
   */
  private length(ordinal: number): number {
    const collection = this.isCollection(ordinal);
    if (collection !== undefined) {
      const table = this.tableOf(ordinal);
      return table < 0 ? 0 : this.tableRows(table, collection === 'Map' ? 2 : 1);
    }
    const { edges, nodes, layout } = this.snapshot;
    const { firstEdge } = this.tree;
    const nodeType = nodes[ordinal * this.nfc + layout.nodeTypeOffset]!;
    const { element, property, internal } = layout.edgeType;
    const { object, closure, array, hidden } = layout.nodeType;
    const start = firstEdge[ordinal]!;
    const end = firstEdge[ordinal + 1]!;
    if (nodeType === array || nodeType === hidden) {
      // Every slot but the hidden class (`map`, V8 writes it first or last): no pass needed.
      let count = (end - start) / this.efc;
      for (const e of count > 0 ? [start, end - this.efc] : []) {
        if (
          edges[e + layout.edgeTypeOffset] === internal &&
          this.snapshot.stringTable.get(edges[e + layout.edgeNameOffset]!) === 'map'
        ) {
          count--;
          break;
        }
      }
      return count;
    }
    if (nodeType !== object && nodeType !== closure) return 0;
    let count = 0;
    for (let e = start; e < end; e += this.efc) {
      const type = edges[e + layout.edgeTypeOffset]!;
      if (type === element || (type === property && edges[e + layout.edgeNameOffset] !== this.protoName)) count++;
    }
    return count;
  }

  /**
   * Entries of a Map's or Set's table. An entry is a row of slots (key, value, chain for
   * a Map; key, chain for a Set) and the snapshot names each slot by its number; numbers
   * and other small integers are not heap objects, so a row may show one slot or none.
   * A new row starts at the first slot past the previous row's key and value.
   */
  private tableRows(table: number, keyAndValue: 1 | 2): number {
    const { edges, layout } = this.snapshot;
    const { firstEdge } = this.tree;
    let rows = 0;
    let rowStart = -Infinity;
    for (let e = firstEdge[table]!, end = firstEdge[table + 1]!; e < end; e += this.efc) {
      if (edges[e + layout.edgeTypeOffset] !== layout.edgeType.internal) continue;
      const slot = this.slotNumber(edges[e + layout.edgeNameOffset]!);
      if (slot < 0) continue;
      if (slot >= rowStart + keyAndValue) {
        rows++;
        rowStart = slot;
      }
    }
    return rows;
  }

  /** The number a slot's edge name spells (`"17"` → 17), or -1 (cheaper than Number()). */
  private slotNumber(name: number): number {
    // Read in place: a large Map's table has a slot name per entry, none worth decoding.
    const strings = this.snapshot.stringTable;
    const length = strings.lengthOf(name);
    if (length === 0 || length > 9) return -1;
    let slot = 0;
    for (let i = 0; i < length; i++) {
      const digit = strings.charCodeAt(name, i) - 48;
      if (digit < 0 || digit > 9) return -1;
      slot = slot * 10 + digit;
    }
    return slot;
  }
}
