'use strict';
/**
 * "Analytics" for the guestbook: a CommonJS module, so that apptrace shows how it
 * records both kinds of modules (this one is loaded from server.mjs with `import`).
 *
 * THE LEAK IS HERE. Every request's details are pushed onto `requestLog`, a
 * module-level array that nothing ever trims. Each entry keeps a copy of the request's
 * headers, so the array grows by a few hundred bytes per request for as long as the
 * process lives. In apptrace's graphs, `requestLog` (module analytics.cjs) is the line
 * that climbs request after request.
 *
 * The fix would be to keep only a count, or the last N entries (compare `visitors` in
 * server.mjs, an LRU cache that fills up and then stays flat).
 */

/** Every request ever seen, oldest first. Never trimmed: this is the leak. */
const requestLog = [];

/** Remembers one request "for later analysis". */
function recordRequest(req) {
  requestLog.push({
    at: new Date().toISOString(),
    method: req.method,
    url: req.url,
    headers: { ...req.headers },
  });
}

/** How many requests were seen; the page shows it in its footer. */
function requestCount() {
  return requestLog.length;
}

module.exports = { recordRequest, requestCount };
