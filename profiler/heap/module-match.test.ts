import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../contract/errors.js';
import { createModuleMatcher, scriptPath } from './module-match.js';

const root = '/srv/app';
const url = (path: string) => pathToFileURL(join(root, path)).href;

describe('createModuleMatcher', () => {
  it('traces the app’s own scripts by default, named relative to the root', () => {
    const m = createModuleMatcher({ root });
    expect(m.traced(join(root, 'server.cjs'))).toBe('server.cjs');
    expect(m.traced(url('src/store.mjs'))).toBe('src/store.mjs');
    expect(m.traced(join(root, 'node_modules/express/index.js'))).toBeUndefined();
    expect(m.traced(url('packages/a/node_modules/x/y.mjs'))).toBeUndefined();
    expect(m.traced('node:internal/modules/cjs/loader')).toBeUndefined();
    expect(m.traced('node:events')).toBeUndefined();
    expect(m.traced('/elsewhere/lib.js')).toBeUndefined();
    expect(m.traced('evalmachine.<anonymous>')).toBeUndefined();
    expect(m.traced('')).toBeUndefined();
  });

  it('names a script the same whether V8 gave a path or a file URL', () => {
    const m = createModuleMatcher({ root });
    expect(m.traced(join(root, 'a b/c.cjs'))).toBe('a b/c.cjs');
    expect(m.traced('file:///srv/app/a%20b/c.cjs')).toBe('a b/c.cjs');
    expect(scriptPath('file:///srv/app/a%20b/c.cjs')).toBe('/srv/app/a b/c.cjs');
    expect(scriptPath('node:fs')).toBeUndefined();
  });

  it('matches globs against the relative name', () => {
    const m = createModuleMatcher({ root, patterns: ['src/**/*.mjs', 'lib/*.cjs'] });
    expect(m.traced(url('src/store.mjs'))).toBe('src/store.mjs');
    expect(m.traced(url('src/deep/er/store.mjs'))).toBe('src/deep/er/store.mjs');
    expect(m.traced(url('src/store.cjs'))).toBeUndefined();
    expect(m.traced(url('lib/a.cjs'))).toBe('lib/a.cjs');
    expect(m.traced(url('lib/sub/a.cjs'))).toBeUndefined();
    expect(m.traced(url('server.mjs'))).toBeUndefined();
    const braces = createModuleMatcher({ root, patterns: ['{a,b}.js', '?.cjs'] });
    expect(braces.traced(url('a.js'))).toBe('a.js');
    expect(braces.traced(url('c.js'))).toBeUndefined();
    expect(braces.traced(url('x.cjs'))).toBe('x.cjs');
    expect(braces.traced(url('xy.cjs'))).toBeUndefined();
  });

  it('takes a plain name for a file or a whole directory', () => {
    const m = createModuleMatcher({ root, patterns: ['src', './lib/store.ts'] });
    expect(m.traced(url('src/a.mjs'))).toBe('src/a.mjs');
    expect(m.traced(url('src/x/b.cjs'))).toBe('src/x/b.cjs');
    expect(m.traced(url('srcx/a.mjs'))).toBeUndefined();
    expect(m.traced(join(root, 'lib/store.ts'))).toBe('lib/store.ts');
    expect(m.traced(join(root, 'lib/other.ts'))).toBeUndefined();
  });

  it('traces node_modules, absolute paths and node: internals only when a pattern asks', () => {
    const m = createModuleMatcher({
      root,
      patterns: ['node_modules/lru/**', '/opt/shared/**', 'file:///opt/one.mjs', 'node:events'],
    });
    expect(m.traced(join(root, 'node_modules/lru/index.js'))).toBe('node_modules/lru/index.js');
    expect(m.traced('/opt/shared/x.cjs')).toBe('../../opt/shared/x.cjs');
    expect(m.traced('file:///opt/one.mjs')).toBe('../../opt/one.mjs');
    expect(m.traced('node:events')).toBe('node:events');
    expect(m.traced(join(root, 'server.mjs'))).toBeUndefined();
  });

  it('rejects an empty pattern with a BAD_FLAG error', () => {
    expect.assertions(2);
    try {
      createModuleMatcher({ root, patterns: [' '] });
    } catch (error) {
      expect(isAppError(error, 'BAD_FLAG')).toBe(true);
      expect((error as Error).message).toMatch(/--trace-module/);
    }
  });

  it('gives a readable filename for scripts that are not traced', () => {
    const m = createModuleMatcher({ root });
    expect(m.filename(url('node_modules/x/y.js'))).toBe('node_modules/x/y.js');
    expect(m.filename('node:events')).toBe('node:events');
  });
});
