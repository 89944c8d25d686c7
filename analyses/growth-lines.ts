/**
 * The lines that make a growing entry grow, as far as the source alone can tell (the
 * cheap mode, always on): calls and assignments that add to the growing binding or to
 * the property its growth path names. Read with a real parser (acorn), not patterns, so
 * that strings and comments never match. These are *references*: the line that pushes
 * into `MainPage.history` is found, the line that built the pushed object is not (that
 * takes allocation tracking, `--allocation-sites`).
 *
 * What counts as adding to `T` (the growing object, e.g. `MainPage.history`, or
 * `this.history` inside the class; `requestLog`):
 * - `T.push(…)`, `unshift`, `splice`, `set`, `add` (arrays, Maps, Sets);
 * - `T[k] = …`, `T.k = …`, `Object.assign(T, …)`;
 * - `T = T.concat(…)`, `T = [...T, …]`, `T += …` (a new, longer value);
 * - for an EventEmitter whose listeners grow (`_events` on the path): `E.on(…)`,
 *   `addListener`, `prependListener`, `once`, `prependOnceListener`;
 * - when the growth is below a property this source never names (DataLoader's
 *   `_cacheMap` inside `loader`, a store's `sessions` filled by its own methods): a method
 *   call with arguments on the object above it (`loader.load(key)`, `this.store.set(…)`),
 *   other than the ones that only read or remove (`get`, `has`, `delete`, …).
 * A TypeScript module is read in the JavaScript the target runs, and the lines are mapped
 * back to the `.ts` through its source map.
 */
import type { Node } from 'acorn';
import { parseProgram } from '../profiler/heap/declarations.js';
import { scriptSourceMap } from '../profiler/heap/source-maps.js';
import type { GrowthPath, MarkedLine, Suspect } from '../contract/record.js';

/** What grows, in the names the source uses. */
export interface GrowthTarget {
  /** The entry's binding name (`MainPage`, `requestLog`). */
  name: string;
  /** Property names from the entry down to the growing object (`['history']`). */
  properties: string[];
  /** True when what grows is an EventEmitter's listeners (`_events` on the path). */
  emitter: boolean;
}

const MUTATORS = new Set(['push', 'unshift', 'splice', 'set', 'add']);
const LISTENER_METHODS = new Set(['on', 'addListener', 'prependListener', 'once', 'prependOnceListener']);
/** Methods that read: calling them hands nothing to keep. */
const READERS = new Set([
  'get',
  'has',
  'includes',
  'indexOf',
  'find',
  'findIndex',
  'forEach',
  'map',
  'filter',
  'some',
  'every',
  'reduce',
  'slice',
  'keys',
  'values',
  'entries',
  'at',
  'toString',
  'toJSON',
  'emit',
  'delete',
  'clear',
  'clearAll',
  'remove',
]);

/** The growth target of a suspect: its name and the property names of its growth path. */
export function growthTarget(name: string, path: GrowthPath | null | undefined): GrowthTarget {
  const properties: string[] = [];
  let emitter = false;
  for (const step of path?.steps.slice(1) ?? []) {
    if (step.edge === '_events') {
      emitter = true;
      break;
    }
    // Internal slots, elements and Map values have no name in the source.
    if (/^[A-Za-z_$][\w$]*$/.test(step.edge)) properties.push(step.edge);
    else break;
  }
  return { name, properties, emitter };
}

/**
 * The lines of `source` that add to `target`, sorted; empty when the source does not
 * parse as JavaScript (TypeScript, a syntax error).
 *
 * @example
 *   findGrowthLines('const log = new Map();\nexport function h(k) { log.set(k, 1); }\n', { name: 'log', properties: [], emitter: false })
 *   // [{ line: 2, reason: 'adds to log (set)', kind: 'reference' }]
 */
export function findGrowthLines(source: string, target: GrowthTarget): MarkedLine[] {
  return growthLinesIn(source, target) ?? [];
}

/** A module's text as the code browser shows it (contract/app-deps.ts ModuleSource). */
export interface ShownSource {
  url?: string;
  source: string;
  /** When `source` is an original from a source map: the module name of the script it was found through. */
  generatedFrom?: string;
  /** That script's loaded text when it has the module's own name (tsx: the `.ts` URL runs JavaScript). */
  generatedSource?: string;
}

/**
 * The lines that add to `target` in the module as the code browser shows it. A
 * TypeScript original does not parse as JavaScript: then the lines are found in the
 * script the target runs (`generatedFrom`) and mapped back through its source map.
 */
