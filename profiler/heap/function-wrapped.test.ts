/**
 * Modules run inside a Function-constructor function (Vite's module runner uses
 * `new AsyncFunction(params…, code)`; V8 shows the script as `(async function anonymous(…)
 * {\n…\n})`): the function's body is the module's top level, and the source map comment
 * sits before the closing `})`.
 */
import { describe, expect, it } from 'vitest';
import { moduleDeclarations } from './declarations.js';
import { sourceMappingUrl } from './source-maps.js';

const wrapped = [
  '(async function anonymous(__vite_ssr_exports__,__vite_ssr_import__',
  ') {',
  '"use strict";__vite_ssr_exportName__("render", () => { try { return render } catch {} });',
  'const rendered = [];',
  '',
  'function render(url) {',
  '  rendered.push(url);',
  '}',
  '//# sourceURL=/app/src/entry-server.js',
  '//# sourceMappingURL=data:application/json;base64,e30=',
  '})',
].join('\n');

describe('a module wrapped by a Function constructor', () => {
  it("declares the function body's top level and its parameters", () => {
    const declarations = moduleDeclarations(wrapped, 'commonjs')!;
    expect(declarations.localLine('rendered')).toBe(4);
    expect(declarations.localLine('render')).toBe(6);
    expect(declarations.locals.has('__vite_ssr_import__')).toBe(true);
    // A body-local of render is not a module binding.
    expect(declarations.locals.has('url')).toBe(false);
  });

  it('finds the source map comment before the closing })', () => {
    expect(sourceMappingUrl(wrapped)).toBe('data:application/json;base64,e30=');
    // Only for such a wrapper: elsewhere, code after the comment means it is not the last.
    expect(sourceMappingUrl('const a = 1;\n//# sourceMappingURL=a.js.map\n})')).toBeUndefined();
  });

  it('an ordinary function named anonymous in a script is not taken for a wrapper', () => {
    const declarations = moduleDeclarations(
      'const keep = 1;\n(function anonymous() { const inner = 2; })();\n',
      'commonjs',
    )!;
    expect(declarations.localLine('keep')).toBe(1);
    expect(declarations.locals.has('inner')).toBe(false);
  });
});
