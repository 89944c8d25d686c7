/**
 * Names a heap-wide grower (growth-table.ts) after the code to open: its retaining path
 * and the nearest owner on it that belongs to the app.
 *
 * The retaining path is the shortest one from the root, as DevTools' Retainers view
 * finds it: a breadth-first search over the edges that count for dominators (weak edges
 * and V8's own back links do not), first from the user roots (the root's children that
 * are not synthetic: the global objects), then from the root for the rest, as DevTools'
 * calculateDistances does; stopped as soon as every grower is reached. Walking that path back from the grower, the owner is the first of:
 * - an instance of a class defined in the app (`AppService.history`: the class's
 *   `__proto__.constructor` is located in an app script; the line of the growing field
 *   in the class when the source says so, else the class's line);
 * - a closure created by app code (its function's location);
 * - a module-scope variable of an app module (a closure context's variable, held by an
 *   app function: the variable's declaration line);
 * - else, when only library objects hold it (express-session's store inside the
 *   `session()` middleware), the app line that calls into that library: the call of
 *   the binding the app `require`s or imports the package under (`session({...})`).
 * "The app" is what the module matcher traces (the app's own scripts by default).
 * Lines are source-mapped to the original file when the script has a map.
 */
import type { GrowerOwner, RetainerStep } from '../../contract/record.js';
import type { Dominators } from './dominators.js';
import { HeapView } from './heap-view.js';
import { scriptPath } from './module-match.js';
import type { HeapSnapshot } from './snapshot.js';
import { scriptSourceMap } from './source-maps.js';

export interface OwnerOptions {
  /** The module name of an app script, or undefined (module-match.ts). */
  traced(url: string): string | undefined;
  /** A readable name for any script or original source URL. */
  filename(url: string): string;
  /** Script id → URL (live mode). */
  scriptUrls?: Map<number, string>;
  /** A script's source as the target loaded it. */
  source(url: string): string | undefined;
  /** URLs of the app's scripts, for the call into a library (live mode: the inspector's scripts). */
  appUrls?: readonly string[];
}

/** What the analysis says about one grower. */
export interface GrowerDescription {
  /** `MemoryStore.sessions`: the nearest named holder and the steps down to the grower. */
  expression: string;
  owner: GrowerOwner;
  filename: string;
  lineno: number;
  /** Root to grower, readable. */
  retainers: RetainerStep[];
}

type Tree = Pick<Dominators, 'essential' | 'firstEdge' | 'rootOrdinal' | 'retained'>;

/** Steps of the path kept in a record: the ones nearest to the grower. */
const MAX_RETAINER_STEPS = 24;

/**
 * For each grower ordinal, the shortest retaining path from the root: ordinals and the
 * edge offsets that lead to them (root first, edge -1).
 */
