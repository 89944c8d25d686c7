import { describe, expect, it } from 'vitest';
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
