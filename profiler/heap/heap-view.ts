/**
 * Short walks over a loaded snapshot's flat arrays, by node offset, for code that looks
 * at a few thousand nodes (module entries) rather than all of them: follow a named
 * edge, read a string node, find a closure's script and its URL.
 *
 * Names compared in these walks are tagged once (one byte per string-table entry), so
 * a walk compares small integers, never strings.
 */
import { LocationIndex } from './location-index.js';
import type { HeapSnapshot, SnapshotLayout } from './snapshot.js';
import type { StringTable } from './string-table.js';

/** The strings walks compare against: node names (`N…`) and edge names (`E…`). */
export const Tag = {
  NContext: 1,
  NNativeContext: 2,
  NScopeInfo: 3,
  NSourceTextModule: 4,
  NCell: 5,
  NClassPositions: 6,
  NModule: 7,
  NBuiltinModule: 8,
  NAnonymousShared: 9,
  EContext: 10,
  EShared: 11,
  EScriptOrDebugInfo: 12,
  EScript: 13,
  EPrevious: 14,
  EExtension: 15,
  EScopeInfo: 16,
  ENameOrScopeInfo: 17,
  EValue: 18,
  EExports: 19,
  EFilename: 20,
  ESource: 21,
  EName: 22,
  EFirst: 23,
  ESecond: 24,
  EProto: 25,
  EMap: 26,
} as const;

const TAGGED: [string, number][] = [
  ['system / Context', Tag.NContext],
  ['system / NativeContext', Tag.NNativeContext],
  ['system / ScopeInfo', Tag.NScopeInfo],
  ['system / SourceTextModule', Tag.NSourceTextModule],
  ['system / Cell', Tag.NCell],
  ['system / ClassPositions', Tag.NClassPositions],
  ['Module', Tag.NModule],
  ['BuiltinModule', Tag.NBuiltinModule],
  ['(shared function info)', Tag.NAnonymousShared],
  ['context', Tag.EContext],
  ['shared', Tag.EShared],
  ['script_or_debug_info', Tag.EScriptOrDebugInfo],
  ['script', Tag.EScript],
  ['previous', Tag.EPrevious],
  ['extension', Tag.EExtension],
  ['scope_info', Tag.EScopeInfo],
  ['name_or_scope_info', Tag.ENameOrScopeInfo],
  ['value', Tag.EValue],
  ['exports', Tag.EExports],
  ['filename', Tag.EFilename],
  ['source', Tag.ESource],
  ['name', Tag.EName],
  ['first', Tag.EFirst],
  ['second', Tag.ESecond],
  ['__proto__', Tag.EProto],
  ['map', Tag.EMap],
];

/** Longest cons string read back (script file names); longer ones are not names. */
const MAX_JOINED_STRING = 4096;

/** A tags entry not worked out yet (tags are small numbers, see Tag). */
const NOT_TAGGED_YET = 255;

export class HeapView {
  readonly nodes: Uint32Array;
  readonly edges: Uint32Array;
  readonly strings: StringTable;
  readonly nodeFieldCount: number;
  readonly edgeFieldCount: number;
  /** Node type codes (`t.closure`, …) and edge type codes (`e.context`, …). */
  readonly t: SnapshotLayout['nodeType'];
  readonly e: SnapshotLayout['edgeType'];
  /** Offset into `edges` of each node's first edge, by ordinal (nodeCount + 1 values). */
  readonly firstEdge: Uint32Array;
  readonly locations: LocationIndex;
  /** Field offsets and name tags, public for the few loops that visit every node. */
  readonly typeOffset: number;
  readonly nameOffset: number;
  private readonly idOffset: number;
  private readonly edgeTypeOffset: number;
  private readonly edgeNameOffset: number;
  private readonly edgeToOffset: number;
  /** Tags by string index, found on first use (NOT_TAGGED_YET until then). */
  private readonly tags: Uint8Array;
  private readonly tagOfString: (i: number) => number;
  private readonly scriptNames = new Map<number, string>();

