/**
 * The default "is this a request?" on the shapes browsers and dev servers really send:
 * Chromium's `Sec-Fetch-Dest` and `Accept` per kind of load, Next.js' and Vite's paths.
 */
import { describe, expect, it } from 'vitest';
import { type RequestShape, createRequestFilter } from './request-filter.js';

/** Headers as Chromium sends them for each kind of load (Accept values from Chromium 130). */
const DOCUMENT = {
  accept:
    'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
  'sec-fetch-dest': 'document',
};
const FETCH = { accept: '*/*', 'sec-fetch-dest': 'empty' };
const SCRIPT = { accept: '*/*', 'sec-fetch-dest': 'script' };
const STYLE = { accept: 'text/css,*/*;q=0.1', 'sec-fetch-dest': 'style' };
const IMAGE = { accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'sec-fetch-dest': 'image' };
const FONT = { accept: '*/*', 'sec-fetch-dest': 'font' };
const EVENT_STREAM = { accept: 'text/event-stream', 'sec-fetch-dest': 'empty' };

function shape(method: string, url: string, headers: RequestShape['headers'] = {}): RequestShape {
  return { method, url, headers };
}

const traced = createRequestFilter([]);

describe('the default request filter', () => {
  it.each([
    ['a page', shape('GET', '/', DOCUMENT)],
    ['a page with a query', shape('GET', '/items?page=2', DOCUMENT)],
    ['an API call by fetch', shape('GET', '/api/items', FETCH)],
    ['a form post', shape('POST', '/guestbook', { ...DOCUMENT, accept: DOCUMENT.accept })],
    ['a JSON API answer named .json', shape('GET', '/api/items.json', FETCH)],
    ['a Next.js route handler', shape('GET', '/api/items', { accept: '*/*', 'sec-fetch-dest': 'empty' })],
    ['a Next.js RSC navigation', shape('GET', '/about?_rsc=1x2y3', { accept: '*/*', 'sec-fetch-dest': 'empty' })],
    ['a DELETE from a script', shape('DELETE', '/api/items/3', FETCH)],
    ['curl (no fetch metadata)', shape('GET', '/api/items', { accept: '*/*' })],
    ['a test client with no headers', shape('GET', '/leak', {})],
  ])('traces %s', (_what, request) => {
    expect(traced(request)).toBe(true);
  });

  it.each([
    ['Next.js chunks', shape('GET', '/_next/static/chunks/webpack.js?v=1733300000000', SCRIPT)],
    ['Next.js CSS', shape('GET', '/_next/static/css/app/layout.css?v=1733300000000', STYLE)],
    ['Next.js HMR socket poll', shape('GET', '/_next/webpack-hmr', { accept: '*/*' })],
    ['Next.js images', shape('GET', '/_next/image?url=%2Flogo.png&w=256&q=75', IMAGE)],
    ['Next.js overlay helpers', shape('GET', '/__nextjs_original-stack-frames', FETCH)],
    ['Next.js source-map lookups', shape('POST', '/__nextjs_source-map?filename=app%2Fpage.tsx', FETCH)],
    [
      'a Next.js font (by path, even without metadata)',
      shape('GET', '/_next/static/media/a34f9d1faa5f3315-s.p.woff2', {}),
    ],
    ['Vite client', shape('GET', '/@vite/client', SCRIPT)],
    [
      'Vite module by file system path',
      shape('GET', '/@fs/home/me/app/node_modules/.vite/deps/react.js?v=1a2b', SCRIPT),
    ],
    ['Vite bare import', shape('GET', '/@id/__x00__react/jsx-dev-runtime', SCRIPT)],
    ['Vite React refresh', shape('GET', '/@react-refresh', SCRIPT)],
    ['Vite source module', shape('GET', '/src/main.tsx', SCRIPT)],
    ['Vite source module without fetch metadata', shape('GET', '/src/App.tsx?t=1733300000000', { accept: '*/*' })],
    ['a node_modules file', shape('GET', '/node_modules/.vite/deps/chunk-ABC.js?v=1', SCRIPT)],
    ['webpack-hot-middleware', shape('GET', '/__webpack_hmr', EVENT_STREAM)],
    ['an event stream anywhere', shape('GET', '/live-updates', EVENT_STREAM)],
    ['favicon.ico', shape('GET', '/favicon.ico', IMAGE)],
    ['favicon.ico from a client without metadata', shape('GET', '/favicon.ico', {})],
    ['a source map', shape('GET', '/assets/index-4f2a.js.map', {})],
    ['a stylesheet', shape('GET', '/styles/site.css', STYLE)],
    ['an image by path', shape('GET', '/images/logo.svg', {})],
    ['an image by destination alone', shape('GET', '/avatar/42', IMAGE)],
    ['a font by destination', shape('GET', '/fonts/inter', FONT)],
    ['an image by Accept alone', shape('GET', '/thumbnail/42', { accept: 'image/avif,image/webp,*/*' })],
    ['a web app manifest', shape('GET', '/site.webmanifest', { accept: '*/*', 'sec-fetch-dest': 'manifest' })],
    ['a service worker script', shape('GET', '/sw', { accept: '*/*', 'sec-fetch-dest': 'serviceworker' })],
    ["Chrome DevTools' probe", shape('GET', '/.well-known/appspecific/com.chrome.devtools.json', FETCH)],
    ['a CORS preflight', shape('OPTIONS', '/api/items', {})],
    ['a HEAD probe', shape('HEAD', '/', {})],
    ['apptrace itself', shape('GET', '/_ah/apptrace/api/status', FETCH)],
  ])('leaves out %s', (_what, request) => {
    expect(traced(request)).toBe(false);
  });
});

describe('--url-pattern', () => {
  it('decides alone: static paths it names are traced, others are not, whatever the headers', () => {
    const api = createRequestFilter(['^/api/']);
    expect(api(shape('GET', '/api/items', FETCH))).toBe(true);
    expect(api(shape('GET', '/', DOCUMENT))).toBe(false);
    const chunks = createRequestFilter(['^/_next/static/']);
    expect(chunks(shape('GET', '/_next/static/chunks/main.js', SCRIPT))).toBe(true);
    expect(chunks(shape('GET', '/_ah/apptrace/_next/static/x.js', SCRIPT))).toBe(false);
  });
});
