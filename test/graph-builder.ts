/**
 * Builds small heap graphs by hand and writes them in V8's snapshot format, for tests
 * (DevTools tests its heap snapshot worker the same way).
 *
 * @example
 *   const g = new GraphBuilder();
 *   const root = g.node('synthetic', '', 0);
 *   const a = g.node('object', 'A', 10);
 *   g.edge(root, 'shortcut', 'a', a);
 *   const text = g.toJSON();
 */

import { EDGE_TYPE_NAMES, NODE_TYPE_NAMES } from '../profiler/heap/layout.js';

export const NODE_TYPES: string[] = [...NODE_TYPE_NAMES];
export const EDGE_TYPES: string[] = [...EDGE_TYPE_NAMES];

export interface BuiltNode {
  type: string;
  name: string;
  id: number;
  selfSize: number;
  edges: { type: string; name: string | number; to: number }[];
}

export interface BuildOptions {
  /** 7 (Node 20: with trace_node_id and detachedness) or 6 (without detachedness). */
  nodeFields?: 6 | 7;
  /** Extra strings appended to the string table (e.g. to test escapes). */
  extraStrings?: string[];
  /** Writes non-ASCII characters raw instead of as \u escapes (V8 escapes them). */
  rawUnicode?: boolean;
}

export class GraphBuilder {
  readonly nodes: BuiltNode[] = [];
  private nextId = 1;

  /** Adds a node; returns its index (the ordinal in the written snapshot). */
  node(type: string, name: string, selfSize: number, id?: number): number {
    if (!NODE_TYPES.includes(type)) throw new Error(`unknown node type ${type}`);
    this.nodes.push({ type, name, id: id ?? this.nextId, selfSize, edges: [] });
    this.nextId = Math.max(this.nextId, (id ?? this.nextId) + 2);
    return this.nodes.length - 1;
  }

  /** Adds an edge; `name` is a string for named edges, a number for element/hidden ones. */
  edge(from: number, type: string, name: string | number, to: number): void {
    if (!EDGE_TYPES.includes(type)) throw new Error(`unknown edge type ${type}`);
    this.nodes[from]!.edges.push({ type, name, to });
  }

  idOf(index: number): number {
    return this.nodes[index]!.id;
  }

  /** The snapshot as V8 writes it (one node per line, as `v8.writeHeapSnapshot` does). */
  toJSON(options: BuildOptions = {}): string {
    const nodeFields = options.nodeFields ?? 7;
    const fields =
      nodeFields === 7
        ? ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness']
        : ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id'];
    const strings: string[] = [];
    const index = new Map<string, number>();
    const str = (s: string): number => {
      let i = index.get(s);
      if (i === undefined) {
        i = strings.length;
        strings.push(s);
        index.set(s, i);
      }
      return i;
    };
    str('');
    const nodeRows: string[] = [];
    const edgeRows: string[] = [];
    let edgeCount = 0;
    for (const n of this.nodes) {
      const row = [NODE_TYPES.indexOf(n.type), str(n.name), n.id, n.selfSize, n.edges.length, 0];
      if (nodeFields === 7) row.push(0);
      nodeRows.push(row.join(','));
      for (const e of n.edges) {
        const name = typeof e.name === 'number' ? e.name : str(e.name);
        edgeRows.push([EDGE_TYPES.indexOf(e.type), name, e.to * nodeFields].join(','));
        edgeCount++;
      }
    }
    for (const s of options.extraStrings ?? []) strings.push(s);
    const meta = {
      node_fields: fields,
      node_types: [NODE_TYPES, 'string', 'number', 'number', 'number', 'number', 'number'].slice(0, nodeFields),
      edge_fields: ['type', 'name_or_index', 'to_node'],
      edge_types: [EDGE_TYPES, 'string_or_number', 'node'],
      trace_function_info_fields: ['function_id', 'name', 'script_name', 'script_id', 'line', 'column'],
      trace_node_fields: ['id', 'function_info_index', 'count', 'size', 'children'],
      sample_fields: ['timestamp_us', 'last_assigned_id'],
      location_fields: ['object_index', 'script_id', 'line', 'column'],
    };
    const header = JSON.stringify({
      meta,
      node_count: this.nodes.length,
      edge_count: edgeCount,
      trace_function_count: 0,
    });
    const encodedStrings = strings.map((s) => {
      const json = JSON.stringify(s);
      return options.rawUnicode
        ? json
        : json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    });
    return (
      `{"snapshot":${header},\n"nodes":[${nodeRows.join('\n,')}],\n"edges":[${edgeRows.join('\n,')}],\n` +
      `"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[],\n"strings":[${encodedStrings.join(',\n')}]}`
    );
  }
}
