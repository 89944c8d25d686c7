/**
 * Module entries (docs/design.md, "The record"): the top-level bindings of traced modules that
 * are alive in a heap snapshot, each with its retained size.
 *
 * Where V8 keeps them (seen in Node 20 snapshots, V8 11.3; finding the modules is
 * module-contexts.ts):
 * - Variables that some function captures live in the module's Context, one `context`
 *   edge per variable, named after it. Variables no function captures live on the stack
 *   while the module runs and are gone afterwards; small integers are not heap objects.
 * - An ES module's exported bindings are not in its Context but in Cells of the module
 *   record's exports hash table (name string, then `system / Cell`, whose `value` edge
 *   holds the value). V8 caches resolved re-exports in that table too: a module's own
 *   exports are the Cells in the record's array of Cells.
 * - CommonJS `module.exports` comes from the module's `Module` object.
 * - Imports are not entries: another module's exports object, its properties, a module
 *   namespace, TypeScript's `__importDefault`/`__importStar` wrappers.
 * - A function's or class's place is the snapshot's `locations` row of the closure
 *   (0-based line of its start; a class starts at its `class` keyword, or at its
 *   constructor's `(` when it has one: then the class's line comes from the source);
 *   classes carry a `system / ClassPositions` property. A variable's line comes from
 *   the module's source (acorn, declarations.ts); when no source can be read, an
 *   object's entry says line 1.
 * - Source maps (source-maps.ts): positions and lines are those of the script V8 ran. When
 *   the script names a source map, each one is mapped to the original source: `filename`
 *   and `lineno` become the `.ts` file and line. `module_name` becomes the original source
 *   too when the whole script comes from one (tsc and tsx write one `.ts` per script), so
 *   records, suspects and the code browser name `src/store.ts`, not `dist/store.js`; a
 *   script made from several sources (a bundle), or whose original text cannot be read,
 *   keeps its own name.
 */
import type { Entry } from '../../contract/record.js';
import { isClassAt, moduleDeclarations } from './declarations.js';
import type { ModuleDeclarations } from './declarations.js';
import { HeapView, Tag } from './heap-view.js';
import { findTracedModules } from './module-contexts.js';
import type { TracedModule } from './module-contexts.js';
import { isBuildOutput, scriptPath } from './module-match.js';
import type { HeapSnapshot } from './snapshot.js';
import { scriptSourceMap, singleOriginalSource } from './source-maps.js';
import type { OriginalPosition, ScriptSourceMap } from './source-maps.js';

export interface EntryOptions {
  /** module_name (path relative to the app root) for a traced script URL/path, or undefined when not traced */
  traced(url: string): string | undefined;
  /** script id -> URL, from Debugger.scriptParsed (live mode). Without it, script names come from the heap itself (offline). */
  scriptUrls?: Map<number, string>;
  /**
   * The source text of a script by URL, for declaration lines of variables and for its
   * source map (its `sourceMappingURL` comment); may return undefined.
   */
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
  /** Called for each entry with its node's offset in `snapshot.nodes` (growth paths). */
  onEntry?(entry: Entry, node: number): void;
}

/** Names of CommonJS wrapper parameters: captured by many modules, never entries themselves. */
const WRAPPER_PARAMETERS = new Set([
  'exports',
  'require',
  'module',
  '__filename',
  '__dirname',
  // Turbopack's module factories (`next dev`) take this one too.
  '__turbopack_context__',
]);

/** V8 truncates strings in a snapshot to this many characters; a shorter source is whole. */
const SNAPSHOT_STRING_LIMIT = 1024;

/**
 * Finds the entries of the traced modules in a snapshot, sorted by module, then line.
 *
 * @param retained retained size per node ordinal (node offset / node field count)
 * @example
 *   const modules = createModuleMatcher({ root: process.cwd() });
 *   const entries = findEntries(snapshot, retainedSizes, { ...modules, source: readScriptSource });
 */
export function findEntries(snapshot: HeapSnapshot, retained: Float64Array, options: EntryOptions): Entry[] {
  return prepareEntries(snapshot, options)(retained);
}

/**
 * Everything findEntries does that needs no retained sizes — finding the modules and
 * their bindings, reading sources — so that it can run while another thread is busy
 * with the dominators; the function it returns adds the sizes.
 */
export function prepareEntries(snapshot: HeapSnapshot, options: EntryOptions): (retained: Float64Array) => Entry[] {
  const values: [Entry, number][] = [];
  const finder = new EntryFinder(new HeapView(snapshot, options.firstEdge, options.scriptUrls), {
    ...options,
    onEntry: (entry, node) => values.push([entry, node]),
  });
  const entries = finder.run();
  return (retained) => {
    const nfc = snapshot.layout.nodeFieldCount;
    for (const [entry, node] of values) {
      entry.dominated_size = retained[node / nfc] ?? 0;
      options.onEntry?.(entry, node);
    }
    return sortEntries(entries);
  };
}

