/**
 * Where a module's top-level bindings are declared, read from its source with a real
 * JavaScript parser (acorn), so that an entry for a variable can point at its line.
 * A heap snapshot knows where functions start (its `locations`), but not where a
 * variable holding a Map or an array was declared.
 *
 * Covers ES modules and CommonJS: `const`/`let`/`var` (destructuring included),
 * `function`, `class`, imports, `export` forms (including `export { a as b }` and
 * `export default`), `var` hoisted out of top-level blocks, and for CommonJS the
 * `module.exports = {…}`, `module.exports.x =` and `exports.x =` assignments.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { debug } from '../../common/debug-log.js';
import type * as Acorn from 'acorn';
import type { Node, Pattern, Program, Statement, ModuleDeclaration, Expression } from 'acorn';

/**
 * acorn, loaded on the first parse: most analyses never parse a source (no traced
 * module's file is readable, or the cache has it), and loading it costs the CLI's
 * start-up tens of milliseconds.
 */
let acorn: typeof Acorn | undefined;
function loadAcorn(): typeof Acorn {
  return (acorn ??= createRequire(import.meta.url)('acorn') as typeof Acorn);
}

export type ModuleKind = 'module' | 'commonjs';

export interface ModuleDeclarations {
  /** Names bound at the module's top level (for CommonJS including the wrapper's parameters). */
  readonly locals: ReadonlySet<string>;
  /**
   * The script is a bundler's chunk of module factories (Turbopack): `locals` are those
   * of the factories' top levels, each factory's scope one module's.
   */
  readonly bundled?: boolean;
  /** 1-based line of the top-level declaration of `name`, if the source declares it. */
  localLine(name: string): number | undefined;
  /**
   * ES modules: for an export name, whether it is a binding of this module (not a
   * re-export from another one) and the line that defines it.
   */
  localExport(name: string): { line: number } | undefined;
  /** True when the source re-exports `name` from another module (`export … from`). */
  isReexport(name: string): boolean;
  /** CommonJS: the line that defines `module.exports.<name>` (or the `module.exports =` line). */
  commonjsExportLine(name: string): number | undefined;
  /**
   * The class whose explicit constructor starts at a 0-based line and column (its `(`,
   * where V8 places such a class; a class without one is at its `class` keyword).
   * Answers the 1-based line and 0-based column of the `class` keyword, anywhere in the
   * module (`class X`, `const X = class …`, `module.exports.X = class …`).
   */
  classOfConstructor(line: number, column: number): { line: number; column: number } | undefined;
}

/** The parameters of Node's CommonJS wrapper: bound in every CommonJS module scope. */
const COMMONJS_WRAPPER_NAMES = ['exports', 'require', 'module', '__filename', '__dirname'];

const CACHE_LIMIT = 256;
/**
 * Parsed sources by kind and a digest of the text: a profiler reads the same modules on
 * every snapshot. Keyed by digest so that the cache does not keep the sources alive.
 */
const cache = new Map<string, ModuleDeclarations | null>();

/**
 * Parses `source` and indexes its top-level declarations; undefined when the source is
 * not JavaScript acorn can read (TypeScript, a syntax error).
 *
 * @example moduleDeclarations('const a = new Map();\n', 'commonjs')?.localLine('a') === 1
 */
