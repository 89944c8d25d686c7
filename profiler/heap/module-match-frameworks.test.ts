import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createModuleMatcher } from './module-match.js';

describe("the default traced modules leave frameworks' build output out", () => {
  const modules = createModuleMatcher({ root: '/app' });

  it("does not trace Next.js's runtime and chunks under .next/", () => {
    expect(modules.traced('file:///app/.next/server/chunks/[turbopack]_runtime.js')).toBeUndefined();
    expect(modules.traced('/app/.next/server/webpack-runtime.js')).toBeUndefined();
    expect(modules.traced('file:///app/.next/server/app/api/visits/route.js')).toBeUndefined();
  });

  it("still traces the app's own files, and .next/ when a pattern names it", () => {
    expect(modules.traced('file:///app/app/api/visits/route.js')).toBe('app/api/visits/route.js');
    expect(modules.traced('/app/lib/next-helpers.js')).toBe('lib/next-helpers.js');
    const asked = createModuleMatcher({ root: '/app', patterns: ['.next/**'] });
    expect(asked.traced('file:///app/.next/server/chunks/[turbopack]_runtime.js')).toBe(
      '.next/server/chunks/[turbopack]_runtime.js',
    );
  });
});

describe('a Turbopack chunk under .next/ is traced when its source map leads to the app', () => {
  const root = mkdtempSync(join(tmpdir(), 'apptrace-next-chunks-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const chunks = join(root, '.next/dev/server/chunks');
  mkdirSync(chunks, { recursive: true });
  mkdirSync(join(root, 'app/api/items'), { recursive: true });
  writeFileSync(join(root, 'app/api/items/route.js'), 'const visits = [];\n');
  /** A chunk as Turbopack writes one: module factories in an array, an index map beside it. */
  const chunk = (name: string, sources: string[]) => {
    writeFileSync(
      join(chunks, name),
      `module.exports=["[project]/x",((__turbopack_context__) => {\n})];\n\n//# sourceMappingURL=${encodeURIComponent(name)}.map\n`,
    );
    const sections = sources.map((source, i) => ({
      offset: { line: i + 1, column: 0 },
      map: { version: 3, sources: [source], names: [], mappings: 'AAAA' },
    }));
    writeFileSync(join(chunks, `${name}.map`), JSON.stringify({ version: 3, sources: [], sections }));
    return pathToFileURL(join(chunks, name)).href;
  };
  const modules = createModuleMatcher({ root });

  it("traces the chunk of the app's route (a section maps to app/api/items/route.js)", () => {
    const url = chunk('[root-of-the-server]__abc._.js', [
      pathToFileURL(join(root, 'app/api/items/route.js')).href,
      'turbopack:///[externals]/crypto',
    ]);
    expect(modules.traced(url)).toBe('.next/dev/server/chunks/[root-of-the-server]__abc._.js');
  });

  it('leaves out the runtime chunk and chunks of node_modules: their maps lead elsewhere', () => {
    expect(modules.traced(chunk('[turbopack]_runtime.js', ['turbopack:///[turbopack]/runtime.ts']))).toBeUndefined();
    const dependency = pathToFileURL(join(root, 'node_modules/next/dist/client/index.js')).href;
    expect(modules.traced(chunk('node_modules_next_dist_0x._.js', [dependency]))).toBeUndefined();
  });
});

describe("webpack's eval'd modules (next dev --webpack) are named by the path in their URL", () => {
  const modules = createModuleMatcher({ root: '/app' });

  it('traces the app’s own modules, not those of node_modules', () => {
    expect(modules.traced('webpack-internal:///(rsc)/./app/api/items/route.js')).toBe('app/api/items/route.js');
    expect(modules.traced('webpack-internal:///(ssr)/./lib/db.js?x=1')).toBe('lib/db.js');
    expect(modules.traced('webpack-internal:///(rsc)/./node_modules/next/dist/server/route-kind.js')).toBeUndefined();
    expect(modules.filename('webpack-internal:///(rsc)/./app/page.js')).toBe('app/page.js');
  });
});
