/**
 * Module entries (DESIGN.md, "The record"): the top-level bindings of traced modules that
 * are alive in a heap snapshot, each with its retained size.
 *
 * Where V8 keeps them (seen in Node 20 snapshots, V8 11.3):
 * - A module's variables that some function captures live in the module's Context
 *   (`system / Context`, one `context` edge per variable, named after it). Variables no
 *   function captures live on the stack while the module runs and are gone afterwards.
 * - ES module: the module Context has an `extension` edge to its `system /
 *   SourceTextModule`. Exported bindings are not in the Context but in Cells of the
 *   module record's exports hash table (pairs: export name string, `system / Cell`;
 *   the Cell's `value` edge holds the value).
 * - CommonJS: the module Context is the context of Node's wrapper function; its
 *   `previous` is the NativeContext and its ScopeInfo has no outer ScopeInfo (the
 *   ScopeInfo chain mirrors the context chain). A top-level function's *call* context
 *   looks the same when the module itself allocated none, so candidates are checked
 *   further (see `isCommonjsModuleContext`). `module.exports` is read on its own, from
 *   the `Module` objects of `require.cache` (`filename` names the script, `exports`
 *   holds the exports object).
 * - A closure's script: `shared` → SharedFunctionInfo → `script_or_debug_info` (Node 20)
 *   or `script` → Script (`name`, `source`). Its line: the snapshot's `locations`
 *   (0-based line of the function's start; a class starts at its `class` keyword).
 *   Classes carry a `system / ClassPositions` property.
 *
 * Everything is done with a few linear passes over the flat arrays and short walks from
 * the nodes found; no per-node objects.
 */
import type { Entry } from '../record.js';
import { moduleDeclarations } from './declarations.js';
import type { ModuleDeclarations, ModuleKind } from './declarations.js';
import { scriptPath } from './module-match.js';
import type { HeapSnapshot } from './snapshot.js';

export interface EntryOptions {
  /** module_name (path relative to the app root) for a traced script URL/path, or undefined when not traced */
  traced(url: string): string | undefined;
  /** script id -> URL, from Debugger.scriptParsed (live mode). Without it, script names come from the heap itself (offline). */
  scriptUrls?: Map<number, string>;
  /** The source text of a script by URL, for declaration lines of variables; may return undefined. */
  source?(url: string): string | undefined;
  /**
   * A readable name for a script that is not traced (where an entry's function is
   * defined); defaults to the file path, or the URL for non-file scripts.
   */
  filename?(url: string): string;
  /**
   * Offsets into `snapshot.edges` of each node's first edge (nodeCount + 1 values, the
   * last one `edges.length`), when the caller has built them already; else built here.
   */
  firstEdge?: Uint32Array;
}

/** Names of CommonJS wrapper parameters: captured by many modules, never entries themselves. */
const WRAPPER_PARAMETERS = new Set(['exports', 'require', 'module', '__filename', '__dirname']);

/** V8 truncates strings in a snapshot to this many characters; a shorter source is whole. */
const SNAPSHOT_STRING_LIMIT = 1024;

// Tags for the strings the walk compares against; one byte per string-table entry.
const N_CONTEXT = 1;
const N_NATIVE_CONTEXT = 2;
const N_SCOPE_INFO = 3;
const N_SOURCE_TEXT_MODULE = 4;
const N_CELL = 5;
const N_CLASS_POSITIONS = 6;
const N_MODULE = 7;
const N_BUILTIN_MODULE = 8;
const N_ODDBALL = 9;
const E_CONTEXT = 10;
const E_SHARED = 11;
const E_SCRIPT_OR_DEBUG_INFO = 12;
const E_SCRIPT = 13;
const E_PREVIOUS = 14;
const E_EXTENSION = 15;
const E_SCOPE_INFO = 16;
const E_NAME_OR_SCOPE_INFO = 17;
const E_VALUE = 18;
const E_EXPORTS = 19;
const E_FILENAME = 20;
const E_SOURCE = 21;
const E_NAME = 22;
const E_FIRST = 23;
const E_SECOND = 24;
const E_PROTO = 25;
const N_ANONYMOUS_SFI = 26;
const E_MAP = 27;

