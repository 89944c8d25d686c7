import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BASE_PATH, createApp } from './app.js';
import { MemoryDeps } from './memory-deps.js';

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

  it.each([
    ['overview.js', 'text/javascript; charset=utf-8'],
    ['code.js', 'text/javascript; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
  ])('serves ui/client/%s', async (name, type) => {
    const res = await app.request(`${BASE_PATH}/static/${name}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(await res.text()).toBe(readFileSync(new URL(`./client/${name}`, import.meta.url), 'utf8'));
  });

  it.each(['nothing.js', '..%2Fpackage.json', '..%2F..%2Fpackage.json', '%2Fetc%2Fpasswd', 'uplot.js%00'])(
    'answers 404 for %s',
    async (name) => {
      const res = await app.request(`${BASE_PATH}/static/${name}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('"name"');
    },
  );
});
