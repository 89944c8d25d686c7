import { describe, expect, it } from 'vitest';
import type { HeapRecord } from '../contract/record.js';
import { BASE_PATH, createApp } from './app.js';
import { isModuleName } from './code-page.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { LEAK_STEP, SAMPLE_SOURCE, sampleRecords } from '../test/sample-records.js';

const SERVER = { url: 'file:///app/server.js', source: SAMPLE_SOURCE };

function depsWith(records: HeapRecord[], sources: Record<string, { url: string; source: string }>): MemoryDeps {
  const deps = new MemoryDeps({}, new Map(Object.entries(sources)));
  for (const r of records) deps.add(r);
  return deps;
}

async function code(deps: MemoryDeps, query: string): Promise<{ res: Response; body: string }> {
  const res = await createApp(deps).request(`${BASE_PATH}/code?${query}`);
  return { res, body: await res.text() };
}

const q = (module: string, name?: string): string =>
  new URLSearchParams(name === undefined ? { module } : { module, name }).toString();

describe('code browser', () => {
  it('shows every line with id L<n>, marks the definition line, and the entry above it', async () => {
    const deps = depsWith(sampleRecords({ count: 5 }), { 'server.js': SERVER });
    const { res, body } = await code(deps, q('server.js', 'leakyList'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const lineCount = SAMPLE_SOURCE.split('\n').length - 1; // the source ends with a newline
    const ids = [...body.matchAll(/<div class="line" id="L(\d+)"/g)].map((m) => Number(m[1]));
    expect(ids).toEqual(Array.from({ length: lineCount }, (_, i) => i + 1));
    // leakyList is defined on line 3 of SAMPLE_SOURCE; it grows, so the line that pushes
    // into it is marked too, and the page says which mark is which.
    const lines = SAMPLE_SOURCE.split('\n');
    const pushLine = lines.findIndex((l) => l.includes('leakyList.push(')) + 1;
    const marked = [...body.matchAll(/<div class="line" id="L(\d+)" data-marked[^>]*>/g)].map((m) => Number(m[1]));
    expect(marked).toEqual([3, pushLine]);
    expect(lines[2]).toContain('const leakyList');
    expect(body).toMatch(
      /id="L3" data-marked data-mark-kind="definition">.*<span class="mark-note">← definition<\/span>/,
    );
    expect(body).toContain(`id="L${pushLine}" data-marked data-mark-kind="reference">`);
    expect(body).toMatch(
      new RegExp(
        `id="L${pushLine}" data-marked data-mark-kind="reference">.*<span class="mark-note">← adds to leakyList \\(push\\) — found in the source</span>`,
      ),
    );
    expect(body).toMatch(
      new RegExp(
        `<li><a href="#L${pushLine}">line ${pushLine}</a>: <span class="mark-kind reference">found in the source</span> adds to leakyList \\(push\\)`,
      ),
    );
    expect(body).toContain('<dd id="entry-type">Array</dd>');
    // The sample leak grows by LEAK_STEP (4 KB) per request.
    expect(LEAK_STEP).toBe(4096);
    expect(body).toMatch(/<dd id="entry-growth" title="[^"]*">\+4\.00 KB\/req<\/dd>/);
    expect(body).toContain('<span id="entry-verdict" class="badge growing">growing</span>');
    expect(body).toContain('<svg class="spark"');
    expect(body).toContain(`<script type="module" src="${BASE_PATH}/static/m/ui/client/code.js"></script>`);
  });

  it('reads a bounded cache that filled up as plateaued, with its own line marked', async () => {
    // The sample cache stops growing after CACHE_LIMIT (20) records; 40 give a flat tail.
    const deps = depsWith(sampleRecords({ count: 40 }), { 'server.js': SERVER });
    const { body } = await code(deps, q('server.js', 'boundedCache'));
    expect(body).toContain('<span id="entry-verdict" class="badge plateaued">plateaued</span>');
    expect(body).toContain('<dd id="entry-type">Map</dd>');
    expect([...body.matchAll(/id="L(\d+)" data-marked/g)].map((m) => m[1])).toEqual(['4']);
  });

  it('shows a module without a name, marking nothing', async () => {
    const deps = depsWith(sampleRecords({ count: 2 }), { 'server.js': SERVER });
    const { res, body } = await code(deps, q('server.js'));
    expect(res.status).toBe(200);
    expect(body).not.toContain('data-marked');
    expect(body).toContain('id="L1"');
  });

  it('says so when no record holds the name', async () => {
    const deps = depsWith(sampleRecords({ count: 2 }), { 'server.js': SERVER });
    const { res, body } = await code(deps, q('server.js', 'nothingHere'));
    expect(res.status).toBe(200);
    expect(body).toContain('No record holds an object named <code>nothingHere</code>');
    expect(body).not.toContain('data-marked');
  });

  it('escapes hostile source, names and module names', async () => {
    const hostileName = '<img src=x onerror=alert(1)>';
    const source = `const x = "</script><script>alert(1)</script>";\n// <b>bold</b> & more\nlet y = \`<svg onload=alert(2)>\`;\n`;
    const records = sampleRecords({ count: 2, moduleName: 'evil<b>.js' });
    for (const r of records) r.entries.push({ ...r.entries[0]!, name: hostileName, lineno: 1 });
    const deps = depsWith(records, { 'evil<b>.js': { url: 'file:///app/evil<b>.js', source } });
    const { res, body } = await code(deps, q('evil<b>.js', hostileName));
    expect(res.status).toBe(200);
    expect(body.match(/<script\b[^>]*>/gi)).toEqual([
      `<script type="module" src="${BASE_PATH}/static/m/ui/client/code.js">`,
    ]);
    expect(body).not.toContain('<img');
    expect(body).not.toContain('<svg onload');
    expect(body).not.toContain('<b>');
    expect(body).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(body).toContain('evil&lt;b&gt;.js');
  });

  it.each([
    '../../etc/passwd',
    '/etc/passwd',
    'file:///etc/passwd',
    'node:fs',
    'C:\\Windows\\win.ini',
    'a/../../b.js',
    'x\u0000.js',
  ])('answers 404 for %j without asking the target, even when a record names it', async (moduleName) => {
    const records = sampleRecords({ count: 2, moduleName });
    const deps = depsWith(records, {
      [moduleName]: { url: 'file:///etc/passwd', source: 'root:x:0:0:root:/root:/bin/bash\n' },
    });
    let asked = 0;
    const original = deps.moduleSource.bind(deps);
    deps.moduleSource = (name) => {
      asked++;
      return original(name);
    };
    const { res, body } = await code(deps, q(moduleName, 'leakyList'));
    expect(res.status).toBe(404);
    expect(body).not.toContain('root:x:0:0');
    expect(body).toContain('not a module name');
    expect(asked).toBe(0);
  });

  it('answers 404 for a module no record mentions', async () => {
    const deps = depsWith(sampleRecords({ count: 2 }), { 'server.js': SERVER, 'other.js': SERVER });
    const { res, body } = await code(deps, q('other.js'));
    expect(res.status).toBe(404);
    expect(body).toContain('No record mentions the module');
  });

  it("answers 404 saying the module isn't loaded when the target has no such script", async () => {
    const deps = depsWith(sampleRecords({ count: 2 }), {});
    const { res, body } = await code(deps, q('server.js', 'leakyList'));
    expect(res.status).toBe(404);
    expect(body).toContain('Module not loaded by the target');
    expect(body).not.toContain('class="line"');
  });

  it('answers 503 when reading the source fails, and 400 without a module', async () => {
    const deps = depsWith(sampleRecords({ count: 2 }), {});
    deps.moduleSource = async () => {
      throw new Error('inspector <disconnected>');
    };
    const failed = await code(deps, q('server.js'));
    expect(failed.res.status).toBe(503);
    expect(failed.body).toContain('inspector &lt;disconnected&gt;');
    const missing = await code(deps, '');
    expect(missing.res.status).toBe(400);
  });

  it('accepts relative module paths only', () => {
    expect(isModuleName('server.js')).toBe(true);
    expect(isModuleName('src/routes/items.mjs')).toBe(true);
    expect(isModuleName('dist/a..b.js')).toBe(true);
    expect(isModuleName('')).toBe(false);
    expect(isModuleName('..')).toBe(false);
    expect(isModuleName('\\\\server\\share\\x.js')).toBe(false);
    expect(isModuleName('http://example.com/x.js')).toBe(false);
  });
});