const TAGGED_STRINGS: [string, number][] = [
  ['system / Context', N_CONTEXT],
  ['system / NativeContext', N_NATIVE_CONTEXT],
  ['system / ScopeInfo', N_SCOPE_INFO],
  ['system / SourceTextModule', N_SOURCE_TEXT_MODULE],
  ['system / Cell', N_CELL],
  ['system / ClassPositions', N_CLASS_POSITIONS],
  ['Module', N_MODULE],
  ['BuiltinModule', N_BUILTIN_MODULE],
  ['system / Oddball', N_ODDBALL],
  ['context', E_CONTEXT],
  ['shared', E_SHARED],
  ['script_or_debug_info', E_SCRIPT_OR_DEBUG_INFO],
  ['script', E_SCRIPT],
  ['previous', E_PREVIOUS],
  ['extension', E_EXTENSION],
  ['scope_info', E_SCOPE_INFO],
  ['name_or_scope_info', E_NAME_OR_SCOPE_INFO],
  ['value', E_VALUE],
  ['exports', E_EXPORTS],
  ['filename', E_FILENAME],
  ['source', E_SOURCE],
  ['name', E_NAME],
  ['first', E_FIRST],
  ['second', E_SECOND],
  ['__proto__', E_PROTO],
  ['(shared function info)', N_ANONYMOUS_SFI],
  ['map', E_MAP],
];

/** A module Context that may hold a traced module's variables. */
interface ContextCandidate {
  kind: ModuleKind;
  context: number;
  scopeInfo: number;
  /** The module record, for ES modules. */
  moduleRecord: number;
  /** The Script node, found through one of the context's closures; -1 until found. */
  script: number;
  url: string;
  moduleName: string | undefined;
}

/** What the entries of one traced module are built from. */
interface TracedModule {
  moduleName: string;
  kind: ModuleKind;
  url: string;
  script: number;
  contexts: ContextCandidate[];
  /** CommonJS exports objects (from `Module` objects); usually one. */
  exportsObjects: number[];
}

/**
 * Finds the entries of the traced modules in a snapshot.
 *
 * @param retained retained size per node ordinal (node offset / node field count)
 * @example
 *   const modules = createModuleMatcher({ root: process.cwd() });
 *   const entries = findEntries(snapshot, retainedSizes, { ...modules, source: readScriptSource });
 */
export function findEntries(snapshot: HeapSnapshot, retained: Float64Array, options: EntryOptions): Entry[] {
  return new EntryFinder(snapshot, retained, options).run();
}

class EntryFinder {
  private readonly nodes: Uint32Array;
  private readonly edges: Uint32Array;
  private readonly strings: string[];
  private readonly nodeFieldCount: number;
  private readonly edgeFieldCount: number;
  private readonly typeOffset: number;
  private readonly nameOffset: number;
  private readonly idOffset: number;
  private readonly edgeTypeOffset: number;
  private readonly edgeNameOffset: number;
  private readonly edgeToOffset: number;
  /** Offset into `edges` of each node's first edge (nodeCount + 1 values); filled by the first pass. */
  private readonly firstEdge: Uint32Array;
  private readonly tags: Uint8Array;
  private readonly t: HeapSnapshot['layout']['nodeType'];
  private readonly e: HeapSnapshot['layout']['edgeType'];
  private readonly locations: LocationIndex;
  private readonly haveFirstEdge: boolean;
  private readonly scriptUrlCache = new Map<number, string>();
  private readonly declarationCache = new Map<string, ModuleDeclarations | undefined>();
  /** Lazily built: values that belong to another module (its exports object or their properties). */
  private foreign: Map<number, string> | undefined;
  /** `Module` (CommonJS) and `BuiltinModule` objects, found by the first pass. */
  private moduleObjects: number[] = [];
  private readonly builtinModules: number[] = [];

  constructor(
    private readonly snapshot: HeapSnapshot,
    private readonly retained: Float64Array,
    private readonly options: EntryOptions,
  ) {
    const layout = snapshot.layout;
    this.nodes = snapshot.nodes;
    this.edges = snapshot.edges;
    this.strings = snapshot.strings;
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
    this.firstEdge = options.firstEdge ?? new Uint32Array(snapshot.nodeCount + 1);
    this.haveFirstEdge = options.firstEdge !== undefined;
    this.tags = tagStrings(snapshot.strings);
    this.locations = new LocationIndex(snapshot);
  }

  run(): Entry[] {
    const modules = this.tracedModules();
    const entries: Entry[] = [];
    for (const module of modules.values()) entries.push(...this.moduleEntries(module));
    entries.sort((a, b) =>
      a.module_name === b.module_name
        ? a.lineno - b.lineno || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
        : a.module_name < b.module_name
          ? -1
          : 1,
    );
    return entries;
  }

  // ---- small accessors over the flat arrays ----

  private type(node: number): number {
    return this.nodes[node + this.typeOffset]!;
  }

  private nameTag(node: number): number {
    return this.tags[this.nodes[node + this.nameOffset]!]!;
  }

  private name(node: number): string {
    return this.strings[this.nodes[node + this.nameOffset]!]!;
  }

  private edgesStart(node: number): number {
    return this.firstEdge[node / this.nodeFieldCount]!;
  }

  private edgesEnd(node: number): number {
    return this.firstEdge[node / this.nodeFieldCount + 1]!;
  }

