import type { Context, MiddlewareHandler } from 'hono';
import { APPTRACE_RESPONSE_HEADERS, createHostCheck, forbiddenHostMessage } from '../common/allowed-hosts.js';
import { PROFILER_TOKEN_HEADER, tokenMatches } from '../common/profiler-token.js';

/** Who may use the UI and API, besides loopback pages of apptrace's own origin. */
export interface GuardOptions {
  /** Host names answered besides loopback ones (`--allowed-host`). */
  allowedHosts?: readonly string[];
  /** The secret the proxy sends on `POST …/api/signal`; without one, no signal is accepted. */
  profilerToken?: string;
  /** The path of the signal route, e.g. `/_ah/apptrace/api/signal`. */
  signalPath: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function refuse(c: Context, status: 403 | 415, code: string, message: string): Response {
  return c.json({ error: message, code }, status);
}

/** The request's `Host` (the header on a server; the URL's host for `app.request()`). */
function requestHost(c: Context): string {
  return c.req.header('host') ?? new URL(c.req.url).host;
}

/**
 * An origin normalised by the URL parser (lowercase, no default port), or undefined for
 * `null` and anything unparsable.
 */
function normalOrigin(origin: string): string | undefined {
  if (origin === 'null') return undefined;
  try {
    return new URL(origin).origin;
  } catch {
    return undefined;
  }
}

/**
 * One middleware for the whole UI and API, so that a route added later is covered too:
 *
 * - a `Host` outside the allowlist gets 403 naming `--allowed-host` (DNS rebinding);
 * - a request a page of another site makes (`Sec-Fetch-Site: cross-site`) gets 403, unless
 *   it is a plain top-level navigation to a page (a link to apptrace still opens it);
 * - a state-changing request needs `Content-Type: application/json`, which a page of another
 *   origin can send only after a CORS preflight that is never granted, and is refused when its
 *   `Origin` is not apptrace's own;
 * - the signal route takes only the proxy: it must present the shared token;
 * - every answer carries `nosniff` and `Cross-Origin-Resource-Policy: same-origin`, and no
 *   `Access-Control-Allow-*` header ever leaves.
 *
 * @example
 *   app.use('*', guard({ allowedHosts: ['profiler'], profilerToken, signalPath: `${BASE_PATH}/api/signal` }));
 */
export function guard(options: GuardOptions): MiddlewareHandler {
  const isAllowedHost = createHostCheck(options.allowedHosts ?? []);
  const check = (c: Context): Response | undefined => {
    const host = requestHost(c);
    if (!isAllowedHost(host)) return refuse(c, 403, 'FORBIDDEN_HOST', forbiddenHostMessage(host));
    const method = c.req.method.toUpperCase();
    const site = c.req.header('sec-fetch-site')?.toLowerCase();
    // A link followed to apptrace, top level (a frame is refused: clickjacking).
    const navigation =
      SAFE_METHODS.has(method) &&
      c.req.header('sec-fetch-mode')?.toLowerCase() === 'navigate' &&
      (c.req.header('sec-fetch-dest') ?? 'document').toLowerCase() === 'document';
    if (site === 'cross-site' && !navigation) {
      return refuse(
        c,
        403,
        'CROSS_SITE',
        'apptrace answers no request made by a page of another site; open apptrace itself.',
      );
    }
    if (SAFE_METHODS.has(method)) return undefined;
    if (method === 'OPTIONS') {
      return refuse(
        c,
        403,
        'CROSS_ORIGIN',
        'apptrace grants no cross-origin access (no CORS): use it from its own pages.',
      );
    }
    const origin = c.req.header('origin');
    // apptrace is served over plain http: its own origin is http://HOST.
    const own = normalOrigin(`http://${host}`);
    if (origin !== undefined && (own === undefined || normalOrigin(origin) !== own)) {
      return refuse(
        c,
        403,
        'CROSS_ORIGIN',
        `apptrace refused a ${method} from the page of origin ${JSON.stringify(origin)}: only apptrace's own pages may change it.`,
      );
    }
    const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      return refuse(
        c,
        415,
        'NOT_JSON',
        `a ${method} to apptrace must send Content-Type: application/json (with a JSON body, {} when there is nothing to say).`,
      );
    }
    if (
      c.req.path === options.signalPath &&
      !tokenMatches(c.req.header(PROFILER_TOKEN_HEADER), options.profilerToken)
    ) {
      return refuse(
        c,
        403,
        'NOT_THE_PROXY',
        `only apptrace-proxy may signal the profiler: it sends the ${PROFILER_TOKEN_HEADER} header with the token it shares with the profiler ` +
          '(generated when the proxy starts the profiler; --profiler-token / APPTRACE_PROFILER_TOKEN on both sides otherwise).',
      );
    }
    return undefined;
  };

  return async function apptraceGuard(c, next) {
    const refused = check(c);
    if (refused !== undefined) {
      secure(refused.headers);
      return refused;
    }
    await next();
    try {
      secure(c.res.headers);
    } catch {
      // An immutable Response (Response.redirect, a fetched one): copy it into a mutable one.
      c.res = new Response(c.res.body, c.res);
      secure(c.res.headers);
    }
    return undefined;
  };
}

function secure(headers: Headers): void {
  for (const [name, value] of Object.entries(APPTRACE_RESPONSE_HEADERS)) headers.set(name, value);
  for (const name of [...headers.keys()]) if (name.startsWith('access-control-allow-')) headers.delete(name);
}