function sortEntries(entries: Entry[]): Entry[] {
  entries.sort((a, b) =>
    a.module_name === b.module_name
      ? a.lineno - b.lineno || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
      : a.module_name < b.module_name
        ? -1
        : 1,
  );
  return entries;
}

class EntryFinder {
  private readonly sources = new Map<string, string | undefined>();
  private readonly declarationCache = new Map<string, ModuleDeclarations | undefined>();
  private readonly sourceMaps = new Map<string, ScriptSourceMap | undefined>();
  /** Traced module name → the name its entries carry (the original source's, when source-mapped). */
  private readonly moduleNames = new Map<string, string>();
  private moduleObjects: number[] = [];
  private builtinModules: number[] = [];
  /** Lazily built: values another module owns (its exports object and their properties). */
  private foreign: Map<number, string> | undefined;

  constructor(
    private readonly view: HeapView,
    private readonly options: EntryOptions,
  ) {}

  run(): Entry[] {
    const found = findTracedModules(this.view, {
      traced: this.options.traced,
      scriptUrls: this.options.scriptUrls,
      declarations: (module) => this.declarations(module),
    });
    this.moduleObjects = found.moduleObjects;
    this.builtinModules = found.builtinModules;
    this.nameModules([...found.modules.values()]);
    const entries: Entry[] = [];
    for (const module of found.modules.values()) entries.push(...this.moduleEntries(module));
    return entries;
  }

  // ---- sources ----

  /** A script's source: from `options.source`, else the heap's copy when it is whole. */
  private sourceOf(url: string, script: number): string | undefined {
    if (this.sources.has(url)) return this.sources.get(url);
    let text = this.options.source?.(url);
    if (text === undefined && script >= 0) {
      const view = this.view;
      const sourceNode = view.follow(script, Tag.ESource);
      if (sourceNode >= 0 && view.type(sourceNode) === view.t.string) {
        const heapText = view.name(sourceNode);
        if (heapText.length < SNAPSHOT_STRING_LIMIT) text = heapText;
      }
    }
    this.sources.set(url, text);
    return text;
  }

  private declarations(module: TracedModule): ModuleDeclarations | undefined {
    return this.scriptDeclarations(module.url, module.script, module.kind);
  }

  /** A script's declarations, parsed once per analysis (hashing a large bundle per entry adds up). */
  private scriptDeclarations(url: string, script: number, kind: TracedModule['kind']): ModuleDeclarations | undefined {
    const key = `${kind}\u0000${url}`;
    if (this.declarationCache.has(key)) return this.declarationCache.get(key);
    const source = this.sourceOf(url, script);
    const result = source === undefined ? undefined : moduleDeclarations(source, kind);
    this.declarationCache.set(key, result);
    return result;
  }

  private filenameOf(url: string): string {
    return this.options.traced(url) ?? this.options.filename?.(url) ?? scriptPath(url) ?? url;
  }

  // ---- source maps ----

  private sourceMapOf(url: string, script: number): ScriptSourceMap | undefined {
    if (this.sourceMaps.has(url)) return this.sourceMaps.get(url);
    const source = this.sourceOf(url, script);
    const map = source === undefined ? undefined : scriptSourceMap(url, source);
    this.sourceMaps.set(url, map);
    return map;
  }

  /**
   * A module's entries are named after its one original source when it has one and its
   * text can be read (the map's `sourcesContent`, or the file); two scripts from the same
   * source (an ESM and a CommonJS build) keep their own names.
   */
  private nameModules(modules: TracedModule[]): void {
    const renamed = new Map<string, string[]>();
    for (const module of modules) {
      const map = this.sourceMapOf(module.url, module.script);
      if (map === undefined) continue;
      const original = singleOriginalSource(map);
      // Named after a source the code browser can show (source-maps.ts, moduleSourceOf).
      if (original === undefined || map.sourceText(original) === undefined) continue;
      const name = this.filenameOf(original);
      renamed.set(name, [...(renamed.get(name) ?? []), module.moduleName]);
    }
    const taken = new Set(modules.map((m) => m.moduleName));
    for (const [name, moduleNames] of renamed) {
      if (moduleNames.length !== 1 || (taken.has(name) && name !== moduleNames[0])) continue;
      this.moduleNames.set(moduleNames[0]!, name);
    }
  }

