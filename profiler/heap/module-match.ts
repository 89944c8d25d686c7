/**
 * Which scripts are "traced modules", and what they are called in records.
 *
 * A script is named by V8 in two forms: CommonJS scripts by their absolute path
 * (`/app/src/store.cjs`), ES modules by a file URL (`file:///app/src/store.mjs`); the
 * inspector's `Debugger.scriptParsed` reports file URLs for both. Everything here
 * accepts either form, so a live profiler and an offline analysis name a module the
 * same way: its path relative to the app's root, with `/` separators (`src/store.cjs`).
 *
 * `--trace-module PATTERN` (repeatable) is a glob over that relative name:
 * - `*` matches within one path segment, `**` any number of segments, `?` one character;
 * - a pattern without glob characters names a file or a directory (`src` traces every
 *   script under `src/`, `src/store.ts` that one file);
 * - an absolute pattern (`/app/lib/**`, `file:///app/lib/**`) is matched against the
 *   absolute path instead, and `node:…` patterns against Node's internal script names.
 * Without patterns, the app's own scripts are traced: files under the root that are
 * not inside a `node_modules` folder nor a framework's build output (`.next/`), never
 * `node:` internals nor `eval` code; a build-output chunk is traced when its source map
 * leads back to the app's own files (a Next.js route compiled by Turbopack), so its
 * runtime chunks are not.
 *
 * A source-mapped script also matches a pattern that names one of its original sources:
 * `--trace-module src/store.ts` traces `dist/store.js` built from it with `tsc --sourceMap`
 * (source-maps.ts). The script's module name stays its own here; entries.ts names its
 * entries after the original source. Only the app's own scripts (outside `node_modules`)
 * are looked at this way, so a pattern never makes the matcher read every dependency.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { debug } from '../../common/debug-log.js';
import { AppError } from '../../contract/errors.js';
import { originalSources } from './source-maps.js';

export interface ModuleMatcher {
  /** The app root that module names are relative to. */
  readonly root: string;
  /** The module name of a traced script (path relative to the root), or undefined. */
  traced(url: string): string | undefined;
  /** A readable name for any script: relative to the root for files, else the URL itself. */
  filename(url: string): string;
}

export interface ModuleMatcherOptions {
  /** The app's root directory; module names are relative to it. */
  root: string;
  /** `--trace-module` values; none means "the app's own scripts". */
  patterns?: readonly string[];
  /**
   * The source of a script as the target loaded it (the inspector's copy), to find its
   * source map; when it returns undefined, or is not given, the file is read from disk.
   */
  source?(url: string): string | undefined;
}

/**
 * The absolute file path a script name or URL stands for, or undefined when it is not a
 * file (`node:internal/…`, `evalmachine.<anonymous>`, `data:` URLs, empty names).
 *
 * @example scriptPath('file:///app/a%20b.mjs') === '/app/a b.mjs'
 */
export function scriptPath(url: string): string | undefined {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(url) ? url : undefined;
}

/**
 * The file a webpack module run through `eval` stands for (Next.js `next dev --webpack`
 * names them `webpack-internal:///(rsc)/./app/api/items/route.js`: a layer, then the
 * path from the project's root), or undefined for any other URL.
 */
export function webpackModulePath(url: string, root: string): string | undefined {
  const found = /^webpack-internal:\/\/\/(?:\([^)]*\)\/)?\.\/([^?#]+)/.exec(url);
  return found ? resolve(root, found[1]!) : undefined;
}

/** The source text of a script from disk, for declaration lines; undefined when unreadable. */
export function readScriptSource(url: string): string | undefined {
  const path = scriptPath(url);
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    debug('script %s not read from disk: %s', path, (error as Error).message);
    return undefined;
  }
}

const GLOB_CHARS = /[*?[\]{}]/;

