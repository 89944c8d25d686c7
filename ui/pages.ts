import { Hono } from 'hono';
import type { AppDeps } from './deps.js';

/** The pages: overview at /_ah/apptrace, the code browser at /_ah/apptrace/code. */
export function pageRoutes(_deps: AppDeps): Hono {
  const pages = new Hono();
  pages.get('/', (c) => c.html('<!doctype html><title>apptrace</title><h1>apptrace</h1>'));
  return pages;
}