export function shortestRetainingPaths(
  snapshot: HeapSnapshot,
  tree: Tree,
  targets: readonly number[],
): Map<number, { ordinal: number; edge: number }[]> {
  const { edges, layout, nodeCount } = snapshot;
  const nfc = layout.nodeFieldCount;
  const efc = layout.edgeFieldCount;
  const toOffset = layout.edgeToNodeOffset;
  const { essential, firstEdge, rootOrdinal } = tree;
  // via[o]: 1 + the offset of the edge that first reached o; 0 when not reached.
  const via = new Uint32Array(nodeCount);
  const wanted = new Set(targets);
  const isTarget = new Uint8Array(nodeCount);
  for (const target of wanted) isTarget[target] = 1;
  let left = wanted.size;
  const scale = 1 / nfc;
  const queue = new Uint32Array(nodeCount);
  let head = 0;
  let tail = 0;
  via[rootOrdinal] = 0xffffffff;
  if (wanted.has(rootOrdinal)) left--;
  // As DevTools' distances: first from the user roots (the root's children that are not
  // synthetic: the global objects), then from the root for what they do not reach.
  const typeOffset = snapshot.layout.nodeTypeOffset;
  const synthetic = snapshot.layout.nodeType.synthetic;
  for (let e = firstEdge[rootOrdinal]!, k = e / efc, end = firstEdge[rootOrdinal + 1]!; e < end; e += efc, k++) {
    if ((essential[k >> 3]! & (1 << (k & 7))) === 0) continue;
    const to = (edges[e + toOffset]! * scale + 0.5) | 0;
    if (via[to] !== 0 || snapshot.nodes[to * nfc + typeOffset] === synthetic) continue;
    via[to] = e + 1;
    queue[tail++] = to;
    if (isTarget[to] === 1) left--;
  }
  let rootQueued = false;
  while (left > 0) {
    if (head === tail) {
      if (rootQueued) break;
      rootQueued = true;
      queue[tail++] = rootOrdinal;
    }
    const from = queue[head++]!;
    for (let e = firstEdge[from]!, k = e / efc, end = firstEdge[from + 1]!; e < end; e += efc, k++) {
      if ((essential[k >> 3]! & (1 << (k & 7))) === 0) continue;
      // to_node is a multiple of the field count: the rounded product is exact.
      const to = (edges[e + toOffset]! * scale + 0.5) | 0;
      if (via[to] !== 0) continue;
      via[to] = e + 1;
      queue[tail++] = to;
      if (isTarget[to] === 1 && --left === 0) break;
    }
  }
  // The source node of an edge: found by the edge offset's place among the first edges.
  const sourceOf = (e: number): number => {
    let low = 0;
    let high = nodeCount - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (firstEdge[mid]! <= e) low = mid;
      else high = mid - 1;
    }
    // Nodes without edges share their first edge with the next node: take the last one.
    return low;
  };
  const paths = new Map<number, { ordinal: number; edge: number }[]>();
  for (const target of wanted) {
    if (via[target] === 0) continue;
    const path: { ordinal: number; edge: number }[] = [];
    let o = target;
    while (o !== rootOrdinal && path.length < nodeCount) {
      const e = via[o]! - 1;
      path.push({ ordinal: o, edge: e });
      o = sourceOf(e);
    }
    path.push({ ordinal: rootOrdinal, edge: -1 });
    paths.set(target, path.reverse());
  }
  return paths;
}

/** Names growers and finds their owners; one per analysis (caches sources and maps). */
export class GrowerNamer {
  private readonly view: HeapView;
  private readonly nfc: number;
  private readonly sources = new Map<string, string | undefined>();
  private readonly protoName: number;
  private readonly constructorName: number;
  private readonly contextName: number;

  constructor(
    private readonly snapshot: HeapSnapshot,
    tree: Tree,
    private readonly options: OwnerOptions,
  ) {
    this.view = new HeapView(snapshot, tree.firstEdge, options.scriptUrls);
    this.nfc = snapshot.layout.nodeFieldCount;
    this.protoName = snapshot.stringTable.indexOf('__proto__');
    this.constructorName = snapshot.stringTable.indexOf('constructor');
    this.contextName = snapshot.stringTable.indexOf('context');
  }

  describe(path: readonly { ordinal: number; edge: number }[]): GrowerDescription {
    const steps = path.map((step) => this.retainerStep(step.ordinal, step.edge));
    const retainers = steps.slice(-MAX_RETAINER_STEPS);
    const expression = this.expression(path);
    const owner = this.owner(path, expression);
    return { expression, owner: owner.owner, filename: owner.filename, lineno: owner.lineno, retainers };
  }

  // ---- readable steps ----

  private retainerStep(ordinal: number, edge: number): RetainerStep {
    const view = this.view;
    const node = ordinal * this.nfc;
    const rawName = view.name(node);
    return {
      id: view.id(node),
      edge: edge < 0 ? '' : this.edgeLabel(edge),
      type: this.snapshot.layout.nodeTypes[view.type(node)] ?? 'unknown',
      name:
        rawName === 'system / Context'
          ? '(closure context)'
          : rawName.length > 80
            ? `${rawName.slice(0, 77)}…`
            : rawName,
    };
  }

