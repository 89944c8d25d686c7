import { Hono } from 'hono';
import { BASE_PATH } from '../contract/base-path.js';
import { codeRoutes } from './code-page.js';
import type { AppDeps } from '../contract/app-deps.js';
import { CONTENT_SECURITY_POLICY } from './html.js';
import { overviewPage } from './overview-page.js';
import { staticRoutes } from './static.js';

/**
 * The pages: overview at {base}, the code browser at {base}/code, and the browser's
 * files at {base}/static/*. Every page is sent with a Content-Security-Policy that allows
 * only our own scripts, so text that escaped escaping still could not run.
 */
export function pageRoutes(deps: AppDeps, base: string = BASE_PATH): Hono {
  const pages = new Hono();
  // Only on our own paths: a '*' middleware here would also wrap the API routes.
  for (const path of ['/', '/code', '/static/*']) {
    pages.use(path, async (c, next) => {
      await next();
      c.res.headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      c.res.headers.set('X-Content-Type-Options', 'nosniff');
      c.res.headers.set('Referrer-Policy', 'no-referrer');
    });
  }
  pages.get('/', (c) => {
    const latest = deps.records(Math.max(0, deps.status().lastIndex - 1)).at(-1);
    c.header('Cache-Control', 'no-store');
    return c.html(overviewPage(base, deps.status(), latest));
  });
  pages.route('/', codeRoutes(deps, base));
  pages.route('/', staticRoutes());
  return pages;
}
