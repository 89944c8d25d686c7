import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';

/**
 * Serves the browser's files under `{base}/static/NAME`: uPlot from the installed
 * package (never a CDN, so the UI works offline) and our own ui/client/ scripts and CSS.
 * Only the names in ASSETS are served; the URL never becomes a path.
 */

interface Asset {
  /** Absolute path, resolved once when the routes are built. */
  path: string;
  type: string;
  /** uPlot changes only with the installed package; our client files change while developing. */
  cacheControl: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

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

function assets(): Map<string, Asset> {
  const uplot = join(uplotDir(), 'dist');
  const client = clientDir();
  const pkg = 'public, max-age=3600';
  const own = 'no-cache';
  return new Map<string, Asset>([
    ['uplot.js', { path: join(uplot, 'uPlot.iife.min.js'), type: JS, cacheControl: pkg }],
    ['uplot.css', { path: join(uplot, 'uPlot.min.css'), type: CSS, cacheControl: pkg }],
    ['overview.js', { path: join(client, 'overview.js'), type: JS, cacheControl: own }],
    ['code.js', { path: join(client, 'code.js'), type: JS, cacheControl: own }],
    ['heap-points.js', { path: join(client, 'heap-points.js'), type: JS, cacheControl: own }],
    ['style.css', { path: join(client, 'style.css'), type: CSS, cacheControl: own }],
  ]);
}

/** GET /static/:name for the files above; anything else is a 404. */
export function staticRoutes(): Hono {
  const table = assets();
  const cache = new Map<string, Buffer>();
  const routes = new Hono();
  routes.get('/static/:name', async (c) => {
    const asset = table.get(c.req.param('name'));
    if (!asset) return c.text('Not found', 404);
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
