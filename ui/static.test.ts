import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BASE_PATH, createApp } from './app.js';
import { CLIENT_MODULES } from './static.js';
import { MemoryDeps } from '../test/memory-deps.js';

const app = createApp(new MemoryDeps());

describe('static files', () => {
  it('serves uPlot from the installed package with the right content types', async () => {
    const js = await app.request(`${BASE_PATH}/static/uplot.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    const expected = readFileSync(new URL('../node_modules/uplot/dist/uPlot.iife.min.js', import.meta.url), 'utf8');
    expect(await js.text()).toBe(expected);

    const css = await app.request(`${BASE_PATH}/static/uplot.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.uplot');
  });

  it('serves ui/client/style.css', async () => {
    const res = await app.request(`${BASE_PATH}/static/style.css`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await res.text()).toBe(readFileSync(new URL('./client/style.css', import.meta.url), 'utf8'));
  });

  // The compiled client (npm run build): entry modules and the ui/ modules they import.
  it.each([
    'm/ui/client/overview.js',
    'm/ui/client/code.js',
    'm/ui/format.js',
    'm/ui/sparkline.js',
    'm/ui/chart-series.js',
  ])('serves the compiled client module %s from dist/browser/', async (name) => {
    const res = await app.request(`${BASE_PATH}/static/${name}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await res.text()).toBe(readFileSync(new URL(`../dist/browser/${name.slice(2)}`, import.meta.url), 'utf8'));
  });

  it('the overview module imports the same formatBytes and sparkline the server pages use, not a copy', async () => {
    const overview = await (await app.request(`${BASE_PATH}/static/${CLIENT_MODULES.overview}`)).text();
    expect(overview).toMatch(/from '\.\.\/format\.js'/);
    expect(overview).toMatch(/from '\.\.\/sparkline\.js'/);
    expect(overview).not.toMatch(/function formatBytes|function escapeHtml|UNITS/);
  });

  it.each([
    'nothing.js',
    'overview.js',
    'm/../package.json',
    'm/ui/format.ts',
    'm/%2E%2E/package.json',
    '..%2Fpackage.json',
    '..%2F..%2Fpackage.json',
    '%2Fetc%2Fpasswd',
    'uplot.js%00',
  ])('answers 404 for %s', async (name) => {
    const res = await app.request(`${BASE_PATH}/static/${name}`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('"name"');
  });
});
