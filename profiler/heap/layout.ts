/**
 * Reads the field layout of a heap snapshot from its `snapshot.meta` header, checking
 * that it is one apptrace understands. Node 20 writes 7 node fields (with
 * `trace_node_id` and `detachedness`), other V8 versions 6: positions are looked up by
 * name, never assumed.
 */
import { AppError } from '../../contract/errors.js';
import type { SnapshotLayout, SnapshotMeta } from './snapshot.js';

const KNOWN_NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'];
const REQUIRED_NODE_FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count'];
const KNOWN_EDGE_FIELDS = ['type', 'name_or_index', 'to_node'];

/** The node types V8 writes, in the order of its `node_types[0]` (v8-profiler.h). */
export const NODE_TYPE_NAMES = [
  'hidden',
  'array',
  'string',
  'object',
  'code',
  'closure',
  'regexp',
  'number',
  'native',
  'synthetic',
  'concatenated string',
  'sliced string',
  'symbol',
  'bigint',
  'object shape',
] as const;
export const EDGE_TYPE_NAMES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'] as const;

function bad(message: string): never {
  throw new AppError('BAD_SNAPSHOT', message);
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    bad(`snapshot.meta.${what} is missing or not a list of names; is this a V8 heap snapshot?`);
  }
  return value as string[];
}

/** Resolves field offsets and type codes from `meta`; throws BAD_SNAPSHOT for a layout we do not know. */
export function layoutFromMeta(meta: unknown): SnapshotLayout {
  if (meta === null || typeof meta !== 'object') bad('snapshot.meta is missing; is this a V8 heap snapshot?');
  const m = meta as SnapshotMeta;
  const nodeFields = stringList(m.node_fields, 'node_fields');
  const edgeFields = stringList(m.edge_fields, 'edge_fields');
  for (const f of nodeFields) {
    if (!KNOWN_NODE_FIELDS.includes(f)) {
      bad(
        `unknown node field "${f}" in snapshot.meta.node_fields (known: ${KNOWN_NODE_FIELDS.join(', ')}); this snapshot format is not supported.`,
      );
    }
  }
  for (const f of REQUIRED_NODE_FIELDS) {
    if (!nodeFields.includes(f)) bad(`snapshot.meta.node_fields lacks "${f}"; this snapshot format is not supported.`);
  }
  for (const f of edgeFields) {
    if (!KNOWN_EDGE_FIELDS.includes(f)) {
      bad(
        `unknown edge field "${f}" in snapshot.meta.edge_fields (known: ${KNOWN_EDGE_FIELDS.join(', ')}); this snapshot format is not supported.`,
      );
    }
  }
  for (const f of KNOWN_EDGE_FIELDS) {
    if (!edgeFields.includes(f)) bad(`snapshot.meta.edge_fields lacks "${f}"; this snapshot format is not supported.`);
  }
  if (new Set(nodeFields).size !== nodeFields.length || new Set(edgeFields).size !== edgeFields.length) {
    bad('snapshot.meta lists a field twice; this snapshot format is not supported.');
  }
  const nodeTypeOffset = nodeFields.indexOf('type');
  const edgeTypeOffset = edgeFields.indexOf('type');
  const nodeTypes = stringList(
    Array.isArray(m.node_types) ? m.node_types[nodeTypeOffset] : undefined,
    'node_types[type]',
  );
  const edgeTypes = stringList(
    Array.isArray(m.edge_types) ? m.edge_types[edgeTypeOffset] : undefined,
    'edge_types[type]',
  );
  const nodeType = {} as SnapshotLayout['nodeType'];
  for (const name of NODE_TYPE_NAMES) nodeType[name] = nodeTypes.indexOf(name);
  const edgeType = {} as SnapshotLayout['edgeType'];
  for (const name of EDGE_TYPE_NAMES) edgeType[name] = edgeTypes.indexOf(name);
  if (edgeType.weak === -1 || edgeType.shortcut === -1 || nodeType.synthetic === -1) {
    bad(
      'snapshot.meta lacks the "weak"/"shortcut" edge types or the "synthetic" node type; this snapshot format is not supported.',
    );
  }
  const locationFields = m.location_fields ?? [];
  return {
    nodeFieldCount: nodeFields.length,
    nodeTypeOffset,
    nodeNameOffset: nodeFields.indexOf('name'),
    nodeIdOffset: nodeFields.indexOf('id'),
    nodeSelfSizeOffset: nodeFields.indexOf('self_size'),
    nodeEdgeCountOffset: nodeFields.indexOf('edge_count'),
    nodeTraceNodeIdOffset: nodeFields.indexOf('trace_node_id'),
    nodeDetachednessOffset: nodeFields.indexOf('detachedness'),
    edgeFieldCount: edgeFields.length,
    edgeTypeOffset,
    edgeNameOffset: edgeFields.indexOf('name_or_index'),
    edgeToNodeOffset: edgeFields.indexOf('to_node'),
    locationFieldCount: Array.isArray(locationFields) ? locationFields.length : 0,
    nodeTypes,
    edgeTypes,
    nodeType,
    edgeType,
  };
}