  /**
   * Where a declaration (known by its generated 1-based line) is in the original source.
   * A loader that writes a module on one line (tsx, esbuild's minified whitespace) maps
   * every original line from that one: the column of `name`'s declaration on it decides.
   */
  private mapLine(
    module: TracedModule,
    line: number | undefined,
    name?: string,
  ): { filename: string; lineno: number } | undefined {
    if (line === undefined) return undefined;
    const map = this.sourceMapOf(module.url, module.script);
    if (map === undefined) return undefined;
    const column = name === undefined ? -1 : declarationColumn(this.sourceOf(module.url, module.script), line, name);
    const original = (column >= 0 ? map.originalPosition(line, column) : undefined) ?? map.originalLine(line);
    return original === undefined ? undefined : this.place(original);
  }

  private place(original: OriginalPosition): { filename: string; lineno: number } {
    return { filename: this.filenameOf(original.url), lineno: original.line };
  }

  /**
   * For a module made by a loader or bundler from one original source (tsx, esbuild,
   * webpack, Vite): true for the names the tool added, which the original never mentions
   * (esbuild's `__defProp`, `__name`, `__export`; webpack's `__webpack_require__`). They
   * are the tool's, not the user's.
   */
  private bundlerHelpers(module: TracedModule): (name: string) => boolean {
    const map = this.sourceMapOf(module.url, module.script);
    const original = map === undefined ? undefined : singleOriginalSource(map);
    const text = original === undefined ? undefined : map!.sourceText(original);
    if (text === undefined) return () => false;
    return (name) =>
      /^[A-Za-z_$][\w$]*$/.test(name) && !new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(text);
  }

  // ---- the bindings of one module ----