  /**
   * @param firstEdge first-edge offsets as graph.ts builds them, when the caller has
   *   them; else they are built here.
   * @param scriptUrls script id → URL from `Debugger.scriptParsed` (live mode).
   */
  constructor(
    snapshot: HeapSnapshot,
    firstEdge: Uint32Array | undefined,
    private readonly scriptUrls: Map<number, string> | undefined,
  ) {
    const layout = snapshot.layout;
    this.nodes = snapshot.nodes;
    this.edges = snapshot.edges;
    this.strings = snapshot.stringTable;
    this.nodeFieldCount = layout.nodeFieldCount;
    this.edgeFieldCount = layout.edgeFieldCount;
    this.typeOffset = layout.nodeTypeOffset;
    this.nameOffset = layout.nodeNameOffset;
    this.idOffset = layout.nodeIdOffset;
    this.edgeTypeOffset = layout.edgeTypeOffset;
    this.edgeNameOffset = layout.edgeNameOffset;
    this.edgeToOffset = layout.edgeToNodeOffset;
    this.t = layout.nodeType;
    this.e = layout.edgeType;
    this.firstEdge = firstEdge ?? buildFirstEdge(snapshot);
    // Most of a snapshot's strings are never asked for (values, source text): each is
    // tagged when first looked at.
    this.tags = new Uint8Array(snapshot.stringTable.length).fill(NOT_TAGGED_YET);
    this.tagOfString = snapshot.stringTable.matcher(new Map(TAGGED));
    this.locations = new LocationIndex(snapshot);
  }

  type(node: number): number {
    return this.nodes[node + this.typeOffset]!;
  }

  /** The tag of string `i` (0 for strings no walk looks for). */
  tagOf(i: number): number {
    const tag = this.tags[i];
    if (tag !== NOT_TAGGED_YET) return tag ?? 0;
    return (this.tags[i] = this.tagOfString(i));
  }

  /** The tag of a node's name (0 for names no walk looks for). */
  nameTag(node: number): number {
    return this.tagOf(this.nodes[node + this.nameOffset]!);
  }

  name(node: number): string {
    return this.strings.get(this.nodes[node + this.nameOffset]!);
  }

  id(node: number): number {
    return this.nodes[node + this.idOffset]!;
  }

  edgesStart(node: number): number {
    return this.firstEdge[node / this.nodeFieldCount]!;
  }

  edgesEnd(node: number): number {
    return this.firstEdge[node / this.nodeFieldCount + 1]!;
  }

  edgeType(edge: number): number {
    return this.edges[edge + this.edgeTypeOffset]!;
  }

  /** True for edges whose name field is a string index (all but element and hidden). */
  namedEdge(edge: number): boolean {
    const type = this.edges[edge + this.edgeTypeOffset]!;
    return type !== this.e.element && type !== this.e.hidden;
  }

  /** The name of a named edge (property, context, internal, …). */
  edgeName(edge: number): string {
    return this.strings.get(this.edges[edge + this.edgeNameOffset]!);
  }

  edgeTag(edge: number): number {
    return this.namedEdge(edge) ? this.tagOf(this.edges[edge + this.edgeNameOffset]!) : 0;
  }

  /** The slot number of an array edge: a number for element/hidden edges, a numeric name otherwise. */
  slotIndex(edge: number): number {
    const raw = this.edges[edge + this.edgeNameOffset]!;
    return this.namedEdge(edge) ? Number(this.strings.get(raw)) : raw;
  }

  to(edge: number): number {
    return this.edges[edge + this.edgeToOffset]!;
  }

  /** The target of the first edge of `node` whose name has `tag`, or -1. */
  follow(node: number, tag: number): number {
    for (let edge = this.edgesStart(node), end = this.edgesEnd(node); edge < end; edge += this.edgeFieldCount) {
      if (this.edgeTag(edge) === tag) return this.to(edge);
    }
    return -1;
  }