  /** True for edges whose name field is a string index (all but element and hidden). */
  private namedEdge(edge: number): boolean {
    const type = this.edges[edge + this.edgeTypeOffset]!;
    return type !== this.e.element && type !== this.e.hidden;
  }

  private edgeTag(edge: number): number {
    return this.namedEdge(edge) ? this.tags[this.edges[edge + this.edgeNameOffset]!]! : 0;
  }

  private to(edge: number): number {
    return this.edges[edge + this.edgeToOffset]!;
  }

  /** The target of the first edge of `node` named by `tag` (internal or property), or -1. */
  private follow(node: number, tag: number): number {
    for (let edge = this.edgesStart(node), end = this.edgesEnd(node); edge < end; edge += this.edgeFieldCount) {
      if (this.edgeTag(edge) === tag) return this.to(edge);
    }
    return -1;
  }

  /** The text of a string node; cons strings are joined, sliced strings are not readable. */
  private stringValue(node: number): string | undefined {
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
        const first = this.follow(part, E_FIRST);
        const second = this.follow(part, E_SECOND);
        if (first < 0 || second < 0) return undefined;
        stack.push(second, first);
      } else {
        return undefined;
      }
      if (text.length > 4096) return undefined;
    }
    return text;
  }

  // ---- scripts ----

  /** closure → shared → script_or_debug_info / script → Script; -1 when there is none. */
  private closureScript(closure: number): number {
    const shared = this.follow(closure, E_SHARED);
    return shared < 0 ? -1 : this.sharedScript(shared);
  }

  private sharedScript(shared: number): number {
    let script = this.follow(shared, E_SCRIPT_OR_DEBUG_INFO);
    if (script < 0) script = this.follow(shared, E_SCRIPT);
    if (script < 0) return -1;
    // With a DebugInfo in between (breakpoints), the Script is one step further.
    if (this.follow(script, E_SOURCE) < 0) {
      const behind = this.follow(script, E_SCRIPT);
      if (behind >= 0) script = behind;
    }
    return script;
  }

  /** The name V8 gave a Script: a path for CommonJS, a file URL for ES modules. */
  private scriptName(script: number): string {
    const cached = this.scriptUrlCache.get(script);
    if (cached !== undefined) return cached;
    const nameNode = this.follow(script, E_NAME);
    const name = (nameNode >= 0 ? this.stringValue(nameNode) : undefined) ?? this.name(script);
    this.scriptUrlCache.set(script, name);
    return name;
  }

  /**
   * The URL of the script a closure belongs to: from the location's script id and the
   * `Debugger.scriptParsed` map when there is one, else from the heap's Script.
   */
  private closureUrl(closure: number, script: number): string | undefined {
    const urls = this.options.scriptUrls;
    if (urls !== undefined) {
      const row = this.locations.find(closure);
      if (row >= 0) {
        const url = urls.get(this.locations.scriptId(row));
        if (url !== undefined && url !== '') return url;
      }
    }
    return script >= 0 ? this.scriptName(script) : undefined;
  }

  private sourceOf(url: string, script: number): string | undefined {
    const fromOptions = this.options.source?.(url);
    if (fromOptions !== undefined) return fromOptions;
    if (script < 0) return undefined;
    const sourceNode = this.follow(script, E_SOURCE);
    if (sourceNode < 0 || this.type(sourceNode) !== this.t.string) return undefined;
    const text = this.name(sourceNode);
    return text.length < SNAPSHOT_STRING_LIMIT ? text : undefined;
  }

  private declarations(module: TracedModule): ModuleDeclarations | undefined {
    const key = `${module.kind}\u0000${module.url}`;
    if (this.declarationCache.has(key)) return this.declarationCache.get(key);
    const source = this.sourceOf(module.url, module.script);
    const result = source === undefined ? undefined : moduleDeclarations(source, module.kind);
    this.declarationCache.set(key, result);
    return result;
  }

  private filenameOf(url: string): string {
    return this.options.traced(url) ?? this.options.filename?.(url) ?? scriptPath(url) ?? url;
  }

  // ---- finding the traced modules ----

  private tracedModules(): Map<string, TracedModule> {
    const { nodes, nodeFieldCount } = this;
    const candidates = new Map<number, ContextCandidate>();
    const outermostScopeInfo = new Map<number, boolean>();
    const moduleObjects: number[] = [];

    // One pass over the nodes builds the first-edge index (unless given) and collects
    // what the rest looks at. Contexts are judged after it: that follows edges of
    // nodes further on.
    const closures: number[] = [];
    const contexts: number[] = [];
    const closureType = this.t.closure;
    const objectType = this.t.object;
    const hiddenType = this.t.hidden;
    const { firstEdge, typeOffset, nameOffset, tags } = this;
    const edgeCountOffset = this.snapshot.layout.nodeEdgeCountOffset;
    const edgeFieldCount = this.edgeFieldCount;
    const fillFirstEdge = !this.haveFirstEdge;
    let edge = 0;
    for (let node = 0, ordinal = 0; node < nodes.length; node += nodeFieldCount, ordinal++) {
      if (fillFirstEdge) {
        firstEdge[ordinal] = edge;
        edge += nodes[node + edgeCountOffset]! * edgeFieldCount;
      }
      const type = nodes[node + typeOffset]!;
      if (type === closureType) {
        closures.push(node);
      } else if (type === objectType || type === hiddenType) {
        const tag = tags[nodes[node + nameOffset]!]!;
        if (tag === N_CONTEXT) contexts.push(node);
        else if (tag === N_MODULE && type === objectType) moduleObjects.push(node);
        else if (tag === N_BUILTIN_MODULE && type === objectType) this.builtinModules.push(node);
      }
    }
    if (fillFirstEdge) firstEdge[this.snapshot.nodeCount] = edge;
    for (const node of contexts) {
      const candidate = this.contextCandidate(node, outermostScopeInfo);
      if (candidate !== undefined) candidates.set(node, candidate);
    }
    this.moduleObjects = moduleObjects;

    // A context's script is the script of the closures created in it.
    const resolve = (candidate: ContextCandidate, closure: number) => {
      const script = this.closureScript(closure);
      if (script < 0) return;
      candidate.script = script;
      candidate.url = this.closureUrl(closure, script) ?? '';
      candidate.moduleName = candidate.url === '' ? undefined : this.options.traced(candidate.url);
    };
    let unresolved = 0;
    if (candidates.size > 0) {
      for (const node of closures) {
        const context = this.follow(node, E_CONTEXT);
        const candidate = context < 0 ? undefined : candidates.get(context);
        if (candidate !== undefined && candidate.script < 0) resolve(candidate, node);
      }
      for (const candidate of candidates.values()) if (candidate.script < 0) unresolved++;
    }
    if (unresolved > 0) this.resolveThroughInnerContexts(candidates, contexts, closures, resolve);

    const modules = new Map<string, TracedModule>();
    const moduleFor = (moduleName: string, kind: ModuleKind, url: string, script: number): TracedModule => {
      let module = modules.get(moduleName);
      if (module === undefined) {
        module = { moduleName, kind, url, script, contexts: [], exportsObjects: [] };
        modules.set(moduleName, module);
      } else if (module.script < 0 && script >= 0) {
        module.script = script;
      }
      return module;
    };

    for (const candidate of candidates.values()) {
      if (candidate.moduleName === undefined) continue;
      moduleFor(candidate.moduleName, candidate.kind, candidate.url, candidate.script).contexts.push(candidate);
    }

    // CommonJS: `Module` objects (require.cache) give module.exports.
    const urlByModule = this.urlsByModule();
    for (const moduleObject of moduleObjects) {
      const exportsObject = this.follow(moduleObject, E_EXPORTS);
      const filenameNode = this.follow(moduleObject, E_FILENAME);
      if (exportsObject < 0 || filenameNode < 0) continue;
      const filename = this.stringValue(filenameNode);
      if (filename === undefined) continue;
      const moduleName = this.options.traced(filename);
      if (moduleName === undefined) continue;
      const url = urlByModule.get(moduleName) ?? filename;
      moduleFor(moduleName, 'commonjs', url, -1).exportsObjects.push(exportsObject);
    }

    // A module loaded more than once (a reload with `?t=…`, a require.cache purge) has an
    // instance per load: the newest one (highest node id) names the entries.
    const newestFirst = (a: number, b: number) => this.nodes[b + this.idOffset]! - this.nodes[a + this.idOffset]!;
    for (const module of modules.values()) {
      module.contexts.sort((a, b) => newestFirst(a.context, b.context));
      module.exportsObjects.sort(newestFirst);
      if (module.kind === 'commonjs') module.contexts = this.commonjsModuleContexts(module);
    }
    return modules;
  }

  /**
   * A module Context without a live closure of its own (the functions created in it are
   * gone) is still reachable from the contexts of calls made in it: `previous` chains.
   * Their closures belong to the same script.
   */
  private resolveThroughInnerContexts(
    candidates: Map<number, ContextCandidate>,
    contexts: number[],
    closures: number[],
    resolve: (candidate: ContextCandidate, closure: number) => void,
  ): void {
    const owner = new Map<number, ContextCandidate>();
    for (const candidate of candidates.values()) if (candidate.script < 0) owner.set(candidate.context, candidate);
    const inner = new Map<number, ContextCandidate>();
    // A few levels of nesting; each level is one pass over the contexts.
    for (let level = 0; level < 8; level++) {
      let added = 0;
      for (const context of contexts) {
        if (inner.has(context) || owner.has(context)) continue;
        const previous = this.follow(context, E_PREVIOUS);
        const candidate = owner.get(previous) ?? inner.get(previous);
        if (candidate !== undefined) {
          inner.set(context, candidate);
          added++;
        }
      }
      if (added === 0) break;
    }
    if (inner.size === 0) return;
    for (const node of closures) {
      const candidate = inner.get(this.follow(node, E_CONTEXT));
      if (candidate !== undefined && candidate.script < 0) resolve(candidate, node);
    }
  }

  /** Live mode: the scriptParsed URL of each traced module, so `source()` gets the URL it knows. */
  private urlsByModule(): Map<string, string> {
    const byModule = new Map<string, string>();
    for (const url of this.options.scriptUrls?.values() ?? []) {
      const moduleName = this.options.traced(url);
      if (moduleName !== undefined && !byModule.has(moduleName)) byModule.set(moduleName, url);
    }
    return byModule;
  }

  /**
   * Is this Context a module's own context? ES modules: its `extension` is the module
   * record. CommonJS candidates: the outermost context of a function (`previous` is not
   * another Context and the ScopeInfo has no outer ScopeInfo) — checked further later.
   */
  private contextCandidate(context: number, outermost: Map<number, boolean>): ContextCandidate | undefined {
    let extension = -1;
    let previous = -1;
    let scopeInfo = -1;
    for (let edge = this.edgesStart(context), end = this.edgesEnd(context); edge < end; edge += this.edgeFieldCount) {
      const tag = this.edgeTag(edge);
      if (tag === E_EXTENSION) extension = this.to(edge);
      else if (tag === E_PREVIOUS) previous = this.to(edge);
      else if (tag === E_SCOPE_INFO) scopeInfo = this.to(edge);
    }
    const base = { context, scopeInfo, script: -1, url: '', moduleName: undefined };
    if (extension >= 0 && this.nameTag(extension) === N_SOURCE_TEXT_MODULE) {
      return { ...base, kind: 'module', moduleRecord: extension };
    }
    if (scopeInfo < 0 || previous < 0 || this.nameTag(previous) === N_CONTEXT) return undefined;
    let isOutermost = outermost.get(scopeInfo);
    if (isOutermost === undefined) {
      isOutermost = true;
      for (let edge = this.edgesStart(scopeInfo), end = this.edgesEnd(scopeInfo); edge < end; edge += this.edgeFieldCount) {
        if (this.nameTag(this.to(edge)) === N_SCOPE_INFO) {
          isOutermost = false;
          break;
        }
      }
      outermost.set(scopeInfo, isOutermost);
    }
    return isOutermost ? { ...base, kind: 'commonjs', moduleRecord: -1 } : undefined;
  }

  /**
   * Keeps, among a CommonJS module's candidate contexts, the module's own one. A
   * top-level function's call context looks like a module context when the module
   * itself captured nothing; it is told apart by (1) its ScopeInfo belonging to a named
   * function of the script, (2) holding variables the module does not declare at top
   * level (when the source is known), (3) sharing its ScopeInfo with other live
   * contexts (a function called more than once).
   */
  private commonjsModuleContexts(module: TracedModule): ContextCandidate[] {
    if (module.contexts.length === 0) return [];
    const namedScopeInfos = this.namedFunctionScopeInfos(module.script);
    const declarations = this.declarations(module);
    let kept = module.contexts.filter((candidate) => {
      if (namedScopeInfos.has(candidate.scopeInfo)) return false;
      if (declarations === undefined) return true;
      let variables = 0;
      for (const [name] of this.contextVariables(candidate.context)) {
        if (!declarations.locals.has(name)) return false;
        variables++;
      }
      return variables > 0;
    });
    if (kept.length > 1) {
      const perScopeInfo = new Map<number, number>();
      for (const c of kept) perScopeInfo.set(c.scopeInfo, (perScopeInfo.get(c.scopeInfo) ?? 0) + 1);
      const unique = kept.filter((c) => perScopeInfo.get(c.scopeInfo) === 1);
      if (unique.length > 0) kept = unique;
    }
    if (kept.length > 1) {
      let best = kept[0]!;
      let bestCount = -1;
      for (const c of kept) {
        const count = this.contextVariables(c.context).length;
        if (count > bestCount) [best, bestCount] = [c, count];
      }
      kept = [best];
    }
    return kept;
  }

  /** ScopeInfos that are the own scope of a named function of this script. */
  private namedFunctionScopeInfos(script: number): Set<number> {
    const result = new Set<number>();
    if (script < 0) return result;
    // Script → its list of SharedFunctionInfos (a WeakFixedArray) → each one's ScopeInfo.
    for (let edge = this.edgesStart(script), end = this.edgesEnd(script); edge < end; edge += this.edgeFieldCount) {
      const list = this.to(edge);
      if (this.type(list) === this.t.string) continue;
      for (let inner = this.edgesStart(list), innerEnd = this.edgesEnd(list); inner < innerEnd; inner += this.edgeFieldCount) {
        const shared = this.to(inner);
        if (this.type(shared) !== this.t.code || this.nameTag(shared) === N_ANONYMOUS_SFI || this.name(shared) === '') continue;
        const scopeInfo = this.follow(shared, E_NAME_OR_SCOPE_INFO);
        if (scopeInfo >= 0 && this.nameTag(scopeInfo) === N_SCOPE_INFO) result.add(scopeInfo);
      }
    }
    return result;
  }

  /** The variables of a Context: [name, value node] for each `context` edge. */
  private contextVariables(context: number): [string, number][] {
    const result: [string, number][] = [];
    for (let edge = this.edgesStart(context), end = this.edgesEnd(context); edge < end; edge += this.edgeFieldCount) {
      if (this.edges[edge + this.edgeTypeOffset] !== this.e.context) continue;
      const name = this.strings[this.edges[edge + this.edgeNameOffset]!]!;
      if (name.startsWith('.') || name === 'this') continue;
      result.push([name, this.to(edge)]);
    }
    return result;
  }

  /**
   * An ES module's exported bindings: [export name, value] from the exports hash table.
   * V8 also caches resolved re-exports (`export … from`, `export *`) in that table, so
   * only the Cells of the module's own exports count: those in its array of Cells
   * (the module record's regular exports).
   */
  private moduleExports(moduleRecord: number): [string, number][] {
    const pairs: [string, number][] = [];
    let ownCells: Set<number> | undefined;
    for (let edge = this.edgesStart(moduleRecord), end = this.edgesEnd(moduleRecord); edge < end; edge += this.edgeFieldCount) {
      const array = this.to(edge);
      if (this.type(array) !== this.t.array) continue;
      // The hash table stores key, value pairs in consecutive slots: a name string, then its Cell.
      let keyIndex = -2;
      let key: string | undefined;
      let cells = 0;
      let others = 0;
      const found: [string, number][] = [];
      for (let inner = this.edgesStart(array), innerEnd = this.edgesEnd(array); inner < innerEnd; inner += this.edgeFieldCount) {
        const target = this.to(inner);
        if (this.nameTag(target) === N_CELL) {
          cells++;
          if (key !== undefined && this.slotIndex(inner) === keyIndex + 1) found.push([key, target]);
          key = undefined;
        } else if (this.type(target) === this.t.string) {
          others++;
          keyIndex = this.slotIndex(inner);
          key = this.name(target);
        } else if (this.edgeTag(inner) !== E_MAP) {
          others++; // anything but the array's own `map`
        }
      }
      if (found.length > 0 && pairs.length === 0) pairs.push(...found);
      else if (cells > 0 && others === 0 && ownCells === undefined) {
        ownCells = new Set();
        for (let inner = this.edgesStart(array), innerEnd = this.edgesEnd(array); inner < innerEnd; inner += this.edgeFieldCount) {
          ownCells.add(this.to(inner));
        }
      }
    }
    const result: [string, number][] = [];
    for (const [key, cell] of pairs) {
      if (ownCells !== undefined && !ownCells.has(cell)) continue;
      const value = this.follow(cell, E_VALUE);
      if (value >= 0) result.push([key, value]);
    }
    return result;
  }

  /** The slot number of an array edge: a number for element/hidden edges, a numeric name otherwise. */
  private slotIndex(edge: number): number {
    const raw = this.edges[edge + this.edgeNameOffset]!;
    return this.namedEdge(edge) ? Number(this.strings[raw]) : raw;
  }

  // ---- entries ----

  private moduleEntries(module: TracedModule): Entry[] {
    const byName = new Map<string, Entry>();
    // One object bound twice (`module.exports = { cache }` with `cache` captured) is one entry.
    const seen = new Set<number>();
    const declarations = this.declarations(module);
    const add = (name: string, value: number, line: number | undefined) => {
      if (byName.has(name) || seen.has(value) || !this.isEntryValue(value)) return;
      if (this.belongsElsewhere(value, module.moduleName)) return;
      seen.add(value);
      byName.set(name, this.entry(module, name, value, line));
    };

    for (const candidate of module.contexts) {
      for (const [name, value] of this.contextVariables(candidate.context)) {
        if (module.kind === 'commonjs' && WRAPPER_PARAMETERS.has(name)) continue;
        add(name, value, declarations?.localLine(name));
      }
      if (candidate.moduleRecord >= 0) {
        for (const [name, value] of this.moduleExports(candidate.moduleRecord)) {
          if (declarations !== undefined && declarations.localExport(name) === undefined) continue;
          add(name, value, declarations?.localExport(name)?.line);
        }
      }
    }

    for (const exportsObject of module.exportsObjects) {
      if (this.type(exportsObject) === this.t.object && this.name(exportsObject) === 'Object') {
        for (let edge = this.edgesStart(exportsObject), end = this.edgesEnd(exportsObject); edge < end; edge += this.edgeFieldCount) {
          if (this.edges[edge + this.edgeTypeOffset] !== this.e.property) continue;
          const name = this.strings[this.edges[edge + this.edgeNameOffset]!]!;
          if (name === '__proto__' || name.startsWith('<symbol')) continue;
          add(name, this.to(edge), declarations?.commonjsExportLine(name));
        }
      } else if (this.isEntryValue(exportsObject)) {
        add('module.exports', exportsObject, declarations?.commonjsExportLine('module.exports'));
      }
    }
    return [...byName.values()];
  }

  /** Values that are objects of the program, not V8's bookkeeping (undefined, the hole, …). */
  private isEntryValue(node: number): boolean {
    const type = this.type(node);
    return type !== this.t.hidden && type !== this.t.code && type !== this.t['object shape'] && type !== this.t.synthetic;
  }

  /**
   * True for a value that another module owns: its exports object, a property of it, or
   * an ES module namespace. `const { EventEmitter } = require('node:events')` is an
   * import, not state of this module.
   */
  private belongsElsewhere(value: number, moduleName: string): boolean {
    if (this.type(value) === this.t.object && this.nameTag(value) === N_MODULE) {
      for (let edge = this.edgesStart(value), end = this.edgesEnd(value); edge < end; edge += this.edgeFieldCount) {
        if (this.nameTag(this.to(edge)) === N_SOURCE_TEXT_MODULE) return true;
      }
    }
    this.foreign ??= this.foreignValues();
    const isForeign = (node: number) => {
      const owner = this.foreign!.get(node);
      return owner !== undefined && owner !== moduleName;
    };
    if (isForeign(value)) return true;
    // TypeScript's CommonJS output wraps imports: `const x_1 = __importDefault(require('x'))`
    // is `{ default: <x's exports> }`, `__importStar` adds getters. An object that only
    // holds other modules' values (and accessors) is such a wrapper.
    if (this.type(value) !== this.t.object || this.name(value) !== 'Object') return false;
    let foreignCount = 0;
    for (let edge = this.edgesStart(value), end = this.edgesEnd(value); edge < end; edge += this.edgeFieldCount) {
      if (this.edges[edge + this.edgeTypeOffset] !== this.e.property || this.edgeTag(edge) === E_PROTO) continue;
      const target = this.to(edge);
      const name = this.strings[this.edges[edge + this.edgeNameOffset]!]!;
      if (!this.isEntryValue(target) || name.startsWith('get ') || name.startsWith('set ')) continue;
      if (!isForeign(target)) return false;
      foreignCount++;
    }
    return foreignCount > 0;
  }

  /** Every module's exports object and its direct properties, with the owning module. */
  private foreignValues(): Map<number, string> {
    const owners = new Map<number, string>();
    for (const node of [...this.moduleObjects, ...this.builtinModules]) {
      const tag = this.nameTag(node);
      const exportsObject = this.follow(node, E_EXPORTS);
      const filenameNode = this.follow(node, E_FILENAME);
      if (exportsObject < 0 || filenameNode < 0) continue;
      const filename = this.stringValue(filenameNode) ?? '';
      const owner = (tag === N_MODULE ? this.options.traced(filename) : undefined) ?? `\u0000${filename}`;
      if (!owners.has(exportsObject)) owners.set(exportsObject, owner);
      for (let edge = this.edgesStart(exportsObject), end = this.edgesEnd(exportsObject); edge < end; edge += this.edgeFieldCount) {
        if (this.edges[edge + this.edgeTypeOffset] !== this.e.property || this.edgeTag(edge) === E_PROTO) continue;
        const target = this.to(edge);
        if (!owners.has(target)) owners.set(target, owner);
      }
    }
    return owners;
  }

  private entry(module: TracedModule, name: string, value: number, declaredLine: number | undefined): Entry {
    const ordinal = value / this.nodeFieldCount;
    const base = {
      name,
      dominated_size: this.retained[ordinal] ?? 0,
      module_name: module.moduleName,
      id: this.nodes[value + this.idOffset]!,
    };
    if (this.type(value) === this.t.closure) {
      return { ...base, ...this.closureDefinition(value, module, declaredLine) };
    }
    return { ...base, obj_type: this.objectType(value), filename: module.moduleName, lineno: declaredLine ?? 1 };
  }

  /** Where a function or class is defined, and which of the two it is. */
  private closureDefinition(
    closure: number,
    module: TracedModule,
    declaredLine: number | undefined,
  ): Pick<Entry, 'obj_type' | 'filename' | 'lineno'> {
    const script = this.closureScript(closure);
    const url = this.closureUrl(closure, script);
    const row = this.locations.find(closure);
    const filename = url === undefined ? module.moduleName : this.filenameOf(url);
    let isClass = false;
    for (let edge = this.edgesStart(closure), end = this.edgesEnd(closure); edge < end; edge += this.edgeFieldCount) {
      if (this.edges[edge + this.edgeTypeOffset] === this.e.property && this.nameTag(this.to(edge)) === N_CLASS_POSITIONS) {
        isClass = true;
        break;
      }
    }
    if (row < 0) {
      return { obj_type: isClass ? 'class' : 'function', filename, lineno: declaredLine ?? 1 };
    }
    const line = this.locations.line(row);
    if (!isClass && url !== undefined) {
      // A second opinion from the source: a class's location is its `class` keyword.
      const sameModule = this.options.traced(url) === module.moduleName;
      const declarations = sameModule
        ? this.declarations(module)
        : (() => {
            const source = this.sourceOf(url, script);
            return source === undefined ? undefined : moduleDeclarations(source, module.kind);
          })();
      isClass = declarations?.isClassAt(line, this.locations.column(row)) ?? false;
    }
    return { obj_type: isClass ? 'class' : 'function', filename, lineno: line + 1 };
  }

  /** The constructor name for objects, a primitive's type name otherwise. */
  private objectType(node: number): string {
    const type = this.type(node);
    const t = this.t;
    if (type === t.string || type === t['concatenated string'] || type === t['sliced string']) return 'string';
    if (type === t.number) return 'number';
    if (type === t.symbol) return 'symbol';
    if (type === t.bigint) return 'bigint';
    if (type === t.regexp) return 'RegExp';
    if (type === t.array) return 'Array';
    const name = this.name(node);
    return name === '' ? 'Object' : name;
  }
}

