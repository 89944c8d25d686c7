import { Hono } from 'hono';
import type { AppDeps } from './deps.js';

/**
 * The JSON API and the event stream of DESIGN.md, mounted under /_ah/apptrace:
 * GET /api/records?since=N, GET /api/suspects, GET /api/status, GET /events (SSE),
 * POST /api/snapshot, and POST /api/signal (the proxy's internal report).
 */
export function apiRoutes(deps: AppDeps): Hono {
  const api = new Hono();
  api.get('/api/records', (c) => c.json(deps.records(Number(c.req.query('since') ?? 0) || 0)));
  api.get('/api/status', (c) => c.json(deps.status()));
  return api;
}