export async function sourceGrowthLines(
  moduleName: string,
  target: GrowthTarget,
  moduleSource: (moduleName: string) => Promise<ShownSource | undefined>,
): Promise<MarkedLine[]> {
  const shown = await moduleSource(moduleName).catch(() => undefined);
  if (!shown) return [];
  const direct = growthLinesIn(shown.source, target);
  if (direct !== undefined) return direct;
  const from = shown.generatedFrom;
  if (from === undefined) return [];
  // Under tsx the script has the original's own name: its JavaScript comes along.
  const generated =
    from === moduleName
      ? shown.generatedSource === undefined || shown.url === undefined
        ? undefined
        : { url: shown.url, source: shown.generatedSource }
      : await moduleSource(from).catch(() => undefined);
  if (!generated?.url) return [];
  const map = scriptSourceMap(generated.url, generated.source);
  const found = map === undefined ? undefined : growthMarksIn(generated.source, target);
  if (!map || !found) return [];
  // By line and column: a loader may write the whole module on one line (tsx).
  const mapped: RawMark[] = [];
  for (const mark of found) {
    const original = map.originalPosition(mark.line, mark.column) ?? map.originalLine(mark.line);
    if (!original || (shown.url !== undefined && original.url !== shown.url)) continue;
    mapped.push({ ...mark, line: original.line });
  }
  return byLine(mapped);
}

/** One place that adds to the target: 1-based line, 0-based column. */
interface RawMark {
  line: number;
  column: number;
  reason: string;
}

/** Marks on the same line become one, their reasons joined; sorted by line. */
function byLine(marks: readonly RawMark[]): MarkedLine[] {
  const reasons = new Map<number, string[]>();
  for (const { line, reason } of marks) {
    const list = reasons.get(line) ?? [];
    if (!list.includes(reason)) list.push(reason);
    reasons.set(line, list);
  }
  return [...reasons]
    .sort((a, b) => a[0] - b[0])
    .map(([line, list]) => ({ line, reason: list.join('; '), kind: 'reference' as const }));
}

/** The lines, or undefined when the source does not parse as JavaScript. */
function growthLinesIn(source: string, target: GrowthTarget): MarkedLine[] | undefined {
  const marks = growthMarksIn(source, target);
  return marks === undefined ? undefined : byLine(marks);
}

/** The places, or undefined when the source does not parse as JavaScript. */
function growthMarksIn(source: string, target: GrowthTarget): RawMark[] | undefined {
  const program = parseProgram(source, 'module');
  if (!program) return undefined;
  const label = [target.name, ...target.properties].join('.');
  const marks: RawMark[] = [];
  const mark = (node: Node, reason: string) => {
    const start = node.loc?.start;
    if (start === undefined) return;
    marks.push({ line: start.line, column: start.column, reason });
  };
  const isTarget = (node: Node | null | undefined): boolean => refersTo(node, target.name, target.properties);
  // Growth inside an object this source does not reach into (a library's `_cacheMap`, a
  // class's field set elsewhere): the calls that hand that object data are the lines.
  const hidden = target.emitter ? -1 : firstUnmentioned(program, target.properties);
  const holder = hidden < 0 ? [] : target.properties.slice(0, hidden);
  const holderLabel = [target.name, ...holder].join('.');
  const isHolder = (node: Node | null | undefined): boolean => refersTo(node, target.name, holder);

  visit(program, (node) => {
    if (node.type === 'CallExpression') {
      const call = node as Node & { callee: Node; arguments: Node[] };
      const callee = call.callee as Node & { object?: Node; property?: Node; computed?: boolean };
      const method = callee.type === 'MemberExpression' ? propertyName(callee) : undefined;
      if (method === undefined) return;
      if (target.emitter) {
        if (LISTENER_METHODS.has(method) && isTarget(callee.object))
          mark(node, `adds a listener to ${label} (${method})`);
        return;
      }
      if (MUTATORS.has(method) && isTarget(callee.object)) mark(node, `adds to ${label} (${method})`);
      else if (hidden >= 0 && call.arguments.length > 0 && !READERS.has(method) && isHolder(callee.object)) {
        mark(node, `hands data to ${holderLabel}.${method}(…), which keeps it in ${label}`);
      }
      if (method === 'assign' && isIdentifier(callee.object, 'Object') && isTarget(call.arguments[0])) {
        mark(node, `adds to ${label} (Object.assign)`);
      }
    } else if (node.type === 'AssignmentExpression' && !target.emitter) {
      const assignment = node as Node & { left: Node & { object?: Node }; right: Node; operator: string };
      const left = assignment.left;
      if (left.type === 'MemberExpression' && isTarget(left.object)) {
        mark(node, `adds to ${label} (sets a key)`);
      } else if (isTarget(left) && (assignment.operator === '+=' || contains(assignment.right, isTarget))) {
        mark(node, `adds to ${label} (reassigns it with more)`);
      }
    }
  });
  return marks;
}

/**
 * The index of the first of `properties` that `program` never names (as `x.p`, `x['p']`,
 * a key or a class field), or -1 when it names them all: the growth below that property
 * happens in code elsewhere.
 */
