import { Hono } from 'hono';
import { apiRoutes } from './api.js';
import { BASE_PATH } from '../contract/base-path.js';
import type { AppDeps } from '../contract/app-deps.js';
import { errorAnswer } from './error-answer.js';
import { type GuardOptions, guard } from './guard.js';
import { pageRoutes } from './pages.js';

/** Everything the profiler serves, under the prefix the proxy routes to it. */
export { BASE_PATH };

/**
 * The Hono app of the profiler: UI pages and JSON API.
 *
 * @example
 *   serve({ fetch: createApp(deps, { profilerToken }).fetch, port: 9300, hostname: '127.0.0.1' });
 */
export function createApp(deps: AppDeps, security: Omit<GuardOptions, 'signalPath'> = {}): Hono {
  const app = new Hono();
  // Before every route: Host allowlist, no cross-site writes, the proxy's token, headers.
  app.use('*', guard({ ...security, signalPath: `${BASE_PATH}/api/signal` }));
  // Hono's routes are strict about a trailing slash; `/_ah/apptrace/` is the overview too.
  app.get(`${BASE_PATH}/`, (c) => c.redirect(BASE_PATH, 301));
  const routes = new Hono().basePath(BASE_PATH);
  routes.route('/', apiRoutes(deps));
  routes.route('/', pageRoutes(deps));
  app.route('/', routes);
  // Routes throw AppError to refuse a request; it becomes a JSON answer here.
  app.onError(errorAnswer);
  return app;
}
