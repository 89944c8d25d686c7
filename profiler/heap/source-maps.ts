/**
 * Source maps of the target's scripts, so that entries of a TypeScript app (compiled by
 * `tsc --sourceMap` and run with `node --enable-source-maps`, or run through tsx) point at
 * the `.ts` file and line, and `--trace-module src/store.ts` traces `dist/store.js`.
 *
 * A script's map is named by its last `//# sourceMappingURL=` comment, as Node finds it:
 * - an inline `data:application/json;base64,…` URL (tsx, esbuild, `tsc --inlineSourceMap`);
 * - a path or file URL, resolved against the script's own URL and read from disk
 *   (`tsc --sourceMap` writes `store.js.map` next to `store.js`).
 * Nothing is fetched over the network. A script without a map (or with an unreadable or
 * broken one) has none: its entries stay as they are.
 *
 * Positions follow @jridgewell/trace-mapping: lines are 1-based, columns 0-based.
 *
 * @example
 *   const map = scriptSourceMap('file:///app/dist/store.js', source);
 *   map?.originalPosition(12, 4); // { url: 'file:///app/src/store.ts', line: 14, column: 2 }
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import type * as TraceMapping from '@jridgewell/trace-mapping';
import type { SectionedSourceMapInput, TraceMap } from '@jridgewell/trace-mapping';
import { debug } from '../../common/debug-log.js';

/**
 * @jridgewell/trace-mapping, loaded when the first source map is read: most analyses
 * read none, and loading it costs the CLI's start-up time.
 */
let traceMapping: typeof TraceMapping | undefined;
function loadTraceMapping(): typeof TraceMapping {
  return (traceMapping ??= createRequire(import.meta.url)('@jridgewell/trace-mapping') as typeof TraceMapping);
}

/** A place in an original source. */
export interface OriginalPosition {
  /** The original source, resolved: a `file://` URL for files, else as the map names it. */
  url: string;
  /** 1-based line. */
  line: number;
  /** 0-based column. */
  column: number;
}

/** The source map of one script. */
export interface ScriptSourceMap {
  /** Where the map came from: the map file's URL, or the script's URL for an inline map. */
  readonly mapUrl: string;
  /** The original sources it maps to, resolved (`file://` URLs for files), without duplicates. */
  readonly sources: readonly string[];
  /**
   * Where a generated position comes from: the mapping at or before the column on that
   * line, else the first one after it; undefined when the line maps nowhere.
   */
  originalPosition(line: number, column: number): OriginalPosition | undefined;
  /** Where a generated line comes from: its first mapped segment (for declarations, known only by line). */
  originalLine(line: number): OriginalPosition | undefined;
  /** The text of an original source: the map's `sourcesContent`, else the file on disk. */
  sourceText(url: string): string | undefined;
}

/** Maps above this size are not read (a generated bundle's map, not an app's module). */
const MAP_SIZE_LIMIT = 64 << 20;
/** Parsed maps kept, least recently used dropped first. */
const CACHE_LIMIT = 256;

interface CacheEntry {
  map: ScriptSourceMap | null;
  /** For a map read from disk: the file and its mtime and size when read, to notice a rebuild. */
  file?: { path: string; mtimeMs: number; size: number };
}

/** Keyed by script URL and a digest of its source, so that the cache keeps no sources alive. */
const cache = new Map<string, CacheEntry>();

/**
 * The value of a script's `//# sourceMappingURL=` comment, or undefined. The comment must
 * end the script (only blank lines and other line comments after it), as compilers write
 * it; so a string literal holding such text, or a comment in the middle, does not count.
 * Reads the script from its end: no scan of a large source.
 */
