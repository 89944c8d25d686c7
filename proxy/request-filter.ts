import type { IncomingHttpHeaders } from 'node:http';
import { APPTRACE_PREFIX, createUrlMatcher } from './url-match.js';

/** What the filter looks at: the request line and two headers browsers send. */
export interface RequestShape {
  method?: string | undefined;
  url?: string | undefined;
  headers: Pick<IncomingHttpHeaders, 'accept' | 'sec-fetch-dest'>;
}

/**
 * Dev-server internals, HMR and bundler paths: never what a developer means by "a request".
 * `/_next/` covers Next.js chunks, `/_next/webpack-hmr` and `/_next/data`'s build files;
 * `/__nextjs…` its overlay's helpers; `/@vite/`, `/@fs/`, `/@id/`, `/@react-refresh` Vite's.
 */
const INTERNAL_PREFIXES = [
  '/_next/',
  '/__nextjs',
  '/__webpack_hmr',
  '/__webpack_dev_server__',
  '/sockjs-node',
  '/@vite/',
  '/@fs/',
  '/@id/',
  '/@react-refresh',
  '/__vite_ping',
  '/node_modules/',
  '/_nuxt/',
  '/.well-known/',
];

/**
 * Static files by extension (the path without its query): scripts, styles, source maps,
 * images, fonts, media. `.json` is not among them: it is as often an API answer as a file.
 */
const STATIC_EXTENSION =
  /\.(?:m?js|cjs|jsx|tsx?|mts|cts|css|scss|sass|less|map|png|jpe?g|gif|svg|ico|webp|avif|bmp|woff2?|ttf|otf|eot|mp4|webm|ogg|mp3|wav|flac|wasm|pdf|txt|webmanifest)$/i;

/**
 * `Sec-Fetch-Dest` values a browser sends for subresources (Fetch Metadata, W3C): a page's
 * scripts, styles, images, fonts, media, manifests and workers. `document`, `iframe` and
 * `empty` (fetch/XHR: API calls) are traced.
 */
const SUBRESOURCE_DESTS = new Set([
  'script',
  'style',
  'image',
  'font',
  'audio',
  'video',
  'track',
  'manifest',
  'worker',
  'sharedworker',
  'serviceworker',
  'audioworklet',
  'paintworklet',
  'object',
  'embed',
  'xslt',
  'report',
]);

/**
 * Decides, per request, whether the profiler hears of it once its response has finished.
 *
 * With no `--url-pattern`: documents and API calls are traced; left out are `/_ah/apptrace*`,
 * `HEAD`/`OPTIONS` (no work worth a snapshot: preflights, probes), subresources by
 * `Sec-Fetch-Dest`, event streams by `Accept: text/event-stream` (HMR channels), requests
 * that accept only images or CSS, dev-server internals by path prefix, and static files by
 * extension. With patterns, they alone decide (DESIGN.md), `/_ah/apptrace*` still excluded.
 * Runs on every request: string tests only, no allocation on the common path.
 *
 * @example
 *   const traced = createRequestFilter([]);
 *   traced({ method: 'GET', url: '/api/items', headers: { 'sec-fetch-dest': 'empty' } }); // true
 *   traced({ method: 'GET', url: '/_next/static/chunks/main.js', headers: {} }); // false
 */
export function createRequestFilter(patterns: readonly string[]): (req: RequestShape) => boolean {
  if (patterns.length > 0) {
    const matches = createUrlMatcher(patterns);
    return function matchUrlPatterns(req) {
      return matches(req.url ?? '/');
    };
  }
  return function isAppRequest(req) {
    const method = req.method ?? 'GET';
    if (method === 'HEAD' || method === 'OPTIONS') return false;
    const dest = req.headers['sec-fetch-dest'];
    if (dest !== undefined && SUBRESOURCE_DESTS.has(dest)) return false;
    const accept = req.headers.accept;
    if (
      accept !== undefined &&
      (accept.startsWith('text/event-stream') || accept.startsWith('image/') || accept.startsWith('text/css'))
    ) {
      return false;
    }
    const url = req.url ?? '/';
    if (url.startsWith(APPTRACE_PREFIX)) return false;
    for (const prefix of INTERNAL_PREFIXES) if (url.startsWith(prefix)) return false;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path.endsWith('/favicon.ico')) return false;
    return !STATIC_EXTENSION.test(path);
  };
}

/** How the banner and the UI say what is traced by default. */
export const DEFAULT_TRACED =
  'documents and API calls (not static assets, source maps, HMR nor dev-server internals such as /_next/ and /@vite/)';
