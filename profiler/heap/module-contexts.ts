/**
 * Finds the traced modules in a snapshot: each module's own Context (the scope that
 * holds its captured top-level variables), its ES module record, and for CommonJS its
 * `module.exports` objects.
 *
 * What tells a module's Context (seen in Node 20, V8 11.3):
 * - ES module: its `extension` edge leads to a `system / SourceTextModule`.
 * - CommonJS: the Context of Node's wrapper function: `previous` is the NativeContext,
 *   not another Context, and its ScopeInfo has no outer ScopeInfo (V8 links a ScopeInfo
 *   only to the next outer scope that has a context, so the chain mirrors the context
 *   chain). The *call* context of a top-level function looks the same when the module
 *   itself allocated no Context; `commonjsModuleContexts` tells them apart.
 * - Which script a Context belongs to: the script of a closure created in it, or failing
 *   that (those closures are gone) of a closure created in a call made in it.
 * - `module.exports`: the `Module` objects of `require.cache`: `filename` names the
 *   script, `exports` holds the exports object.
 */
import type { ModuleDeclarations, ModuleKind } from './declarations.js';
import { Tag } from './heap-view.js';
import type { HeapView } from './heap-view.js';

/** A Context that may be a traced module's own. */
export interface ModuleContext {
  kind: ModuleKind;
  context: number;
  scopeInfo: number;
  /** The module record (`system / SourceTextModule`) for ES modules, else -1. */
  moduleRecord: number;
  /** The Script node, found through a closure; -1 until found. */
  script: number;
  url: string;
  moduleName: string | undefined;
}

/** What the entries of one traced module are built from. */
export interface TracedModule {
  moduleName: string;
  kind: ModuleKind;
  /** The script's URL (the inspector's when known), for reading its source. */
  url: string;
  script: number;
  /** Its own Context(s), newest first; usually one. */
  contexts: ModuleContext[];
  /** CommonJS exports objects (from `Module` objects), newest first; usually one. */
  exportsObjects: number[];
}

export interface ModuleSearch {
  traced(url: string): string | undefined;
  /** script id → URL from `Debugger.scriptParsed`, to give each module its inspector URL. */
  scriptUrls?: Map<number, string>;
  /** The parsed source of a module, for telling its Context from a call's; may be undefined. */
  declarations(module: TracedModule): ModuleDeclarations | undefined;
}

export interface FoundModules {
  modules: Map<string, TracedModule>;
  /** Every `Module` (CommonJS) and `BuiltinModule` object: whose exports are whose. */
  moduleObjects: number[];
  builtinModules: number[];
}

/**
 * Finds the traced modules of a snapshot.
 *
 * @example
 *   const { modules } = findTracedModules(view, { traced, declarations: () => undefined });
 *   modules.get('src/store.mjs')?.contexts[0]?.context; // node offset of its Context
 */