function tagStrings(strings: string[]): Uint8Array {
  const tags = new Uint8Array(strings.length);
  const wanted = new Map(TAGGED_STRINGS);
  // Most strings are values of the program; comparing lengths first skips them cheaply.
  const lengths = new Uint8Array(64);
  for (const [name] of TAGGED_STRINGS) lengths[name.length] = 1;
  for (let i = 0; i < strings.length; i++) {
    const length = strings[i]!.length;
    if (length >= 64 || lengths[length] === 0) continue;
    const tag = wanted.get(strings[i]!);
    if (tag !== undefined) tags[i] = tag;
  }
  return tags;
}

/**
 * Finds a node's row in the snapshot's `locations` (object_index, script_id, line,
 * column). V8 writes them in node order, so a binary search works; a map is the
 * fallback for snapshots that do not.
 */
class LocationIndex {
  private readonly rows: Uint32Array;
  private readonly width: number;
  private readonly objectField: number;
  private readonly scriptField: number;
  private readonly lineField: number;
  private readonly columnField: number;
  private readonly count: number;
  private readonly byNode: Map<number, number> | undefined;

  constructor(snapshot: HeapSnapshot) {
    const fields = snapshot.meta.location_fields ?? ['object_index', 'script_id', 'line', 'column'];
    const at = (name: string, fallback: number) => (fields.includes(name) ? fields.indexOf(name) : fallback);
    this.rows = snapshot.locations;
    this.width = snapshot.layout.locationFieldCount || fields.length;
    this.objectField = at('object_index', 0);
    this.scriptField = at('script_id', 1);
    this.lineField = at('line', 2);
    this.columnField = at('column', 3);
    this.count = this.width > 0 ? Math.floor(this.rows.length / this.width) : 0;
    let sorted = true;
    for (let row = 1; row < this.count && sorted; row++) {
      sorted = this.object(row - 1) <= this.object(row);
    }
    if (!sorted) {
      this.byNode = new Map();
      for (let row = 0; row < this.count; row++) this.byNode.set(this.object(row), row);
    }
  }

  private object(row: number): number {
    return this.rows[row * this.width + this.objectField]!;
  }

  /** The row of a node offset, or -1. */
  find(node: number): number {
    if (this.byNode !== undefined) return this.byNode.get(node) ?? -1;
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const object = this.object(mid);
      if (object === node) return mid;
      if (object < node) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  scriptId(row: number): number {
    return this.rows[row * this.width + this.scriptField]!;
  }

  line(row: number): number {
    return this.rows[row * this.width + this.lineField]!;
  }

  column(row: number): number {
    return this.rows[row * this.width + this.columnField]!;
  }
}