export function moduleDeclarations(source: string, kind: ModuleKind): ModuleDeclarations | undefined {
  const key = `${kind}:${createHash('sha1').update(source).digest('base64')}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit ?? undefined;
  const result = build(source, kind) ?? null;
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, result);
  return result ?? undefined;
}

/** Parses `source` as `kind` first, then as the other kind; undefined when neither parses. */
export function parseProgram(source: string, kind: ModuleKind): Program | undefined {
  const attempts: ('module' | 'script')[] = kind === 'module' ? ['module', 'script'] : ['script', 'module'];
  for (const sourceType of attempts) {
    try {
      return loadAcorn().parse(source, {
        ecmaVersion: 'latest',
        sourceType,
        locations: true,
        allowHashBang: true,
        allowReturnOutsideFunction: sourceType === 'script',
        allowAwaitOutsideFunction: true,
      });
    } catch (error) {
      // Try the other source type; say why the last one failed.
      if (sourceType === attempts[1])
        debug('source not parsed as JavaScript, no declaration lines from it: %s', (error as Error).message);
    }
  }
  return undefined;
}

function lineOf(node: Node): number {
  return node.loc!.start.line;
}

/** Every identifier a binding pattern declares, with its own line. */
function patternNames(pattern: Pattern, out: [string, number][]): void {
  const stack: Pattern[] = [pattern];
  while (stack.length > 0) {
    const p = stack.pop()!;
    switch (p.type) {
      case 'Identifier':
        out.push([p.name, lineOf(p)]);
        break;
      case 'ObjectPattern':
        for (const prop of p.properties) stack.push(prop.type === 'RestElement' ? prop.argument : prop.value);
        break;
      case 'ArrayPattern':
        for (const element of p.elements) if (element) stack.push(element);
        break;
      case 'RestElement':
        stack.push(p.argument);
        break;
      case 'AssignmentPattern':
        stack.push(p.left);
        break;
      default:
        break; // MemberExpression: assigns, does not declare
    }
  }
}

/** `module.exports` or `exports`, the two names of a CommonJS module's exports object. */
function isExportsObject(node: Expression | Node): boolean {
  if (node.type === 'Identifier') return (node as { name: string }).name === 'exports';
  if (node.type !== 'MemberExpression') return false;
  const member = node as unknown as { object: Node; property: Node; computed: boolean };
  return (
    !member.computed &&
    member.object.type === 'Identifier' &&
    (member.object as unknown as { name: string }).name === 'module' &&
    member.property.type === 'Identifier' &&
    (member.property as unknown as { name: string }).name === 'exports'
  );
}

function propertyName(key: Node, computed: boolean): string | undefined {
  if (key.type === 'Identifier' && !computed) return (key as unknown as { name: string }).name;
  if (key.type === 'Literal') {
    const value = (key as unknown as { value: unknown }).value;
    if (typeof value === 'string' || typeof value === 'number') return String(value);
  }
  return undefined;
}

function isUseStrict(statement: Statement | ModuleDeclaration | undefined): boolean {
  return (
    statement?.type === 'ExpressionStatement' &&
    statement.expression.type === 'Literal' &&
    statement.expression.value === 'use strict'
  );
}

/**
 * The body and parameter names of the one function a Function-constructor script holds
 * (`(function anonymous(a, b\n) {\n…\n})`, also async and generator), else undefined.
 */
function functionConstructorBody(program: Program): { body: Statement[]; parameters: string[] } | undefined {
  if (program.body.length !== 1) return undefined;
  const only = program.body[0]!;
  if (only.type !== 'ExpressionStatement' || only.expression.type !== 'FunctionExpression') return undefined;
  const fn = only.expression;
  if (fn.id?.name !== 'anonymous') return undefined;
  const parameters: string[] = [];
  for (const param of fn.params) if (param.type === 'Identifier') parameters.push(param.name);
  return { body: fn.body.body, parameters };
}

/**
 * The module factories of a Turbopack chunk (`next dev`): `module.exports = ["[project]/…",
 * ((__turbopack_context__) => { …module… }), …]`. Each factory's body is the top level
 * of one bundled module, its parameters bound there; undefined for any other script.
 */
function turbopackFactories(program: Program): { body: Statement[]; parameters: string[] }[] | undefined {
  const first = program.body[0];
  if (first?.type !== 'ExpressionStatement') return undefined;
  const assignment = first.expression;
  if (assignment.type !== 'AssignmentExpression' || !isExportsObject(assignment.left)) return undefined;
  if (assignment.right.type !== 'ArrayExpression') return undefined;
  const factories: { body: Statement[]; parameters: string[] }[] = [];
  let named = false;
  for (const element of assignment.right.elements) {
    if (element?.type === 'Literal' && typeof element.value === 'string') {
      named = true;
    } else if (
      named &&
      (element?.type === 'ArrowFunctionExpression' || element?.type === 'FunctionExpression') &&
      element.body.type === 'BlockStatement'
    ) {
      const parameters: string[] = [];
      for (const param of element.params) if (param.type === 'Identifier') parameters.push(param.name);
      factories.push({ body: element.body.body, parameters });
      named = false;
    }
  }
  return factories.length > 0 ? factories : undefined;
}

function build(source: string, kind: ModuleKind): ModuleDeclarations | undefined {
  const program = parseProgram(source, kind);
  if (program === undefined) return undefined;

  const strict = program.sourceType === 'module' || isUseStrict(program.body[0]);
  const localLines = new Map<string, number>();
  const exportsByName = new Map<string, { local?: string; line: number }>();
  const reexports = new Set<string>();
  const commonjsLines = new Map<string, number>();
  /** Object literals assigned to module.exports: property name → [line, shorthand/identifier value]. */
  const literalExports = new Map<string, { line: number; identifier?: string }>();
  let moduleExportsLine: number | undefined;

  const declare = (name: string, line: number) => {
    if (!localLines.has(name)) localLines.set(name, line);
  };

  const declareStatement = (statement: Statement | ModuleDeclaration, exported: boolean) => {
    if (statement.type === 'VariableDeclaration') {
      const names: [string, number][] = [];
      for (const declarator of statement.declarations) patternNames(declarator.id, names);
      for (const [name, line] of names) {
        declare(name, line);
        if (exported) exportsByName.set(name, { local: name, line });
      }
    } else if ((statement.type === 'FunctionDeclaration' || statement.type === 'ClassDeclaration') && statement.id) {
      declare(statement.id.name, lineOf(statement));
      if (exported) exportsByName.set(statement.id.name, { local: statement.id.name, line: lineOf(statement) });
    }
  };

  // `var` is function-scoped: a `var` inside a top-level block or loop is a module binding.
  const hoistVars = (root: Statement) => {
    const stack: Node[] = [root];
    while (stack.length > 0) {
      const node = stack.pop()! as Statement;
      switch (node.type) {
        case 'VariableDeclaration':
          if (node.kind === 'var') declareStatement(node, false);
          break;
        case 'FunctionDeclaration':
          // Sloppy-mode scripts also bind a function declared in a block at function
          // level (ECMAScript Annex B.3.3); nested ones only, top-level ones are handled above.
          if (node !== root && kind === 'commonjs' && !strict) declareStatement(node, false);
          break;
        case 'BlockStatement':
          stack.push(...node.body);
          break;
        case 'IfStatement':
          stack.push(node.consequent);
          if (node.alternate) stack.push(node.alternate);
          break;
        case 'ForStatement':
          if (node.init && node.init.type === 'VariableDeclaration') stack.push(node.init);
          stack.push(node.body);
          break;
        case 'ForInStatement':
        case 'ForOfStatement':
          if (node.left.type === 'VariableDeclaration') stack.push(node.left);
          stack.push(node.body);
          break;
        case 'WhileStatement':
        case 'DoWhileStatement':
        case 'LabeledStatement':
          stack.push(node.body);
          break;
        case 'TryStatement':
          stack.push(node.block);
          if (node.handler) stack.push(node.handler.body);
          if (node.finalizer) stack.push(node.finalizer);
          break;
        case 'SwitchStatement':
          for (const c of node.cases) stack.push(...c.consequent);
          break;
        default:
          break;
      }
    }
  };

  const commonjsAssignment = (expression: Expression) => {
    // Walk `a = b = c` chains: `module.exports = exports = {...}` is common.
    let current: Expression = expression;
    let value: Expression = expression;
    while (value.type === 'AssignmentExpression' && value.operator === '=') value = value.right;
    // tsc's CommonJS output first declares every export (`exports.b = exports.a = void 0;`)
    // and assigns it where the source defines it: that later line is the definition.
    if (value.type === 'UnaryExpression' && value.operator === 'void') return;
    while (current.type === 'AssignmentExpression' && current.operator === '=') {
      const target = current.left;
      const line = lineOf(current);
      if (target.type === 'MemberExpression' && isExportsObject(target.object)) {
        const name = propertyName(target.property, target.computed);
        if (name !== undefined && !commonjsLines.has(name)) commonjsLines.set(name, line);
      } else if (isExportsObject(target)) {
        moduleExportsLine ??= line;
        if (current.right.type === 'ObjectExpression') {
          for (const prop of current.right.properties) {
            if (prop.type !== 'Property') continue;
            const name = propertyName(prop.key, prop.computed);
            if (name === undefined || literalExports.has(name)) continue;
            const identifier = prop.value.type === 'Identifier' ? prop.value.name : undefined;
            literalExports.set(name, { line: lineOf(prop), identifier });
          }
        }
      }
      current = current.right;
    }
  };

  // A module run by a loader inside a Function-constructor function (Vite's module runner:
  // `new AsyncFunction('__vite_ssr_exports__', …, code)`, whose script V8 shows as
  // `(async function anonymous(…) {\n…\n})`): the function's body is the module's top
  // level, its parameters are bound there like CommonJS's wrapper's.
  const wrapper = functionConstructorBody(program);
  // A Turbopack chunk: the bodies of its module factories, one after the other (a name
  // declared in two of them keeps its first line).
  const factories = wrapper === undefined ? turbopackFactories(program) : undefined;
  const topLevel = wrapper?.body ?? factories?.flatMap((factory) => factory.body) ?? program.body;
  for (const name of wrapper?.parameters ?? factories?.flatMap((factory) => factory.parameters) ?? []) declare(name, 1);

  for (const statement of topLevel) {
    switch (statement.type) {
      case 'VariableDeclaration':
      case 'FunctionDeclaration':
      case 'ClassDeclaration':
        declareStatement(statement, false);
        break;
      case 'ImportDeclaration':
        for (const specifier of statement.specifiers) declare(specifier.local.name, lineOf(specifier));
        break;
      case 'ExportNamedDeclaration':
        if (statement.declaration) {
          declareStatement(statement.declaration, true);
        } else {
          for (const specifier of statement.specifiers) {
            const exportedName = propertyName(specifier.exported, false);
            if (exportedName === undefined) continue;
            if (statement.source) {
              reexports.add(exportedName);
            } else {
              const local = propertyName(specifier.local, false);
              exportsByName.set(exportedName, { local, line: lineOf(specifier) });
            }
          }
        }
        break;
      case 'ExportDefaultDeclaration': {
        const declaration = statement.declaration;
        if ((declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') && declaration.id) {
          declare(declaration.id.name, lineOf(declaration));
          exportsByName.set('default', { local: declaration.id.name, line: lineOf(declaration) });
        } else {
          exportsByName.set('default', { line: lineOf(statement) });
        }
        break;
      }
      case 'ExportAllDeclaration':
        if (statement.exported) {
          const name = propertyName(statement.exported, false);
          if (name !== undefined) reexports.add(name);
        }
        break;
      case 'ExpressionStatement':
        commonjsAssignment(statement.expression);
        break;
      default:
        hoistVars(statement);
        break;
    }
  }

  const classes = classesWithConstructors(program);
  const locals = new Set(localLines.keys());
  if (kind === 'commonjs') for (const name of COMMONJS_WRAPPER_NAMES) locals.add(name);

  return {
    locals,
    ...(factories === undefined ? {} : { bundled: true }),
    localLine: (name) => localLines.get(name),
    localExport(name) {
      const exported = exportsByName.get(name);
      if (exported === undefined) return undefined;
      const declared = exported.local === undefined ? undefined : localLines.get(exported.local);
      return { line: declared ?? exported.line };
    },
    isReexport: (name) => reexports.has(name),
    commonjsExportLine(name) {
      const assigned = commonjsLines.get(name);
      if (assigned !== undefined) return assigned;
      const literal = literalExports.get(name);
      if (literal !== undefined) {
        return (literal.identifier !== undefined ? localLines.get(literal.identifier) : undefined) ?? literal.line;
      }
      return localLines.get(name) ?? moduleExportsLine;
    },
    classOfConstructor(line, column) {
      const at = { line: line + 1, column };
      const found = classes.find((c) => same(c.constructorStart, at) || same(c.parametersStart, at));
      return found && { ...found.classStart };
    },
  };
}

interface ClassWithConstructor {
  /** Where the `class` keyword is (acorn: 1-based line, 0-based column). */
  classStart: { line: number; column: number };
  /** The `constructor` keyword. */
  constructorStart: { line: number; column: number };
  /** The `(` of its parameters: V8's location of the class (Node 20, V8 11.3). */
  parametersStart: { line: number; column: number };
}

function same(a: { line: number; column: number }, b: { line: number; column: number }): boolean {
  return a.line === b.line && a.column === b.column;
}

/** Every class of the program (at any depth) that has an explicit `constructor`. */
function classesWithConstructors(program: Program): ClassWithConstructor[] {
  const found: ClassWithConstructor[] = [];
  const stack: unknown[] = [program];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      stack.push(...node);
      continue;
    }
    if (node === null || typeof node !== 'object' || typeof (node as Node).type !== 'string') continue;
    const n = node as Node;
    if (n.type === 'ClassDeclaration' || n.type === 'ClassExpression') {
      const body = (n as unknown as { body: { body: Node[] } }).body.body;
      const method = body.find(
        (m) => m.type === 'MethodDefinition' && (m as unknown as { kind: string }).kind === 'constructor',
      );
      if (method !== undefined) {
        const value = (method as unknown as { value: Node }).value;
        found.push({
          classStart: n.loc!.start,
          constructorStart: method.loc!.start,
          parametersStart: value.loc!.start,
        });
      }
    }
    for (const key in n) {
      if (key === 'loc' || key === 'type' || key === 'start' || key === 'end') continue;
      const value = (n as unknown as Record<string, unknown>)[key];
      if (value !== null && typeof value === 'object') stack.push(value);
    }
  }
  return found;
}

/**
 * True when the text at a 0-based line and column starts with the `class` keyword: V8
 * places a class's location there, a function's at its parameter list.
 */
export function isClassAt(source: string, line: number, column: number): boolean {
  let offset = 0;
  for (let l = 0; l < line; l++) {
    offset = source.indexOf('\n', offset) + 1;
    if (offset === 0) return false;
  }
  offset += column;
  return /^class\b/.test(source.slice(offset, offset + 6));
}