function firstUnmentioned(program: Node, properties: readonly string[]): number {
  if (properties.length === 0) return -1;
  const named = new Set<string>();
  visit(program, (node) => {
    if (node.type === 'MemberExpression') {
      const name = propertyName(node);
      if (name !== undefined) named.add(name);
    } else if (node.type === 'Property' || node.type === 'PropertyDefinition' || node.type === 'MethodDefinition') {
      const key = (node as Node & { key: Node }).key;
      if (key.type === 'Identifier') named.add((key as Node & { name: string }).name);
      else if (key.type === 'Literal') named.add(String((key as Node & { value: unknown }).value));
    }
  });
  return properties.findIndex((p) => !named.has(p));
}

/**
 * Adds `marked_lines` (references found in the source) to the growing suspects, reading
 * each module's source once; a module that cannot be read gets no marks.
 */
export async function markGrowthLines(
  suspects: Suspect[],
  moduleSource: (moduleName: string) => Promise<ShownSource | undefined>,
): Promise<Suspect[]> {
  const sources = new Map<string, Promise<ShownSource | undefined>>();
  const read = (moduleName: string) => {
    let text = sources.get(moduleName);
    if (!text) {
      text = moduleSource(moduleName).catch(() => undefined);
      sources.set(moduleName, text);
    }
    return text;
  };
  for (const suspect of suspects) {
    if (suspect.verdict !== 'growing') continue;
    const found = await sourceGrowthLines(suspect.module_name, growthTarget(suspect.name, suspect.growth_path), read);
    // Growth inside a library that the app's own call created (`app.use(session({...}))`):
    // that call is the line to open, since the app never names the growing collection.
    if (suspect.owner?.kind === 'call' && !found.some((m) => m.line === suspect.lineno)) {
      found.unshift({ line: suspect.lineno, reason: `creates the holder: ${suspect.owner.name}`, kind: 'reference' });
    }
    suspect.marked_lines = [...(suspect.marked_lines ?? []).filter((m) => m.kind !== 'reference'), ...found];
  }
  return suspects;
}

/**
 * True when `node` names the growing object: `name` itself when there are no
 * properties; else a member expression for the last property whose object is `this`,
 * `this.constructor`, rooted at `name`, or the previous property (`x.cache.items`).
 */
function refersTo(node: Node | null | undefined, name: string, properties: readonly string[]): boolean {
  if (!node) return false;
  node = unwrap(node);
  if (properties.length === 0) return isIdentifier(node, name);
  if (node.type !== 'MemberExpression') return false;
  const member = node as Node & { object: Node };
  if (propertyName(member) !== properties[properties.length - 1]) return false;
  const object = unwrap(member.object);
  if (object.type === 'ThisExpression') return true;
  if (
    properties.length > 1 &&
    object.type === 'MemberExpression' &&
    propertyName(object) === properties[properties.length - 2]
  )
    return true;
  if (
    object.type === 'MemberExpression' &&
    propertyName(object) === 'constructor' &&
    unwrap((object as Node & { object: Node }).object).type === 'ThisExpression'
  ) {
    return true;
  }
  return rootName(object) === name;
}

/** `a` for `a.b.c`, `a?.b`, `a['b']`; undefined for anything else. */
function rootName(node: Node): string | undefined {
  let current = unwrap(node);
  while (current.type === 'MemberExpression') current = unwrap((current as Node & { object: Node }).object);
  return current.type === 'Identifier' ? (current as Node & { name: string }).name : undefined;
}

/** `(x)`, `x!`-free JavaScript: parentheses are gone already; `a?.b` is a ChainExpression. */
function unwrap(node: Node): Node {
  return node.type === 'ChainExpression' ? (node as Node & { expression: Node }).expression : node;
}

function isIdentifier(node: Node | null | undefined, name: string): boolean {
  return node?.type === 'Identifier' && (node as Node & { name: string }).name === name;
}

/** `push` for `x.push` and `x['push']`; undefined for computed names. */
function propertyName(member: Node): string | undefined {
  const { property, computed } = member as Node & { property: Node; computed: boolean };
  if (!computed && property.type === 'Identifier') return (property as Node & { name: string }).name;
  if (property.type === 'Literal' && typeof (property as Node & { value: unknown }).value === 'string') {
    return (property as Node & { value: string }).value;
  }
  return undefined;
}

function contains(node: Node, test: (node: Node) => boolean): boolean {
  let found = false;
  visit(node, (n) => {
    if (!found && test(n)) found = true;
  });
  return found;
}

/** Calls `fn` on every node below `root`, iteratively (generated code nests deeply). */
function visit(root: Node, fn: (node: Node) => void): void {
  const stack: Node[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    fn(node);
    for (const key in node) {
      if (key === 'loc' || key === 'start' || key === 'end' || key === 'type') continue;
      const value = (node as unknown as Record<string, unknown>)[key];
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) if (isNode(value[i])) stack.push(value[i] as Node);
      } else if (isNode(value)) {
        stack.push(value);
      }
    }
  }
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