export function findTracedModules(view: HeapView, search: ModuleSearch): FoundModules {
  const { nodes, nodeFieldCount } = view;
  const closures: number[] = [];
  const contexts: number[] = [];
  const moduleObjects: number[] = [];
  const builtinModules: number[] = [];

  // One pass over the nodes collects what the rest looks at.
  const { closure: closureType, object: objectType, hidden: hiddenType } = view.t;
  const { typeOffset, nameOffset } = view;
  for (let node = 0; node < nodes.length; node += nodeFieldCount) {
    const type = nodes[node + typeOffset]!;
    if (type === closureType) {
      closures.push(node);
    } else if (type === objectType || type === hiddenType) {
      const tag = view.tagOf(nodes[node + nameOffset]!);
      if (tag === Tag.NContext) contexts.push(node);
      else if (tag === Tag.NModule && type === objectType) moduleObjects.push(node);
      else if (tag === Tag.NBuiltinModule && type === objectType) builtinModules.push(node);
    }
  }

  const candidates = new Map<number, ModuleContext>();
  const outermost = new Map<number, boolean>();
  for (const node of contexts) {
    const candidate = contextCandidate(view, node, outermost);
    if (candidate !== undefined) candidates.set(node, candidate);
  }
  resolveScripts(view, search, candidates, contexts, closures);

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
  const evalModules = webpackEvalModules(view, search, closures, moduleFor);

  // CommonJS: `Module` objects (require.cache) give module.exports.
  const urlByModule = new Map<string, string>();
  for (const url of search.scriptUrls?.values() ?? []) {
    const moduleName = search.traced(url);
    if (moduleName !== undefined && !urlByModule.has(moduleName)) urlByModule.set(moduleName, url);
  }
  for (const moduleObject of moduleObjects) {
    const exportsObject = view.follow(moduleObject, Tag.EExports);
    const filenameNode = view.follow(moduleObject, Tag.EFilename);
    if (exportsObject < 0 || filenameNode < 0) continue;
    const filename = view.stringValue(filenameNode);
    if (filename === undefined) continue;
    const moduleName = search.traced(filename);
    if (moduleName === undefined) continue;
    // Live mode: the inspector's URL, so that `source()` is asked for the URL it knows.
    const url = urlByModule.get(moduleName) ?? filename;
    moduleFor(moduleName, 'commonjs', url, -1).exportsObjects.push(exportsObject);
  }

  // A module loaded more than once (a reload with `?t=…`, a require.cache purge) has an
  // instance per load: the newest one (highest node id) names the entries.
  const newestFirst = (a: number, b: number) => view.id(b) - view.id(a);
  for (const module of modules.values()) {
    module.contexts.sort((a, b) => newestFirst(a.context, b.context));
    module.exportsObjects.sort(newestFirst);
    if (module.kind !== 'commonjs' || evalModules.has(module.moduleName)) continue;
    const declarations = search.declarations(module);
    const outermost = module.contexts;
    module.contexts = commonjsModuleContexts(view, module, declarations);
    if (declarations?.bundled)
      module.contexts.push(...factoryContexts(view, outermost, contexts, module, declarations));
  }
  return { modules, moduleObjects, builtinModules };
}

/**
 * Is this Context possibly a module's own? ES modules: its `extension` is the module
 * record. CommonJS: the outermost context of a function (`previous` is not another
 * Context and the ScopeInfo has no outer ScopeInfo) — checked further later.
 */
function contextCandidate(view: HeapView, context: number, outermost: Map<number, boolean>): ModuleContext | undefined {
  let extension = -1;
  let previous = -1;
  let scopeInfo = -1;
  for (let edge = view.edgesStart(context), end = view.edgesEnd(context); edge < end; edge += view.edgeFieldCount) {
    const tag = view.edgeTag(edge);
    if (tag === Tag.EExtension) extension = view.to(edge);
    else if (tag === Tag.EPrevious) previous = view.to(edge);
    else if (tag === Tag.EScopeInfo) scopeInfo = view.to(edge);
  }
  const base = { context, scopeInfo, script: -1, url: '', moduleName: undefined };
  if (extension >= 0 && view.nameTag(extension) === Tag.NSourceTextModule) {
    return { ...base, kind: 'module', moduleRecord: extension };
  }
  if (scopeInfo < 0 || previous < 0 || view.nameTag(previous) === Tag.NContext) return undefined;
  let isOutermost = outermost.get(scopeInfo);
  if (isOutermost === undefined) {
    isOutermost = true;
    for (
      let edge = view.edgesStart(scopeInfo), end = view.edgesEnd(scopeInfo);
      edge < end;
      edge += view.edgeFieldCount
    ) {
      if (view.nameTag(view.to(edge)) === Tag.NScopeInfo) {
        isOutermost = false;
        break;
      }
    }
    outermost.set(scopeInfo, isOutermost);
  }
  return isOutermost ? { ...base, kind: 'commonjs', moduleRecord: -1 } : undefined;
}

