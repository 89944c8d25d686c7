import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { AppError } from '../contract/errors.js';
import type { SignalledRequest } from '../contract/record.js';
import { markGrowthLines } from '../analyses/growth-lines.js';
import { rankSuspects } from '../analyses/suspects.js';
import type { AppDeps, AppEvent } from '../contract/app-deps.js';
import { exportRoutes } from './export-routes.js';

/** How often an idle event stream gets a comment, so proxies and browsers keep it open. */
const KEEP_ALIVE_MS = 15_000;
/** The most requests one signal may report (the proxy batches a few at most). */
const MAX_SIGNAL_REQUESTS = 10_000;

/**
 * The JSON API and the event stream of docs/design.md, mounted under /_ah/apptrace:
 * GET /api/records?since=N, GET /api/suspects?history=N, GET /api/status, GET /events (SSE),
 * POST /api/snapshot, POST /api/clear (body {"confirm": true}: deletes every record), and
 * POST /api/signal (the proxy's internal report).
 */
export function apiRoutes(deps: AppDeps): Hono {
  const api = new Hono();

  // Before /api/records/…: the downloads (CSV, kept snapshots).
  api.route('/', exportRoutes(deps));

  api.get('/api/records', (c) => {
    const raw = c.req.query('since');
    const since = raw === undefined || raw === '' ? 0 : Number(raw);
    if (!Number.isInteger(since) || since < 0) {
      throw new AppError('BAD_REQUEST', `since must be a record index (an integer ≥ 0), not ${JSON.stringify(raw)}`);
    }
    return c.json(deps.records(since));
  });

  // Growing suspects get the lines that add to them, found in their module's source.
  // `history=N` keeps the last N points of each suspect's history: the overview draws 60,
  // and at 1,000 records the whole histories weigh about 2 MB.
  api.get('/api/suspects', async (c) => {
    const raw = c.req.query('history');
    const keep = raw === undefined || raw === '' ? undefined : Number(raw);
    if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) {
      throw new AppError(
        'BAD_REQUEST',
        `history must be how many recent points to keep (an integer ≥ 1), not ${JSON.stringify(raw)}`,
      );
    }
    const suspects = await markGrowthLines(rankSuspects(deps.records(0)), (m) => deps.moduleSource(m));
    return c.json(keep === undefined ? suspects : suspects.map((s) => ({ ...s, history: s.history.slice(-keep) })));
  });

  api.get('/api/status', (c) => c.json(deps.status()));

  // The cheap per-request heap readings (no snapshot, no pause): profiler/heap-points.ts.
  api.get('/api/heap-points', (c) => {
    const raw = c.req.query('since');
    const since = raw === undefined || raw === '' ? 0 : Number(raw);
    if (!Number.isInteger(since) || since < 0) {
      throw new AppError('BAD_REQUEST', `since must be a point index (an integer ≥ 0), not ${JSON.stringify(raw)}`);
    }
    return c.json(deps.heapPoints?.(since) ?? []);
  });

  api.post('/api/snapshot', async (c) => c.json(await deps.snapshotNow(), 201));

  // "Clear records": a JSON body that says so, so a stray POST deletes nothing.
  api.post('/api/clear', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      body = null;
    }
    if ((body as { confirm?: unknown } | null)?.confirm !== true) {
      throw new AppError('BAD_REQUEST', 'to delete every record, send the JSON body {"confirm": true}');
    }
    return c.json({ cleared: await deps.clearRecords() });
  });

  api.post('/api/signal', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (error) {
      throw new AppError('BAD_REQUEST', 'the body must be JSON: {"requests":[{"method","url","status"}]}', {
        cause: error,
      });
    }
    const requests = parseSignal(body);
    if (typeof requests === 'string') throw new AppError('BAD_REQUEST', requests);
    // The proxy never waits for a snapshot: take note and answer at once.
    deps.signal(requests);
    return c.json({ accepted: requests.length }, 202);
  });

  api.get('/events', (c) => {
    // A browser that reconnects sends the last record it saw; it gets what it missed.
    const lastId = Number(c.req.header('Last-Event-ID') ?? NaN);
    return streamSSE(c, async (stream) => {
      let chain = Promise.resolve();
      const send = (event: AppEvent) => {
        chain = chain
          .then(() =>
            event.type === 'record'
              ? stream.writeSSE({ event: 'record', id: String(event.record.index), data: JSON.stringify(event.record) })
              : stream.writeSSE({ event: 'status', data: JSON.stringify(event.status) }),
          )
          .catch(() => undefined);
      };
      const unsubscribe = deps.subscribe(send);
      const keepAlive = setInterval(() => {
        chain = chain
          .then(() => stream.write(': keep-alive\n\n'))
          .then(
            () => undefined,
            () => undefined,
          );
      }, KEEP_ALIVE_MS);
      const closed = new Promise<void>((resolve) => stream.onAbort(resolve));
      send({ type: 'status', status: deps.status() });
      if (Number.isInteger(lastId) && lastId >= 0) {
        for (const record of deps.records(lastId)) send({ type: 'record', record });
      }
      await closed;
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  return api;
}

/** The requests of a signal body, or a message saying what is wrong with it. */
function parseSignal(body: unknown): SignalledRequest[] | string {
  const list = (body as { requests?: unknown } | null)?.requests;
  if (!Array.isArray(list)) return 'expected {"requests":[{"method","url","status"}]}';
  if (list.length > MAX_SIGNAL_REQUESTS) return `at most ${MAX_SIGNAL_REQUESTS} requests per signal`;
  const requests: SignalledRequest[] = [];
  for (const item of list) {
    const { method, url, status, at, aborted } = (item ?? {}) as Partial<SignalledRequest>;
    if (typeof method !== 'string' || typeof url !== 'string' || typeof status !== 'number') {
      return 'each request needs "method" (string), "url" (string) and "status" (number)';
    }
    if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at)))
      return '"at", when given, is when the response finished (ms since epoch)';
    // `at` says when the response finished, so the snapshot that holds its effect claims it.
    requests.push({
      method,
      url,
      status,
      ...(at !== undefined ? { at } : {}),
      ...(aborted === true ? { aborted: true } : {}),
    });
  }
  return requests;
}