  /** `history`, `[3]`, `(context) store`, `(internal) table`, `(getter)`. */
  private edgeLabel(edge: number): string {
    const view = this.view;
    const { e } = view;
    const type = view.edgeType(edge);
    if (type === e.element) return `[${view.slotIndex(edge)}]`;
    if (type === e.hidden) return `(hidden) [${view.slotIndex(edge)}]`;
    const name = view.edgeName(edge);
    if (type === e.property) return name;
    if (type === e.context) return `(context) ${name}`;
    if (type === e.shortcut) return `(shortcut) ${name}`;
    if (type === e.weak) return `(weak) ${name}`;
    if (name === 'getter' || name === 'setter') return `(${name})`;
    if (name === 'context') return '(closure context)';
    return `(internal) ${name}`;
  }

  /**
   * The nearest holder with a name a user knows (a class instance, a named function, a
   * closure's variable) and the property steps from it: `MemoryStore.sessions`.
   */
  private expression(path: readonly { ordinal: number; edge: number }[]): string {
    const view = this.view;
    const parts: string[] = [];
    for (let i = path.length - 1; i > 0; i--) {
      const { edge } = path[i]!;
      const holder = path[i - 1]!.ordinal * this.nfc;
      const type = view.edgeType(edge);
      if (type === view.e.property) parts.unshift(`.${view.edgeName(edge)}`);
      else if (type === view.e.element || type === view.e.hidden) parts.unshift(`[${view.slotIndex(edge)}]`);
      else if (type === view.e.context) return view.edgeName(edge) + parts.join('');
      else if (type === view.e.internal && /^\d+$/.test(view.edgeName(edge))) {
        // A Map's or Set's table slot: shown as an entry of the collection above it.
        parts.unshift('.get(…)');
        i--;
        continue;
      } else if (type !== view.e.internal) parts.unshift(`(${view.edgeName(edge)})`);
      const holderType = view.type(holder);
      const name = view.name(holder);
      if (
        (holderType === view.t.object && name !== 'Object' && name !== '' && !name.startsWith('system /')) ||
        (holderType === view.t.closure && name !== '')
      ) {
        return name + parts.join('');
      }
    }
    return parts.join('').replace(/^\./, '');
  }

  // ---- owners ----

  private owner(
    path: readonly { ordinal: number; edge: number }[],
    expression: string,
  ): { owner: GrowerOwner; filename: string; lineno: number } {
    const view = this.view;
    let library: { node: number; url: string } | undefined;
    for (let i = path.length - 2; i >= 0; i--) {
      const node = path[i]!.ordinal * this.nfc;
      const next = path[i + 1]!;
      const type = view.type(node);
      if (type === view.t.object) {
        const klass = this.classOf(node);
        const url = klass < 0 ? undefined : this.urlOf(klass);
        if (url !== undefined && this.options.traced(url) !== undefined) {
          const place = this.placeOf(klass, url);
          const property = view.edgeType(next.edge) === view.e.property ? view.edgeName(next.edge) : undefined;
          const name = view.name(node);
          const field = property === undefined ? undefined : this.fieldLine(place, name, property);
          return { owner: { kind: 'instance', name: property ? `${name}.${property}` : name }, ...(field ?? place) };
        }
        if (url !== undefined && library === undefined) library = { node: klass, url };
      } else if (type === view.t.closure) {
        const url = this.urlOf(node);
        if (url !== undefined && this.options.traced(url) !== undefined) {
          const variable = this.contextVariable(path, i);
          const place = this.placeOf(node, url);
          if (variable !== undefined) {
            const declared = this.mappedDeclaration(node, url, variable) ?? this.declarationLine(place, variable);
            return { owner: { kind: 'variable', name: variable }, ...(declared ?? place) };
          }
          return { owner: { kind: 'closure', name: view.name(node) || '(anonymous)' }, ...place };
        }
        if (url !== undefined && library === undefined) library = { node, url };
      }
    }
    if (library !== undefined) {
      const call = this.libraryCall(library.url);
      if (call !== undefined) return call;
      return { owner: { kind: 'library', name: expression }, ...this.placeOf(library.node, library.url) };
    }
    return { owner: { kind: 'library', name: expression }, filename: '(unknown)', lineno: 1 };
  }