/** Gives each candidate the script (and module name) of a closure created in it. */
function resolveScripts(
  view: HeapView,
  search: ModuleSearch,
  candidates: Map<number, ModuleContext>,
  contexts: number[],
  closures: number[],
): void {
  if (candidates.size === 0) return;
  const resolve = (candidate: ModuleContext, closure: number) => {
    const script = view.closureScript(closure);
    if (script < 0) return;
    candidate.script = script;
    candidate.url = view.closureUrl(closure, script) ?? '';
    candidate.moduleName = candidate.url === '' ? undefined : search.traced(candidate.url);
  };
  for (const node of closures) {
    const candidate = candidates.get(view.follow(node, Tag.EContext));
    if (candidate !== undefined && candidate.script < 0) resolve(candidate, node);
  }

  // A module Context whose own closures are gone is still reachable from the contexts
  // of calls made in it (their `previous` chains); their closures are of the same script.
  const owner = new Map<number, ModuleContext>();
  for (const candidate of candidates.values()) if (candidate.script < 0) owner.set(candidate.context, candidate);
  if (owner.size === 0) return;
  const inner = new Map<number, ModuleContext>();
  // A few levels of nesting; each level is one pass over the contexts.
  for (let level = 0; level < 8; level++) {
    let added = 0;
    for (const context of contexts) {
      if (inner.has(context) || owner.has(context)) continue;
      const previous = view.follow(context, Tag.EPrevious);
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
    const candidate = inner.get(view.follow(node, Tag.EContext));
    if (candidate !== undefined && candidate.script < 0) resolve(candidate, node);
  }
}

/**
 * Keeps, among a CommonJS module's candidate contexts, the module's own one. A
 * top-level function's call context looks like a module context when the module
 * itself captured nothing; it is told apart by (1) its ScopeInfo belonging to a named
 * function of the script, (2) holding mostly variables the module does not declare at
 * top level (when the source is known), (3) sharing its ScopeInfo with other live contexts
 * (a function called more than once).
 */
function commonjsModuleContexts(
  view: HeapView,
  module: TracedModule,
  declarations: ModuleDeclarations | undefined,
): ModuleContext[] {
  if (module.contexts.length === 0) return [];
  const namedScopeInfos = namedFunctionScopeInfos(view, module.script);
  let kept = module.contexts.filter((candidate) => {
    if (namedScopeInfos.has(candidate.scopeInfo)) return false;
    if (declarations === undefined) return true;
    // Most of a module context's names are top-level declarations; tolerate a few the
    // parser does not see as such (`eval`-made vars and the like).
    let known = 0;
    let variables = 0;
    for (const [name] of view.contextVariables(candidate.context)) {
      if (declarations.locals.has(name)) known++;
      variables++;
    }
    return variables > 0 && known * 2 >= variables;
  });
  if (kept.length > 1) {
    const perScopeInfo = new Map<number, number>();
    for (const c of kept) perScopeInfo.set(c.scopeInfo, (perScopeInfo.get(c.scopeInfo) ?? 0) + 1);
    const unique = kept.filter((c) => perScopeInfo.get(c.scopeInfo) === 1);
    if (unique.length > 0) kept = unique;
  }
  if (kept.length > 1) {
    // Still ambiguous: the one with the most variables (the newest on a tie).
    let best = kept[0]!;
    let bestCount = -1;
    for (const c of kept) {
      const count = view.contextVariables(c.context).length;
      if (count > bestCount) [best, bestCount] = [c, count];
    }
    kept = [best];
  }
  return kept;
}

/**
 * Modules that webpack runs through `eval` (Next.js `next dev --webpack`: scripts named
 * `webpack-internal:///(rsc)/./app/x.js`): the eval code's scope is the module's own.
 * Found from the closures of each such traced script: the contexts they were created in,
 * keeping the outermost ones (whose `previous` is no context of that script). Live mode
 * only (the inspector's script list says whether there are any), so an app without them
 * pays nothing. Answers the names of the modules found this way.
 */
function webpackEvalModules(
  view: HeapView,
  search: ModuleSearch,
  closures: readonly number[],
  moduleFor: (moduleName: string, kind: ModuleKind, url: string, script: number) => TracedModule,
): Set<string> {
  const found = new Set<string>();
  const urls = search.scriptUrls;
  if (urls === undefined || ![...urls.values()].some((url) => url.startsWith('webpack-internal:'))) return found;
  const byScript = new Map<number, { url: string; moduleName: string; contexts: Set<number> } | null>();
  for (const closure of closures) {
    const script = view.closureScript(closure);
    if (script < 0) continue;
    let entry = byScript.get(script);
    if (entry === undefined) {
      const url = view.closureUrl(closure, script) ?? '';
      const moduleName = url.startsWith('webpack-internal:') ? search.traced(url) : undefined;
      entry = moduleName === undefined ? null : { url, moduleName, contexts: new Set() };
      byScript.set(script, entry);
    }
    if (entry === null) continue;
    const context = view.follow(closure, Tag.EContext);
    if (context >= 0 && view.nameTag(context) === Tag.NContext) entry.contexts.add(context);
  }
  for (const [script, entry] of byScript) {
    if (entry === null) continue;
    const module = moduleFor(entry.moduleName, 'commonjs', entry.url, script);
    for (const context of entry.contexts) {
      if (entry.contexts.has(view.follow(context, Tag.EPrevious))) continue;
      const scopeInfo = view.follow(context, Tag.EScopeInfo);
      module.contexts.push({
        kind: 'commonjs',
        context,
        scopeInfo,
        moduleRecord: -1,
        script,
        url: entry.url,
        moduleName: entry.moduleName,
      });
    }
    found.add(entry.moduleName);
  }
  return found;
}

/**
 * The contexts of a bundler's module factories (a Turbopack chunk: each factory's scope is
 * one bundled module's top level). A factory's context is outermost when the chunk's own
 * scope captured nothing, else one level inside it (its `previous` is the chunk's
 * context). Kept when most of its variables are declared at a factory's top level and it
 * is not the call of a named function.
 */
function factoryContexts(
  view: HeapView,
  outermost: readonly ModuleContext[],
  contexts: readonly number[],
  module: TracedModule,
  declarations: ModuleDeclarations,
): ModuleContext[] {
  const chunkContexts = new Set(outermost.map((c) => c.context));
  const kept = new Set(module.contexts.map((c) => c.context));
  const named = namedFunctionScopeInfos(view, module.script);
  const result: ModuleContext[] = [];
  const consider = (context: number, scopeInfo: number) => {
    if (kept.has(context) || named.has(scopeInfo)) return;
    let known = 0;
    let variables = 0;
    for (const [name] of view.contextVariables(context)) {
      if (declarations.locals.has(name)) known++;
      variables++;
    }
    if (variables === 0 || known * 2 < variables) return;
    kept.add(context);
    result.push({
      kind: 'commonjs',
      context,
      scopeInfo,
      moduleRecord: -1,
      script: module.script,
      url: module.url,
      moduleName: module.moduleName,
    });
  };
  for (const candidate of outermost) consider(candidate.context, candidate.scopeInfo);
  for (const context of contexts) {
    if (!chunkContexts.has(view.follow(context, Tag.EPrevious))) continue;
    consider(context, view.follow(context, Tag.EScopeInfo));
  }
  return result;
}

/** ScopeInfos that are the own scope of a named function of this script. */
function namedFunctionScopeInfos(view: HeapView, script: number): Set<number> {
  const result = new Set<number>();
  if (script < 0) return result;
  // Script → its list of SharedFunctionInfos (a WeakFixedArray) → each one's ScopeInfo.
  for (let edge = view.edgesStart(script), end = view.edgesEnd(script); edge < end; edge += view.edgeFieldCount) {
    const list = view.to(edge);
    if (view.type(list) === view.t.string) continue;
    for (
      let inner = view.edgesStart(list), innerEnd = view.edgesEnd(list);
      inner < innerEnd;
      inner += view.edgeFieldCount
    ) {
      const shared = view.to(inner);
      // `anonymous` is the function a Function constructor makes: for a module run that way
      // (Vite's module runner) its scope is the module's own.
      const name = view.type(shared) === view.t.code ? view.name(shared) : '';
      if (view.nameTag(shared) === Tag.NAnonymousShared || name === '' || name === 'anonymous') continue;
      const scopeInfo = view.follow(shared, Tag.ENameOrScopeInfo);
      if (scopeInfo >= 0 && view.nameTag(scopeInfo) === Tag.NScopeInfo) result.add(scopeInfo);
    }
  }
  return result;
}
