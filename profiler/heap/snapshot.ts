import type { StringTable } from './string-table.js';

/**
 * A loaded V8 heap snapshot, kept in V8's own flat layout: a node is an offset into
 * `nodes`, an edge an offset into `edges` (see the format notes in
 * https://github.com/v8/v8/blob/main/include/v8-profiler.h and DevTools'
 * HeapSnapshot.ts). Field positions are read from `meta` — never hard-coded: Node 20
 * writes 7 node fields, other V8 versions 6.
 */
export interface SnapshotMeta {
  node_fields: string[];
  /** The first element is the list of node type names; the rest describe other fields. */
  node_types: (string[] | string)[];
  edge_fields: string[];
  edge_types: (string[] | string)[];
  location_fields?: string[];
  trace_function_info_fields?: string[];
  trace_node_fields?: string[];
  sample_fields?: string[];
}

/** Offsets and type codes resolved once from `meta`, for hot loops. */
export interface SnapshotLayout {
  nodeFieldCount: number;
  nodeTypeOffset: number;
  nodeNameOffset: number;
  nodeIdOffset: number;
  nodeSelfSizeOffset: number;
  nodeEdgeCountOffset: number;
  /** -1 when the snapshot has no such field. */
  nodeTraceNodeIdOffset: number;
  nodeDetachednessOffset: number;
  edgeFieldCount: number;
  edgeTypeOffset: number;
  /** For element and hidden edges this field is an index, for the others a string index. */
  edgeNameOffset: number;
  edgeToNodeOffset: number;
  locationFieldCount: number;
  /** Node type names by code, e.g. nodeTypes[3] === 'object'. */
  nodeTypes: string[];
  edgeTypes: string[];
  /** Type codes, -1 when V8 does not write that type. */
  nodeType: Record<
    | 'hidden'
    | 'array'
    | 'string'
    | 'object'
    | 'code'
    | 'closure'
    | 'regexp'
    | 'number'
    | 'native'
    | 'synthetic'
    | 'concatenated string'
    | 'sliced string'
    | 'symbol'
    | 'bigint'
    | 'object shape',
    number
  >;
  edgeType: Record<'context' | 'element' | 'property' | 'internal' | 'hidden' | 'shortcut' | 'weak', number>;
}

export interface HeapSnapshot {
  meta: SnapshotMeta;
  layout: SnapshotLayout;
  nodeCount: number;
  edgeCount: number;
  /** nodeCount × layout.nodeFieldCount */
  nodes: Uint32Array;
  /** edgeCount × layout.edgeFieldCount; the to_node field holds a node *offset* into `nodes`. */
  edges: Uint32Array;
  /**
   * The snapshot's string table: `stringTable.get(i)` decodes one string (cached).
   * Prefer it in analyses: most strings are never read.
   */
  stringTable: StringTable;
  /**
   * The string table as one JS string per entry. Decoded in full on the first read
   * (hundreds of thousands of strings: costly in time and memory); kept for code that
   * wants an array.
   */
  strings: string[];
  /** Rows of meta.location_fields: object_index (a node offset), script_id, line, column (0-based). */
  locations: Uint32Array;
  /** Rows of meta.trace_function_info_fields (allocation tracking on); line and column 1-based, 0 unknown. */
  traceFunctionInfos?: Uint32Array;
  /**
   * The allocation trace tree (allocation tracking on), one row per tree node: the
   * fields of meta.trace_node_fields except `children`, then the parent's row number
   * (0xffffffff for the root). A node's `trace_node_id` names the row whose `id` field
   * equals it.
   */
  traceTree?: Uint32Array;
  samples?: Uint32Array;
  /** Warnings about odd data (an edge to nowhere, ...) with counts; never thrown. */
  warnings: string[];
}