export function sourceMappingUrl(source: string): string | undefined {
  let end = source.length;
  // A Function constructor closes the body it was given with `\n})`: a module run that
  // way (Vite's module runner) has its comment just before.
  let closing = /^\(\s*(?:async\s+)?function\s*\*?\s*anonymous\(/.test(source);
  while (end > 0) {
    const start = source.lastIndexOf('\n', end - 1) + 1;
    const line = source.slice(start, end);
    end = start - 1;
    if (/^\s*$/.test(line)) continue;
    if (closing && line === '})') {
      closing = false;
      continue;
    }
    const found = /^\s*(?:\/\/[#@]\s*sourceMappingURL=(\S+)|\/\*[#@]\s*sourceMappingURL=(\S+?)\s*\*\/)\s*$/.exec(line);
    if (found) return found[1] ?? found[2];
    if (!/^\s*\/\//.test(line)) return undefined;
  }
  return undefined;
}

/** A script name as a URL: file URLs as they are, absolute paths turned into file URLs. */
function scriptUrlOf(url: string): string | undefined {
  if (url.startsWith('file://')) return url;
  if (url.startsWith('/') || /^[A-Za-z]:[\\/]/.test(url)) return pathToFileURL(url).href;
  return undefined;
}

/** A `data:` URL's text (base64 or percent-encoded), or undefined. */
function dataUrlText(url: string): string | undefined {
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const meta = url.slice('data:'.length, comma).toLowerCase();
  const body = url.slice(comma + 1);
  try {
    return meta.split(';').includes('base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body);
  } catch {
    return undefined;
  }
}

function filePath(url: string): string | undefined {
  try {
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

function readText(path: string, limit = MAP_SIZE_LIMIT): string | undefined {
  try {
    if (statSync(path).size > limit) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Resolved original source URLs: file URLs normalised so that `a%20b` and `a b` compare equal. */
function normalizeSource(url: string): string {
  if (!url.startsWith('file:')) return url;
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

function parseMap(text: string, mapUrl: string): TraceMap | undefined {
  try {
    // A map may start with `)]}'` to stop it being run as a script (source map spec).
    const json = JSON.parse(text.replace(/^\)\]\}'[^\n]*\n/, '')) as SectionedSourceMapInput;
    if (typeof json !== 'object' || json === null) return undefined;
    return new (loadTraceMapping().FlattenMap)(json, mapUrl);
  } catch {
    return undefined;
  }
}

function makeSourceMap(map: TraceMap, mapUrl: string): ScriptSourceMap {
  const resolved = map.resolvedSources.map(normalizeSource);
  const sources = [...new Set(resolved.filter((s) => s !== ''))];
  const texts = new Map<string, string | undefined>();
  const { decodedMappings, originalPositionFor, sourceContentFor, GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND } =
    loadTraceMapping();
  const lines = decodedMappings(map);

  const position = (found: {
    source: string | null;
    line: number | null;
    column: number | null;
  }): OriginalPosition | undefined =>
    found.source === null || found.line === null
      ? undefined
      : { url: normalizeSource(found.source), line: found.line, column: found.column ?? 0 };

  return {
    mapUrl,
    sources,
    originalPosition(line, column) {
      if (line < 1 || column < 0) return undefined;
      return (
        position(originalPositionFor(map, { line, column, bias: GREATEST_LOWER_BOUND })) ??
        position(originalPositionFor(map, { line, column, bias: LEAST_UPPER_BOUND }))
      );
    },
    originalLine(line) {
      for (const segment of lines[line - 1] ?? []) {
        if (segment.length >= 4) {
          const source = resolved[segment[1]!];
          if (source !== undefined) return { url: source, line: segment[2]! + 1, column: segment[3]! };
        }
      }
      return undefined;
    },
    sourceText(url) {
      const key = normalizeSource(url);
      if (texts.has(key)) return texts.get(key);
      let text: string | undefined;
      const index = resolved.indexOf(key);
      if (index >= 0) text = sourceContentFor(map, map.resolvedSources[index]!) ?? undefined;
      if (text === undefined && key.startsWith('file:')) {
        const path = filePath(key);
        if (path !== undefined) text = readText(path);
      }
      texts.set(key, text);
      return text;
    },
  };
}

/**
 * The source map of a script, from its source text (as the inspector or the disk gives
 * it) and its URL or absolute path; undefined when it has none or it cannot be read.
 * Cached by (URL, source digest); a map file is re-read when it changes on disk.
 */
export function scriptSourceMap(url: string, source: string): ScriptSourceMap | undefined {
  if (!source.includes('sourceMappingURL=')) return undefined;
  const key = `${url}\u0000${createHash('sha1').update(source).digest('base64')}`;
  const hit = cache.get(key);
  if (hit !== undefined && (hit.file === undefined || unchanged(hit.file))) {
    cache.delete(key);
    cache.set(key, hit);
    return hit.map ?? undefined;
  }
  const entry = loadSourceMap(url, source);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(key, entry);
  return entry.map ?? undefined;
}

function unchanged(file: NonNullable<CacheEntry['file']>): boolean {
  try {
    const stat = statSync(file.path);
    return stat.mtimeMs === file.mtimeMs && stat.size === file.size;
  } catch {
    return file.size < 0;
  }
}

function loadSourceMap(url: string, source: string): CacheEntry {
  const reference = sourceMappingUrl(source);
  if (reference === undefined) return { map: null };
  const base = scriptUrlOf(url);
  if (reference.startsWith('data:')) {
    const text = dataUrlText(reference);
    // An inline map resolves its sources against the script itself; webpack's eval'd
    // modules (`webpack-internal:///(rsc)/./app/x.js`, Next.js `next dev --webpack`) name
    // their sources by absolute path, which are files.
    const against = base ?? (url.startsWith('webpack-internal:') ? 'file:///' : url);
    const map = text === undefined ? undefined : parseMap(text, against);
    if (!map)
      debug(
        'inline source map of %s not used: %s',
        url,
        text === undefined ? 'cannot decode the data: URL' : 'not a source map',
      );
    return { map: map ? makeSourceMap(map, against) : null };
  }
  const notUsed = (why: string): null => {
    debug('source map %s of %s not used: %s', reference, url, why);
    return null;
  };
  // Relative to what? (eval code, node: internals)
  if (base === undefined) return { map: notUsed('the script has no file URL to resolve it against') };
  let mapUrl: string;
  try {
    mapUrl = new URL(reference, base).href;
  } catch {
    return { map: notUsed('not a URL') };
  }
  if (!mapUrl.startsWith('file:')) return { map: notUsed('not a file (never fetched over the network)') };
  const path = filePath(mapUrl);
  if (path === undefined) return { map: notUsed('not a file path') };
  let stat: { mtimeMs: number; size: number };
  try {
    stat = statSync(path);
  } catch (error) {
    return { map: notUsed((error as Error).message), file: { path, mtimeMs: 0, size: -1 } };
  }
  const file = { path, mtimeMs: stat.mtimeMs, size: stat.size };
  const text = readText(path);
  const map = text === undefined ? undefined : parseMap(text, mapUrl);
  if (!map) notUsed(text === undefined ? `unreadable or over ${MAP_SIZE_LIMIT} bytes` : 'not a source map');
  return { map: map ? makeSourceMap(map, mapUrl) : null, file };
}

/**
 * The original sources of a script (resolved URLs), or none: what `--trace-module`
 * patterns are also matched against.
 */
export function originalSources(url: string, source: string): readonly string[] {
  return scriptSourceMap(url, source)?.sources ?? [];
}

/** The one original source a whole script comes from (tsc, tsx: one `.ts` per script), or undefined. */
export function singleOriginalSource(map: ScriptSourceMap): string | undefined {
  return map.sources.length === 1 ? map.sources[0] : undefined;
}

/**
 * What the code browser shows for a source-mapped script: the one original source it
 * comes from, named relative to `root` (the way entries name it in `module_name` and
 * `filename`), with its text (from the map's `sourcesContent`, else from disk).
 * Undefined when the script has no map, maps to several sources, or the text is missing:
 * then show the script as loaded.
 *
 * @example
 *   const original = originalSource(url, scriptSource, root);
 *   if (original) show(original.path, original.text); // 'src/store.ts', the TypeScript text
 */
export function originalSource(
  url: string,
  source: string,
  root: string,
): { path: string; url: string; text: string } | undefined {
  const map = scriptSourceMap(url, source);
  const original = map === undefined ? undefined : singleOriginalSource(map);
  if (map === undefined || original === undefined) return undefined;
  const text = map.sourceText(original);
  if (text === undefined) return undefined;
  return { path: originalName(original, root), url: original, text };
}

/** An original source's name: relative to `root` with `/` separators for files, else its URL. */
export function originalName(url: string, root: string): string {
  const path = url.startsWith('file:') ? filePath(url) : undefined;
  if (path === undefined) return url;
  const rel = relative(resolve(root), path);
  if (rel === '') return url;
  return sep === '/' ? rel : rel.split(sep).join('/');
}

/** A script the target has loaded, with the module name `--trace-module` gives it (undefined: not traced). */
export interface LoadedScript {
  url: string;
  moduleName: string | undefined;
}

/**
 * What the code browser shows for a module name of the records: the original source when
 * the name is a source-mapped script's one original source (`src/store.ts` for
 * `dist/store.js`, or for `src/store.ts` itself as tsx loaded it, whose loaded text is
 * JavaScript), else the traced script of that name as the target loaded it. Only the
 * traced scripts and the sources their maps name are looked at, never another path.
 * `generated` is the script an original source was found through.
 *
 * @param read the loaded source of a script (the inspector's `Debugger.getScriptSource`)
 * @param root the app root module names are relative to
 * @example
 *   const shown = await moduleSourceOf('src/store.ts', scripts, (url) => session.scriptSource(url), root);
 *   // { url: 'file:///app/src/store.ts', source: '…the TypeScript text…', generated: { url: 'file:///app/dist/store.js', … } }
 */
export async function moduleSourceOf(
  moduleName: string,
  scripts: Iterable<LoadedScript>,
  read: (url: string) => string | undefined | Promise<string | undefined>,
  root: string,
): Promise<{ url: string; source: string; generated?: LoadedScript } | undefined> {
  const traced = [...scripts].filter((s) => s.moduleName !== undefined);
  // The script of that name first, then scripts whose original source has that name.
  const ordered = [
    ...traced.filter((s) => s.moduleName === moduleName),
    ...traced.filter((s) => s.moduleName !== moduleName),
  ];
  for (const script of ordered) {
    const source = await read(script.url);
    if (source === undefined) continue;
    const original = originalSource(script.url, source, root);
    if (original?.path === moduleName) return { url: original.url, source: original.text, generated: script };
    if (script.moduleName === moduleName) return { url: script.url, source };
  }
  return undefined;
}