/** Turns one glob into a regular expression over a `/`-separated path. */
function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more whole segments; a trailing `**` anything at all.
        i++;
        if (glob[i + 1] === '/') {
          i++;
          source += '(?:.*/)?';
        } else {
          source += '.*';
        }
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      // Taken literally, an unclosed `{` would make the pattern match nothing, silently.
      if (end < 0) throw unbalanced(glob, "'{' is never closed: write {a,b} with its '}'");
      const options = glob
        .slice(i + 1, end)
        .split(',')
        .map(escapeRegExp);
      source += `(?:${options.join('|')})`;
      i = end;
    } else if (c === '}') {
      throw unbalanced(glob, "'}' closes no '{'");
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${source}$`);
}

/** A glob that cannot be read; says why, e.g. "'{' is never closed". */
class GlobSyntaxError extends Error {}

function unbalanced(_glob: string, why: string): GlobSyntaxError {
  return new GlobSyntaxError(why);
}

/** globToRegExp, with a syntax error told as a bad flag naming the pattern (exit status 2). */
function compileGlob(pattern: string, glob: string): RegExp {
  try {
    return globToRegExp(glob);
  } catch (error) {
    if (!(error instanceof GlobSyntaxError)) throw error;
    throw new AppError('BAD_FLAG', `--trace-module ${JSON.stringify(pattern)} is not a valid glob: ${error.message}.`);
  }
}

/**
 * Checks one `--trace-module` pattern as the option parsers' `check` (exit status 2
 * naming it), so a bad pattern stops the command before anything starts.
 */
export function checkModulePattern(pattern: string): string {
  try {
    compileModulePattern(pattern);
  } catch (error) {
    // The option parser names the flag and the value itself.
    if (error instanceof AppError)
      throw new Error(error.message.replace(/^--trace-module "(?:[^"\\]|\\.)*" (?:is )?/, ''));
    throw error;
  }
  return pattern;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function toSlashes(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

/** One compiled `--trace-module` pattern: tests a relative name, an absolute path or a raw URL. */
type PatternTest = (relativeName: string | undefined, absolutePath: string | undefined, url: string) => boolean;

function compileModulePattern(pattern: string): PatternTest {
  const trimmed = pattern.trim();
  if (trimmed === '') {
    throw new AppError('BAD_FLAG', '--trace-module needs a pattern such as "src/**" or "lib/store.js".');
  }
  if (trimmed.startsWith('node:')) {
    const re = GLOB_CHARS.test(trimmed) ? compileGlob(pattern, trimmed) : undefined;
    return (_rel, _abs, url) => (re ? re.test(url) : url === trimmed || url.startsWith(`${trimmed}/`));
  }
  let absolute = false;
  let body = trimmed;
  if (body.startsWith('file://')) {
    body = scriptPath(body) ?? body;
    absolute = true;
  } else if (isAbsolute(body)) {
    absolute = true;
  }
  body = toSlashes(body).replace(/^\.\//, '').replace(/\/+$/, '');
  if (GLOB_CHARS.test(body)) {
    const re = compileGlob(pattern, body);
    return absolute
      ? (_rel, abs) => abs !== undefined && re.test(toSlashes(abs))
      : (rel) => rel !== undefined && re.test(rel);
  }
  // A plain name: that file, or everything under that directory.
  const matches = (name: string | undefined) => name !== undefined && (name === body || name.startsWith(`${body}/`));
  if (absolute) return (_rel, abs) => matches(abs === undefined ? undefined : toSlashes(abs));
  return (rel) => matches(rel);
}

/**
 * The default: the app's own files, under the root and outside `node_modules`, and not a
 * framework's build output: `next dev` runs its runtime and the app's modules from
 * chunks under `.next/` (`[turbopack]_runtime.js`, webpack's `webpack-runtime.js`), whose
 * top-level bindings are the bundler's, not the user's.
 */
function isOwnScript(relativeName: string | undefined): boolean {
  return (
    relativeName !== undefined &&
    relativeName !== '' &&
    !relativeName.startsWith('../') &&
    relativeName !== '..' &&
    !/(^|\/)node_modules\//.test(relativeName) &&
    !FRAMEWORK_OUTPUT.test(relativeName)
  );
}

/** Build output folders of dev servers: Next.js's `.next/`. */
const FRAMEWORK_OUTPUT = /(^|\/)\.next\//;

/** Whether a script (URL or path) lies in a dev server's build output (`.next/`). */
export function isBuildOutput(url: string): boolean {
  const path = scriptPath(url);
  return path !== undefined && FRAMEWORK_OUTPUT.test(toSlashes(path));
}

/** A script of a dev server's build output under the root (outside `node_modules`). */
function isFrameworkOutput(relativeName: string | undefined): boolean {
  return (
    relativeName !== undefined &&
    !relativeName.startsWith('../') &&
    !/(^|\/)node_modules\//.test(relativeName) &&
    FRAMEWORK_OUTPUT.test(relativeName)
  );
}

/**
 * Builds the `traced` test for `findEntries` (and a `filename` for scripts that are not
 * traced) from `--trace-module` patterns.
 *
 * @example
 *   const modules = createModuleMatcher({ root: '/app', patterns: ['src/**'] });
 *   modules.traced('file:///app/src/store.mjs'); // 'src/store.mjs'
 *   modules.traced('/app/node_modules/x/index.js'); // undefined
 */
export function createModuleMatcher(options: ModuleMatcherOptions): ModuleMatcher {
  const root = resolve(options.root);
  const tests = (options.patterns ?? []).map(compileModulePattern);
  const cache = new Map<string, string | undefined>();

  function relativeName(path: string | undefined): string | undefined {
    return path === undefined ? undefined : toSlashes(relative(root, path));
  }

  function traced(url: string): string | undefined {
    if (cache.has(url)) return cache.get(url);
    const abs = scriptPath(url) ?? webpackModulePath(url, root);
    const rel = relativeName(abs);
    let result: string | undefined;
    if (tests.length === 0) {
      if (isOwnScript(rel)) result = rel;
      else if (isFrameworkOutput(rel)) {
        // A bundler's chunk holds the app's own modules when its map leads back to them.
        const own = mapsToOwnSource(url);
        if (own === undefined) return undefined;
        if (own) result = rel;
      }
    } else {
      const matched = tests.some((test) => test(rel, abs, url)) || matchesOriginal(url, rel);
      // Not known yet (no source to find a map in): not cached, the inspector may give it later.
      if (matched === undefined) return undefined;
      if (matched) result = rel ?? url;
    }
    cache.set(url, result);
    return result;
  }

  /** Scripts whose file could not be read: the disk is asked once. */
  const unreadable = new Set<string>();

  function scriptSource(url: string): string | undefined {
    const given = options.source?.(url);
    if (given !== undefined || unreadable.has(url)) return given;
    const text = readScriptSource(url);
    if (text === undefined) unreadable.add(url);
    return text;
  }

  /**
   * Whether a pattern names one of the original sources of the app's own script `url`;
   * undefined when its source cannot be read (not on this machine, not fetched yet).
   */
  function matchesOriginal(url: string, rel: string | undefined): boolean | undefined {
    if (rel === undefined || /(^|\/)node_modules\//.test(rel)) return false;
    const source = scriptSource(url);
    if (source === undefined) return undefined;
    for (const original of originalSources(url, source)) {
      const originalAbs = scriptPath(original);
      if (tests.some((test) => test(relativeName(originalAbs), originalAbs, original))) return true;
    }
    return false;
  }

  /**
   * Whether a build-output chunk (`.next/dev/server/chunks/…`) comes in part from the
   * app's own files, by its source map: Turbopack puts a route's module in a chunk with
   * the externals it needs, while its runtime chunk maps to `turbopack:///` sources only.
   * Undefined when the chunk's source cannot be read yet.
   */
  function mapsToOwnSource(url: string): boolean | undefined {
    const source = scriptSource(url);
    if (source === undefined) return undefined;
    return originalSources(url, source).some((original) => isOwnScript(relativeName(scriptPath(original))));
  }

  function filename(url: string): string {
    const rel = relativeName(scriptPath(url) ?? webpackModulePath(url, root));
    return rel === undefined || rel === '' ? url : rel;
  }

  return { root, traced, filename };
}