  private moduleEntries(module: TracedModule): Entry[] {
    const view = this.view;
    const byName = new Map<string, Entry>();
    // One object bound twice (`module.exports = { cache }` with `cache` captured) is one entry.
    const seen = new Set<number>();
    const declarations = this.declarations(module);
    const bundlerOwn = this.bundlerHelpers(module);
    const add = (name: string, value: number, line: number | undefined) => {
      if (byName.has(name) || seen.has(value) || !this.isEntryValue(value)) return;
      if (bundlerOwn(name) || name.startsWith('__TURBOPACK__')) return;
      if (this.belongsElsewhere(value, module.moduleName)) return;
      seen.add(value);
      const entry = this.entry(module, name, value, line);
      byName.set(name, entry);
      this.options.onEntry?.(entry, value);
    };

    for (const candidate of module.contexts) {
      for (const [name, value] of view.contextVariables(candidate.context)) {
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

    // A bundler's chunk (`.next/…`): its `module.exports` is the bundler's list of module
    // factories, not a binding of the app.
    const exportsObjects = isBuildOutput(module.url) ? [] : module.exportsObjects;
    for (const exportsObject of exportsObjects) {
      if (view.type(exportsObject) === view.t.object && view.name(exportsObject) === 'Object') {
        for (
          let edge = view.edgesStart(exportsObject), end = view.edgesEnd(exportsObject);
          edge < end;
          edge += view.edgeFieldCount
        ) {
          if (view.edgeType(edge) !== view.e.property) continue;
          const name = view.edgeName(edge);
          if (name === '__proto__' || name.startsWith('<symbol')) continue;
          add(name, view.to(edge), declarations?.commonjsExportLine(name));
        }
      } else if (this.isEntryValue(exportsObject)) {
        add('module.exports', exportsObject, declarations?.commonjsExportLine('module.exports'));
      }
    }
    return [...byName.values()];
  }

  /**
   * An ES module's exported bindings: [export name, value] from the exports hash table,
   * keeping only the Cells of the module's own exports (its array of Cells): V8 also
   * caches resolved re-exports (`export … from`, `export *`) in the table.
   */
  private moduleExports(moduleRecord: number): [string, number][] {
    const view = this.view;
    const pairs: [string, number][] = [];
    let ownCells: Set<number> | undefined;
    for (
      let edge = view.edgesStart(moduleRecord), end = view.edgesEnd(moduleRecord);
      edge < end;
      edge += view.edgeFieldCount
    ) {
      const array = view.to(edge);
      if (view.type(array) !== view.t.array) continue;
      // The hash table stores key, value pairs in consecutive slots: a name string, then its Cell.
      let keyIndex = -2;
      let key: string | undefined;
      let cells = 0;
      let others = 0;
      const found: [string, number][] = [];
      for (
        let inner = view.edgesStart(array), innerEnd = view.edgesEnd(array);
        inner < innerEnd;
        inner += view.edgeFieldCount
      ) {
        const target = view.to(inner);
        if (view.nameTag(target) === Tag.NCell) {
          cells++;
          if (key !== undefined && view.slotIndex(inner) === keyIndex + 1) found.push([key, target]);
          key = undefined;
        } else if (view.type(target) === view.t.string) {
          others++;
          keyIndex = view.slotIndex(inner);
          key = view.name(target);
        } else if (view.edgeTag(inner) !== Tag.EMap) {
          others++; // anything but the array's own `map`
        }
      }
      if (found.length > 0 && pairs.length === 0) {
        pairs.push(...found);
      } else if (cells > 0 && others === 0 && ownCells === undefined) {
        ownCells = new Set();
        for (
          let inner = view.edgesStart(array), innerEnd = view.edgesEnd(array);
          inner < innerEnd;
          inner += view.edgeFieldCount
        ) {
          ownCells.add(view.to(inner));
        }
      }
    }
    const result: [string, number][] = [];
    for (const [key, cell] of pairs) {
      if (ownCells !== undefined && !ownCells.has(cell)) continue;
      const value = view.follow(cell, Tag.EValue);
      if (value >= 0) result.push([key, value]);
    }
    return result;
  }

  // ---- what is not an entry ----

  /** Values that are objects of the program, not V8's bookkeeping (undefined, the hole, …). */
  private isEntryValue(node: number): boolean {
    const { t } = this.view;
    const type = this.view.type(node);
    return type !== t.hidden && type !== t.code && type !== t['object shape'] && type !== t.synthetic;
  }

  /**
   * True for a value that another module owns: its exports object, a property of it, an
   * ES module namespace, or a wrapper holding only such values. `const { EventEmitter } =
   * require('node:events')` is an import, not state of this module.
   */
  private belongsElsewhere(value: number, moduleName: string): boolean {
    const view = this.view;
    if (view.type(value) === view.t.object && view.nameTag(value) === Tag.NModule) {
      for (let edge = view.edgesStart(value), end = view.edgesEnd(value); edge < end; edge += view.edgeFieldCount) {
        if (view.nameTag(view.to(edge)) === Tag.NSourceTextModule) return true;
      }
    }
    const foreign = (this.foreign ??= this.foreignValues());
    const isForeign = (node: number) => {
      const owner = foreign.get(node);
      return owner !== undefined && owner !== moduleName;
    };
    if (isForeign(value)) return true;
    // TypeScript's CommonJS output wraps imports: `const x_1 = __importDefault(require('x'))`
    // is `{ default: <x's exports> }`, `__importStar` adds getters.
    if (view.type(value) !== view.t.object || view.name(value) !== 'Object') return false;
    let foreignCount = 0;
    for (let edge = view.edgesStart(value), end = view.edgesEnd(value); edge < end; edge += view.edgeFieldCount) {
      if (view.edgeType(edge) !== view.e.property || view.edgeTag(edge) === Tag.EProto) continue;
      const target = view.to(edge);
      const name = view.edgeName(edge);
      if (!this.isEntryValue(target) || name.startsWith('get ') || name.startsWith('set ')) continue;
      if (!isForeign(target)) return false;
      foreignCount++;
    }
    return foreignCount > 0;
  }

  /** Every module's exports object and its direct properties, with the owning module. */
  private foreignValues(): Map<number, string> {
    const view = this.view;
    const owners = new Map<number, string>();
    for (const node of [...this.moduleObjects, ...this.builtinModules]) {
      const exportsObject = view.follow(node, Tag.EExports);
      const filenameNode = view.follow(node, Tag.EFilename);
      if (exportsObject < 0 || filenameNode < 0) continue;
      const filename = view.stringValue(filenameNode) ?? '';
      const traced = view.nameTag(node) === Tag.NModule ? this.options.traced(filename) : undefined;
      const owner = traced ?? `\u0000${filename}`;
      if (!owners.has(exportsObject)) owners.set(exportsObject, owner);
      for (
        let edge = view.edgesStart(exportsObject), end = view.edgesEnd(exportsObject);
        edge < end;
        edge += view.edgeFieldCount
      ) {
        if (view.edgeType(edge) !== view.e.property || view.edgeTag(edge) === Tag.EProto) continue;
        const target = view.to(edge);
        if (!owners.has(target)) owners.set(target, owner);
      }
    }
    return owners;
  }

  // ---- one entry ----

  private entry(module: TracedModule, name: string, value: number, declaredLine: number | undefined): Entry {
    const view = this.view;
    const base = {
      name,
      // Set by prepareEntries once the retained sizes are known.
      dominated_size: 0,
      module_name: this.moduleNames.get(module.moduleName) ?? module.moduleName,
      id: view.id(value),
    };
    if (view.type(value) === view.t.closure) {
      return { ...base, ...this.closureDefinition(value, module, declaredLine, name) };
    }
    const mapped = this.mapLine(module, declaredLine, name);
    return {
      ...base,
      obj_type: this.objectType(value),
      // Unmapped, a declared line is the loaded script's; line 1 fits either name.
      filename: mapped?.filename ?? (declaredLine === undefined ? base.module_name : module.moduleName),
      lineno: mapped?.lineno ?? declaredLine ?? 1,
    };
  }

  /** Where a function or class is defined, and which of the two it is. */
  private closureDefinition(
    closure: number,
    module: TracedModule,
    declaredLine: number | undefined,
    name: string,
  ): Pick<Entry, 'obj_type' | 'filename' | 'lineno'> {
    const view = this.view;
    const script = view.closureScript(closure);
    const url = view.closureUrl(closure, script);
    const filename = url === undefined ? module.moduleName : this.filenameOf(url);
    let isClass = false;
    for (let edge = view.edgesStart(closure), end = view.edgesEnd(closure); edge < end; edge += view.edgeFieldCount) {
      if (view.edgeType(edge) === view.e.property && view.nameTag(view.to(edge)) === Tag.NClassPositions) {
        isClass = true;
        break;
      }
    }
    const row = view.locations.find(closure);
    if (row < 0) {
      const mapped = this.mapLine(module, declaredLine, name);
      return {
        obj_type: isClass ? 'class' : 'function',
        filename: mapped?.filename ?? filename,
        lineno: mapped?.lineno ?? declaredLine ?? 1,
      };
    }
    const line = view.locations.line(row);
    const column = view.locations.column(row);
    // The module's own script is read by the module's URL (the inspector's, when known).
    const [scriptUrl, scriptNode] =
      url === undefined || this.options.traced(url) === module.moduleName ? [module.url, module.script] : [url, script];
    // 1-based line, 0-based column of the definition in the script V8 ran.
    let at = { line: line + 1, column };
    const source = url === undefined ? undefined : this.sourceOf(scriptUrl, scriptNode);
    if (source !== undefined && !isClassAt(source, line, column)) {
      // A class with an explicit constructor is located at the constructor's `(`: the
      // class's own line comes from the source. (Without one, at its `class` keyword.)
      const classStart = this.scriptDeclarations(scriptUrl, scriptNode, module.kind)?.classOfConstructor(line, column);
      if (classStart !== undefined) at = classStart;
      isClass ||= classStart !== undefined;
    } else if (source !== undefined) {
      // A second opinion from the source: a class's location is its `class` keyword.
      isClass = true;
    }
    const original = this.sourceMapOf(scriptUrl, scriptNode)?.originalPosition(at.line, at.column);
    if (original !== undefined) return { obj_type: isClass ? 'class' : 'function', ...this.place(original) };
    return { obj_type: isClass ? 'class' : 'function', filename, lineno: at.line };
  }

  /** The constructor name for objects, a primitive's type name otherwise. */
  private objectType(node: number): string {
    const { t } = this.view;
    const type = this.view.type(node);
    if (type === t.string || type === t['concatenated string'] || type === t['sliced string']) return 'string';
    if (type === t.number) return 'number';
    if (type === t.symbol) return 'symbol';
    if (type === t.bigint) return 'bigint';
    if (type === t.regexp) return 'RegExp';
    if (type === t.array) return 'Array';
    const name = this.view.name(node);
    return name === '' ? 'Object' : name;
  }
}

/**
 * The 0-based column where `name` is declared on a 1-based line of `source` (after
 * `const`/`let`/`var`/`function`/`class`, else where it is assigned), or -1.
 */
export function declarationColumn(source: string | undefined, line: number, name: string): number {
  if (source === undefined || !/^[A-Za-z_$][\w$]*$/.test(name)) return -1;
  let start = 0;
  for (let l = 1; l < line; l++) {
    start = source.indexOf('\n', start) + 1;
    if (start === 0) return -1;
  }
  const end = source.indexOf('\n', start);
  const text = source.slice(start, end < 0 ? undefined : end);
  const escaped = name.replace(/\$/g, '\\$');
  const found =
    new RegExp(`(?:^|[^\\w$.])(?:const|let|var|function\\*?|class)\\s+(${escaped})(?![\\w$])`, 'd').exec(text) ??
    new RegExp(`(?:^|[^\\w$.])(${escaped})\\s*=(?!=)`, 'd').exec(text);
  return found?.indices?.[1]?.[0] ?? -1;
}
