import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';

/**
 * Serves the browser's files under `{base}/static/NAME`: uPlot from the installed
 * package (never a CDN, so the UI works offline), our CSS from ui/client/, and the
 * compiled browser client (ui/client/*.ts and the ui/ modules it shares with the server,
 * built by ui/client/tsconfig.json into dist/browser/) under `{base}/static/m/…`, with the
 * repository's folders, so the modules' relative imports resolve among themselves.
 * Only the names in the table are served; the URL never becomes a path.
 */

/** The compiled client's entry modules, as names under `{base}/static/`. */
export const CLIENT_MODULES = {
  overview: 'm/ui/client/overview.js',
  code: 'm/ui/client/code.js',
  heapPoints: 'm/ui/client/heap-points.js',
} as const;

interface Asset {
  /** Absolute path, resolved once when the routes are built. */
  path: string;
  type: string;
  /** uPlot changes only with the installed package; our client files change while developing. */
  cacheControl: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The directory of the installed uplot package. Resolving its package.json works both
 * from source (vitest) and from dist/, and wherever npm hoisted the package.
 */
export function uplotDir(): string {
  return dirname(createRequire(import.meta.url).resolve('uplot/package.json'));
}

/**
 * ui/client/ of this project. It is not compiled, so from dist/ui/static.js it is not a
 * sibling: walk up from this file to the first directory holding a package.json.
 */
export function clientDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'ui', 'client');
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`apptrace: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** dist/browser/ of this project: the compiled client (`npm run build`). */
export function browserDir(): string {
  return join(dirname(clientDir()), '..', 'dist', 'browser');
}

/** Every .js (and its .js.map) under dist/browser/, by its name under `m/`. */
function compiledClient(own: string): [string, Asset][] {
  const root = browserDir();
  if (!existsSync(root)) return [];
  const found: [string, Asset][] = [];
  const walk = (dir: string, prefix: string) => {
    for (const item of readdirSync(dir, { withFileTypes: true })) {
      if (item.isDirectory()) walk(join(dir, item.name), `${prefix}${item.name}/`);
      else if (item.name.endsWith('.js'))
        found.push([`m/${prefix}${item.name}`, { path: join(dir, item.name), type: JS, cacheControl: own }]);
      else if (item.name.endsWith('.js.map'))
        found.push([`m/${prefix}${item.name}`, { path: join(dir, item.name), type: JSON_TYPE, cacheControl: own }]);
    }
  };
  walk(root, '');
  return found;
}

function assets(): Map<string, Asset> {
  const uplot = join(uplotDir(), 'dist');
  const client = clientDir();
  const pkg = 'public, max-age=3600';
  const own = 'no-cache';
  return new Map<string, Asset>([
    ['uplot.js', { path: join(uplot, 'uPlot.iife.min.js'), type: JS, cacheControl: pkg }],
    ['uplot.css', { path: join(uplot, 'uPlot.min.css'), type: CSS, cacheControl: pkg }],
    ['style.css', { path: join(client, 'style.css'), type: CSS, cacheControl: own }],
    ...compiledClient(own),
  ]);
}

/** GET /static/NAME for the files above; anything else is a 404. */
export function staticRoutes(): Hono {
  let table = assets();
  const cache = new Map<string, Buffer>();
  const routes = new Hono();
  routes.get('/static/*', async (c) => {
    const path = c.req.path;
    const name = path.slice(path.indexOf('/static/') + '/static/'.length);
    // A client built after the server started (npm run build while it runs): look again once.
    if (!table.has(name) && name.startsWith('m/')) table = assets();
    const asset = table.get(name);
    if (!asset) {
      const unbuilt = name.startsWith('m/') && !existsSync(browserDir());
      return c.text(unbuilt ? `Not found: the browser client is not built; run npm run build` : 'Not found', 404);
    }
    let body = cache.get(asset.path);
    if (!body) {
      body = await readFile(asset.path);
      // Our own files are re-read while developing; the package's never change.
      if (asset.cacheControl !== 'no-cache') cache.set(asset.path, body);
    }
    return c.body(new Uint8Array(body), 200, {
      'Content-Type': asset.type,
      'Cache-Control': asset.cacheControl,
      'X-Content-Type-Options': 'nosniff',
    });
  });
  return routes;
}
