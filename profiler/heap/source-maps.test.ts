/**
 * Source maps of scripts: finding the `sourceMappingURL` comment, inline and file maps,
 * resolving original sources, re-reading a rebuilt map, and `--trace-module` patterns
 * that name an original source. Maps are written by hand here (VLQ `AAAA` = column 0 of
 * source 0, line 0, column 0; `AAEA` = two original lines further), so every expected
 * line follows from the mappings, not from the code under test.
 */
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moduleDeclarations } from './declarations.js';
import { createModuleMatcher } from './module-match.js';
import {
  moduleSourceOf,
  originalName,
  originalSource,
  originalSources,
  scriptSourceMap,
  sourceMappingUrl,
} from './source-maps.js';

let dir: string;

function write(path: string, text: string): string {
  const full = join(dir, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, text);
  return full;
}

function inline(map: object): string {
  return `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}`;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'apptrace-source-maps-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sourceMappingUrl', () => {
  it('reads the comment that ends a script, also before blank lines and other comments', () => {
    expect(sourceMappingUrl('a();\n//# sourceMappingURL=a.js.map')).toBe('a.js.map');
    expect(sourceMappingUrl('a();\n//# sourceMappingURL=a.js.map\n\n')).toBe('a.js.map');
    expect(sourceMappingUrl('a();\r\n//@ sourceMappingURL=old.map\r\n')).toBe('old.map');
    expect(sourceMappingUrl('a();\n//# sourceMappingURL=a.js.map\n// built by x\n')).toBe('a.js.map');
    expect(sourceMappingUrl('a();\n/*# sourceMappingURL=a.css.map */\n')).toBe('a.css.map');
  });

  it('ignores the text inside code, a comment followed by code, and scripts without one', () => {
    expect(sourceMappingUrl('const s = "//# sourceMappingURL=x.map";\n')).toBeUndefined();
    expect(sourceMappingUrl('//# sourceMappingURL=x.map\nrun();\n')).toBeUndefined();
    expect(sourceMappingUrl('run();\n')).toBeUndefined();
    expect(sourceMappingUrl('')).toBeUndefined();
  });
});