  /** The text of a string node; cons strings are joined, sliced strings are not readable. */
  stringValue(node: number): string | undefined {
    const type = this.type(node);
    if (type === this.t.string) return this.name(node);
    if (type !== this.t['concatenated string']) return undefined;
    let text = '';
    const stack = [node];
    while (stack.length > 0) {
      const part = stack.pop()!;
      const partType = this.type(part);
      if (partType === this.t.string) {
        text += this.name(part);
      } else if (partType === this.t['concatenated string']) {
        const first = this.follow(part, Tag.EFirst);
        const second = this.follow(part, Tag.ESecond);
        if (first < 0 || second < 0) return undefined;
        stack.push(second, first);
      } else {
        return undefined;
      }
      if (text.length > MAX_JOINED_STRING) return undefined;
    }
    return text;
  }

  /** The variables of a Context: [name, value node] for each `context` edge. */
  contextVariables(context: number): [string, number][] {
    const result: [string, number][] = [];
    for (let edge = this.edgesStart(context), end = this.edgesEnd(context); edge < end; edge += this.edgeFieldCount) {
      if (this.edgeType(edge) !== this.e.context) continue;
      const name = this.edgeName(edge);
      // `.foo` slots are V8's own (generator object, import.meta, …).
      if (name.startsWith('.') || name === 'this') continue;
      result.push([name, this.to(edge)]);
    }
    return result;
  }

  /** closure → shared → script_or_debug_info (Node 20) / script → Script; -1 when there is none. */
  closureScript(closure: number): number {
    const shared = this.follow(closure, Tag.EShared);
    return shared < 0 ? -1 : this.sharedScript(shared);
  }

  sharedScript(shared: number): number {
    let script = this.follow(shared, Tag.EScriptOrDebugInfo);
    if (script < 0) script = this.follow(shared, Tag.EScript); // newer V8
    if (script < 0 || this.follow(script, Tag.ESource) >= 0) return script;
    // A function with breakpoints has a DebugInfo in that slot (`system / DebugInfo`);
    // the Script is one of its (hidden) edges: the child that has a `source`.
    for (let edge = this.edgesStart(script), end = this.edgesEnd(script); edge < end; edge += this.edgeFieldCount) {
      const child = this.to(edge);
      if (this.type(child) === this.t.code && this.follow(child, Tag.ESource) >= 0) return child;
    }
    return -1;
  }

  /** The name V8 gave a Script: a path for CommonJS, a file URL for ES modules. */
  scriptName(script: number): string {
    const cached = this.scriptNames.get(script);
    if (cached !== undefined) return cached;
    const nameNode = this.follow(script, Tag.EName);
    const name = (nameNode >= 0 ? this.stringValue(nameNode) : undefined) ?? this.name(script);
    this.scriptNames.set(script, name);
    return name;
  }

  /**
   * The URL of the script a closure belongs to: from the location's script id and the
   * `Debugger.scriptParsed` map when there is one, else from the heap's Script.
   */
  closureUrl(closure: number, script: number): string | undefined {
    if (this.scriptUrls !== undefined) {
      const row = this.locations.find(closure);
      if (row >= 0) {
        const url = this.scriptUrls.get(this.locations.scriptId(row));
        if (url !== undefined && url !== '') return url;
      }
    }
    return script >= 0 ? this.scriptName(script) : undefined;
  }
}

function buildFirstEdge(snapshot: HeapSnapshot): Uint32Array {
  const { nodes, layout, nodeCount } = snapshot;
  const first = new Uint32Array(nodeCount + 1);
  const fieldCount = layout.nodeFieldCount;
  const edgeFieldCount = layout.edgeFieldCount;
  let edge = 0;
  for (let ordinal = 0, offset = layout.nodeEdgeCountOffset; ordinal < nodeCount; ordinal++, offset += fieldCount) {
    first[ordinal] = edge;
    edge += nodes[offset]! * edgeFieldCount;
  }
  first[nodeCount] = edge;
  return first;
}