  /** The variable name when the path goes closure → its context → a context variable. */
  private contextVariable(path: readonly { ordinal: number; edge: number }[], closureAt: number): string | undefined {
    const view = this.view;
    const toContext = path[closureAt + 1];
    const toValue = path[closureAt + 2];
    if (!toContext || !toValue) return undefined;
    if (
      view.edgeType(toContext.edge) !== view.e.internal ||
      this.snapshot.edges[toContext.edge + this.snapshot.layout.edgeNameOffset] !== this.contextName
    )
      return undefined;
    if (view.edgeType(toValue.edge) !== view.e.context) return undefined;
    return view.edgeName(toValue.edge);
  }

  /** An object's class: `__proto__.constructor` when it is a closure, else -1. */
  private classOf(node: number): number {
    const proto = this.followName(node, this.protoName);
    if (proto < 0) return -1;
    const klass = this.followName(proto, this.constructorName);
    return klass >= 0 && this.view.type(klass) === this.view.t.closure ? klass : -1;
  }

  private followName(node: number, name: number): number {
    if (name < 0) return -1;
    const view = this.view;
    const { edges, layout } = this.snapshot;
    for (let e = view.edgesStart(node), end = view.edgesEnd(node); e < end; e += view.edgeFieldCount) {
      if (view.namedEdge(e) && edges[e + layout.edgeNameOffset] === name) return view.to(e);
    }
    return -1;
  }

  private urlOf(closure: number): string | undefined {
    const script = this.view.closureScript(closure);
    const url = this.view.closureUrl(closure, script);
    return url === undefined || url === '' ? undefined : url;
  }

  private sourceOf(url: string): string | undefined {
    if (!this.sources.has(url)) this.sources.set(url, this.options.source(url));
    return this.sources.get(url);
  }

  /** A closure's definition, source-mapped: file name and 1-based line. */
  private placeOf(
    closure: number,
    url: string,
  ): { filename: string; lineno: number; url: string; text: string | undefined } {
    const view = this.view;
    const row = view.locations.find(closure);
    const source = this.sourceOf(url);
    if (row < 0) return { filename: this.options.filename(url), lineno: 1, url, text: source };
    const line = view.locations.line(row) + 1;
    const column = view.locations.column(row);
    const map = source === undefined ? undefined : scriptSourceMap(url, source);
    const original = map?.originalPosition(line, column);
    if (map && original)
      return {
        filename: this.options.filename(original.url),
        lineno: original.line,
        url: original.url,
        text: map.sourceText(original.url),
      };
    return { filename: this.options.filename(url), lineno: line, url, text: source };
  }

  /**
   * The line of `property`'s field or first assignment in class `className`, whose
   * definition V8 places at `place` (its `class` keyword, or its constructor).
   */
  private fieldLine(
    place: { filename: string; lineno: number; text: string | undefined },
    className: string,
    property: string,
  ): { filename: string; lineno: number } | undefined {
    if (place.text === undefined) return { filename: place.filename, lineno: place.lineno };
    const lines = place.text.split('\n');
    const name = escapeRegExp(property);
    const field = new RegExp(
      `^\\s*(?:(?:public|private|protected|readonly|static|declare|override|#)\\s*)*${name}\\s*[?!]?\\s*[:=;]|this\\.${name}\\s*=[^=]`,
    );
    // From the `class` line when the location is the constructor's, further down.
    const classLine = new RegExp(`\\bclass\\s+${escapeRegExp(className)}\\b`);
    let start = Math.max(0, place.lineno - 1);
    for (let i = start; i >= 0 && i > place.lineno - 200; i--) {
      if (classLine.test(lines[i]!)) {
        start = i;
        break;
      }
    }
    // A class is seldom longer than this; past it the match would be another class's.
    for (let i = start; i < Math.min(lines.length, start + 400); i++) {
      if (field.test(lines[i]!)) return { filename: place.filename, lineno: i + 1 };
    }
    return { filename: place.filename, lineno: place.lineno };
  }