describe('scriptSourceMap', () => {
  it('decodes an inline map and resolves its sources against the script', () => {
    const script = `first();\nsecond();\n${inline({ version: 3, sources: ['../src/a.ts'], names: [], mappings: 'AAAA;AAEA' })}\n`;
    const url = pathToFileURL(join(dir, 'inline/dist/a.js')).href;
    const map = scriptSourceMap(url, script)!;
    const original = pathToFileURL(join(dir, 'inline/src/a.ts')).href;
    expect(map.sources).toEqual([original]);
    expect(map.originalPosition(1, 0)).toEqual({ url: original, line: 1, column: 0 });
    expect(map.originalPosition(2, 5)).toEqual({ url: original, line: 3, column: 0 });
    expect(map.originalLine(2)).toEqual({ url: original, line: 3, column: 0 });
    expect(map.originalPosition(3, 0)).toBeUndefined();
    expect(originalSources(url, script)).toEqual([original]);
    // The same script named by its path (V8 names CommonJS scripts so) finds the same sources.
    expect(scriptSourceMap(join(dir, 'inline/dist/a.js'), script)!.sources).toEqual([original]);
  });

  it('reads a percent-encoded data URL too', () => {
    const json = JSON.stringify({ version: 3, sources: ['x.ts'], names: [], mappings: 'AAAA' });
    const script = `x();\n//# sourceMappingURL=data:application/json,${encodeURIComponent(json)}\n`;
    const url = pathToFileURL(join(dir, 'pct/x.js')).href;
    expect(scriptSourceMap(url, script)!.sources).toEqual([pathToFileURL(join(dir, 'pct/x.ts')).href]);
  });

  it('reads a map file next to the script, and again once it is rebuilt', () => {
    const mapPath = write(
      'file/dist/b.js.map',
      JSON.stringify({ version: 3, sourceRoot: '', sources: ['../src/b.ts'], names: [], mappings: 'AAAA;AAEA' }),
    );
    const script = write('file/dist/b.js', 'one();\ntwo();\n//# sourceMappingURL=b.js.map\n');
    const source = 'one();\ntwo();\n//# sourceMappingURL=b.js.map\n';
    const original = pathToFileURL(join(dir, 'file/src/b.ts')).href;
    expect(scriptSourceMap(script, source)!.originalPosition(2, 0)).toEqual({ url: original, line: 3, column: 0 });
    // A rebuild that changed only the map (the script's text is the same).
    writeFileSync(mapPath, JSON.stringify({ version: 3, sources: ['../src/b.ts'], names: [], mappings: 'AAAA;AAIA' }));
    const later = new Date(Date.now() + 5_000);
    utimesSync(mapPath, later, later);
    expect(scriptSourceMap(script, source)!.originalPosition(2, 0)).toEqual({ url: original, line: 5, column: 0 });
  });

  it('has no map for a missing or broken map file, a network URL, or a script that is not a file', () => {
    write('broken/c.js.map', '{ not json');
    expect(scriptSourceMap(join(dir, 'broken/c.js'), 'c();\n//# sourceMappingURL=c.js.map\n')).toBeUndefined();
    expect(scriptSourceMap(join(dir, 'broken/d.js'), 'd();\n//# sourceMappingURL=missing.js.map\n')).toBeUndefined();
    expect(
      scriptSourceMap(join(dir, 'e.js'), 'e();\n//# sourceMappingURL=http://127.0.0.1:1/e.js.map\n'),
    ).toBeUndefined();
    expect(scriptSourceMap('evalmachine.<anonymous>', 'f();\n//# sourceMappingURL=f.js.map\n')).toBeUndefined();
    expect(scriptSourceMap(join(dir, 'g.js'), 'g();\n')).toBeUndefined();
  });

  it('gives an original text from sourcesContent, else from disk', () => {
    const withContent = `a();\n${inline({ version: 3, sources: ['k.ts'], sourcesContent: ['const k: number = 1;\n'], names: [], mappings: 'AAAA' })}\n`;
    const url = pathToFileURL(join(dir, 'content/k.js')).href;
    expect(originalSource(url, withContent, dir)).toEqual({
      path: 'content/k.ts',
      url: pathToFileURL(join(dir, 'content/k.ts')).href,
      text: 'const k: number = 1;\n',
    });

    write('disk/src/m.ts', 'export const m: string = "m";\n');
    const fromDisk = `m();\n${inline({ version: 3, sources: ['../src/m.ts'], names: [], mappings: 'AAAA' })}\n`;
    const diskUrl = pathToFileURL(join(dir, 'disk/dist/m.js')).href;
    expect(originalSource(diskUrl, fromDisk, join(dir, 'disk'))?.text).toBe('export const m: string = "m";\n');
    expect(originalSource(diskUrl, fromDisk, join(dir, 'disk'))?.path).toBe('src/m.ts');

    // A bundle made of two sources has no single original to show.
    const bundle = `a();\nb();\n${inline({ version: 3, sources: ['a.ts', 'b.ts'], sourcesContent: ['a', 'b'], names: [], mappings: 'AAAA;ACAA' })}\n`;
    expect(originalSource(pathToFileURL(join(dir, 'bundle/out.js')).href, bundle, dir)).toBeUndefined();
    expect(scriptSourceMap(pathToFileURL(join(dir, 'bundle/out.js')).href, bundle)!.originalLine(2)?.url).toBe(
      pathToFileURL(join(dir, 'bundle/b.ts')).href,
    );
  });

  it('names an original source relative to the root, and keeps non-file sources as they are', () => {
    expect(originalName(pathToFileURL(join(dir, 'app/src/a b.ts')).href, join(dir, 'app'))).toBe('src/a b.ts');
    expect(originalName('webpack://app/src/a.ts', dir)).toBe('webpack://app/src/a.ts');
  });
});

describe('moduleSourceOf (what the code browser shows)', () => {
  it('shows the original of a source-mapped module, the loaded script otherwise, and nothing untraced', async () => {
    const root = join(dir, 'browser');
    const map = (sources: string[], content: string[]) =>
      inline({ version: 3, sources, sourcesContent: content, names: [], mappings: 'AAAA' });
    const u = (path: string) => pathToFileURL(join(root, path)).href;
    const loaded = new Map<string, string>([
      // tsc output: dist/store.js from src/store.ts.
      [u('dist/store.js'), `exports.a = 1;\n${map(['../src/store.ts'], ['export const a = 1;\n'])}\n`],
      // tsx: the script is named src/view.ts, its text is JavaScript.
      [u('src/view.ts'), `export const v = 1;\n${map(['view.ts'], ['export const v: number = 1;\n'])}\n`],
      [u('plain.js'), 'exports.p = 1;\n'],
      [u('secret.js'), 'exports.s = 1;\n'],
    ]);
    const scripts = [
      { url: u('dist/store.js'), moduleName: 'dist/store.js' },
      { url: u('src/view.ts'), moduleName: 'src/view.ts' },
      { url: u('plain.js'), moduleName: 'plain.js' },
      { url: u('secret.js'), moduleName: undefined },
    ];
    const read = async (url: string) => loaded.get(url);
    // An original says which script it was found through.
    expect(await moduleSourceOf('src/store.ts', scripts, read, root)).toEqual({
      url: u('src/store.ts'),
      source: 'export const a = 1;\n',
      generated: scripts[0],
    });
    expect(await moduleSourceOf('src/view.ts', scripts, read, root)).toEqual({
      url: u('src/view.ts'),
      source: 'export const v: number = 1;\n',
      generated: scripts[1],
    });
    expect(await moduleSourceOf('plain.js', scripts, read, root)).toEqual({
      url: u('plain.js'),
      source: 'exports.p = 1;\n',
    });
    expect(await moduleSourceOf('secret.js', scripts, read, root)).toBeUndefined();
    expect(await moduleSourceOf('src/other.ts', scripts, read, root)).toBeUndefined();
  });
});

