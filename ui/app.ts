import { Hono } from 'hono';
import { apiRoutes } from './api.js';
import type { AppDeps } from './deps.js';
import { pageRoutes } from './pages.js';

/** Everything the profiler serves, under the prefix the proxy routes to it. */
export const BASE_PATH = '/_ah/apptrace';

/**
 * The Hono app of the profiler: UI pages and JSON API.
 *
 * @example
 *   serve({ fetch: createApp(deps).fetch, port: 9300, hostname: '127.0.0.1' });
 */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono().basePath(BASE_PATH);
  app.route('/', apiRoutes(deps));
  app.route('/', pageRoutes(deps));
  return app;
}