  /**
   * A variable's declaration in a source-mapped script, found in the script as V8 ran it
   * and mapped to the original: the declaration nearest the closure that captures it
   * (a bundler's chunk holds several modules, each its own scope: Turbopack's module
   * factories). Undefined when the script has no map or the declaration maps nowhere;
   * the caller then searches the original text from the closure's mapped place.
   */
  private mappedDeclaration(
    closure: number,
    url: string,
    variable: string,
  ): { filename: string; lineno: number } | undefined {
    const source = this.sourceOf(url);
    const map = source === undefined ? undefined : scriptSourceMap(url, source);
    if (source === undefined || map === undefined) return undefined;
    const row = this.view.locations.find(closure);
    const closureLine = row < 0 ? 0 : this.view.locations.line(row);
    const name = escapeRegExp(variable);
    const declaration = new RegExp(`\\b(?:const|let|var|function\\*?|class)\\s+(${name})(?![\\w$])`, 'd');
    const lines = source.split('\n');
    let best: { line: number; column: number } | undefined;
    for (let i = 0; i < lines.length; i++) {
      const found = declaration.exec(lines[i]!);
      if (!found) continue;
      if (best === undefined || Math.abs(i - closureLine) < Math.abs(best.line - 1 - closureLine))
        best = { line: i + 1, column: found.indices![1]![0] };
    }
    if (best === undefined) return undefined;
    const original = map.originalPosition(best.line, best.column);
    return original === undefined
      ? undefined
      : { filename: this.options.filename(original.url), lineno: original.line };
  }

  /** A module-scope variable's declaration line, searched in the closure's source. */
  private declarationLine(
    place: { filename: string; lineno: number; text: string | undefined },
    variable: string,
  ): { filename: string; lineno: number } | undefined {
    if (place.text === undefined) return undefined;
    const name = escapeRegExp(variable);
    const declaration = new RegExp(
      `\\b(?:const|let|var|function\\*?|class)\\s+${name}\\b|\\b(?:const|let|var)\\s*[{[][^=]*\\b${name}\\b`,
    );
    const lines = place.text.split('\n');
    for (let i = 0; i < lines.length; i++)
      if (declaration.test(lines[i]!)) return { filename: place.filename, lineno: i + 1 };
    return undefined;
  }

  /**
   * The app line that calls into the package `url` belongs to: the first call of the
   * binding an app script requires or imports the package under.
   */
  private libraryCall(url: string): { owner: GrowerOwner; filename: string; lineno: number } | undefined {
    const pkg = packageOf(url);
    if (pkg === undefined) return undefined;
    const quoted = escapeRegExp(pkg);
    const binding = new RegExp(
      `(?:(?:const|let|var)\\s+([\\w$]+)\\s*=\\s*require\\(\\s*['"]${quoted}['"]\\s*\\)|import\\s+([\\w$]+)(?:\\s*,\\s*\\{[^}]*\\})?\\s+from\\s+['"]${quoted}['"]|import\\s+\\*\\s+as\\s+([\\w$]+)\\s+from\\s+['"]${quoted}['"])`,
    );
    for (const appUrl of this.options.appUrls ?? []) {
      if (this.options.traced(appUrl) === undefined) continue;
      const source = this.sourceOf(appUrl);
      if (source === undefined) continue;
      const found = binding.exec(source);
      if (!found) continue;
      const name = found[1] ?? found[2] ?? found[3]!;
      const lines = source.split('\n');
      const declaredAt = source.slice(0, found.index).split('\n').length - 1;
      const call = new RegExp(`(?<![\\w$.])${escapeRegExp(name)}\\s*(?:\\.[\\w$]+\\s*)?\\(`);
      for (let i = declaredAt + 1; i < lines.length; i++) {
        if (!call.test(lines[i]!)) continue;
        const map = scriptSourceMap(appUrl, source);
        const original = map?.originalLine(i + 1);
        return {
          owner: { kind: 'call', name: `${name}(…) from ${pkg}` },
          filename: original ? this.options.filename(original.url) : this.options.filename(appUrl),
          lineno: original ? original.line : i + 1,
        };
      }
    }
    return undefined;
  }
}

/** `express-session` for `/app/node_modules/express-session/session/memory.js`; `@scope/name` too. */
export function packageOf(url: string): string | undefined {
  const path = scriptPath(url) ?? url;
  const found = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path.replace(/\\/g, '/'));
  return found?.[1];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