describe('--trace-module and original sources', () => {
  it("traces a built script when a pattern names its original source, under the script's own name", () => {
    const root = join(dir, 'match');
    write('match/src/store.ts', 'export const s = 1;\n');
    write(
      'match/dist/store.js.map',
      JSON.stringify({ version: 3, sources: ['../src/store.ts'], names: [], mappings: 'AAAA' }),
    );
    const script = write('match/dist/store.js', 'exports.s = 1;\n//# sourceMappingURL=store.js.map\n');
    const plain = write('match/dist/plain.js', 'exports.p = 1;\n');
    const dep = write('match/node_modules/dep/index.js', 'exports.d = 1;\n//# sourceMappingURL=index.js.map\n');
    write(
      'match/node_modules/dep/index.js.map',
      JSON.stringify({ version: 3, sources: ['../../src/store.ts'], names: [], mappings: 'AAAA' }),
    );

    const m = createModuleMatcher({ root, patterns: ['src/store.ts'] });
    expect(m.traced(pathToFileURL(script).href)).toBe('dist/store.js');
    expect(m.traced(script)).toBe('dist/store.js');
    expect(m.traced(plain)).toBeUndefined();
    // Dependencies are never opened to look for maps.
    expect(m.traced(dep)).toBeUndefined();
    expect(createModuleMatcher({ root, patterns: ['src/**/*.ts'] }).traced(script)).toBe('dist/store.js');
    expect(createModuleMatcher({ root, patterns: ['src/other.ts'] }).traced(script)).toBeUndefined();
    expect(createModuleMatcher({ root, patterns: ['dist/store.js'] }).traced(script)).toBe('dist/store.js');
  });

  it('looks for the map in the source the inspector gave before the file on disk', () => {
    const root = join(dir, 'inspector');
    const url = pathToFileURL(join(root, 'dist/gone.js')).href; // not on disk
    const loaded = `x();\n${inline({ version: 3, sources: ['../src/gone.ts'], names: [], mappings: 'AAAA' })}\n`;
    const m = createModuleMatcher({ root, patterns: ['src/gone.ts'], source: (u) => (u === url ? loaded : undefined) });
    expect(m.traced(url)).toBe('dist/gone.js');
    expect(createModuleMatcher({ root, patterns: ['src/gone.ts'] }).traced(url)).toBeUndefined();

    // A source that arrives later (prefetched after the first question) is used then.
    const later = new Map<string, string>();
    const waiting = createModuleMatcher({ root, patterns: ['src/gone.ts'], source: (u) => later.get(u) });
    expect(waiting.traced(url)).toBeUndefined();
    later.set(url, loaded);
    expect(waiting.traced(url)).toBe('dist/gone.js');
    // A script without a map is settled once its source is known.
    const plainUrl = pathToFileURL(join(root, 'dist/plain.js')).href;
    later.set(plainUrl, 'x();\n');
    expect(waiting.traced(plainUrl)).toBeUndefined();
    later.set(plainUrl, loaded);
    expect(waiting.traced(plainUrl)).toBeUndefined();
  });
});

describe("declarations of tsc's CommonJS output", () => {
  it('takes the assignment that defines an export, not the `void 0` preamble', () => {
    const source = [
      '"use strict";',
      'Object.defineProperty(exports, "__esModule", { value: true });',
      'exports.sessions = exports.Store = void 0;',
      'class Store {}',
      'exports.Store = Store;',
      'exports.sessions = new Map();',
      '',
    ].join('\n');
    const declarations = moduleDeclarations(source, 'commonjs')!;
    expect(declarations.commonjsExportLine('sessions')).toBe(6);
    expect(declarations.commonjsExportLine('Store')).toBe(5);
  });
});

describe("an eval'd webpack module's inline map", () => {
  it('resolves its absolute-path sources to files, not to webpack-internal: URLs', () => {
    const map = { version: 3, sources: ['/app/app/api/items/route.js'], names: [], mappings: 'AAAA;AACA' };
    const source = `const visits = [];\nvisits.push(1);\n//# sourceURL=webpack-internal:///(rsc)/./app/api/items/route.js\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}`;
    const loaded = scriptSourceMap('webpack-internal:///(rsc)/./app/api/items/route.js', source);
    expect(loaded?.sources).toEqual(['file:///app/app/api/items/route.js']);
    expect(loaded?.originalPosition(2, 0)).toEqual({ url: 'file:///app/app/api/items/route.js', line: 2, column: 0 });
  });
});
