import util from 'node:util';

/**
 * Imported for its effect, before `http-proxy` (see proxy/forward.ts).
 *
 * http-proxy 1.18.1, the forwarder the project chose and the last release, takes
 * `require('util')._extend` when it loads and calls it for every proxied request. Node
 * deprecated that function (DEP0060); from Node 22 on its first call prints
 * "[DEP0060] DeprecationWarning: The `util._extend` API is deprecated" on the stderr of
 * every apptrace process that forwards a request (the proxy, the demo, `check`).
 *
 * Rather than silence warnings (process.noDeprecation, a 'warning' filter would hide
 * other deprecations too), the property http-proxy reads is made a plain function that
 * does what util._extend does: copy the source's own enumerable string keys onto the
 * target (lib/util.js in Node). Only that one property changes; everything else keeps
 * its warnings, and a Node that drops util._extend keeps http-proxy working.
 */
function extend<T extends object>(target: T, source: unknown): T {
  if (source === null || typeof source !== 'object') return target;
  const from = source as Record<string, unknown>;
  const to = target as Record<string, unknown>;
  for (const key of Object.keys(from)) to[key] = from[key];
  return target;
}

Object.defineProperty(util, '_extend', { value: extend, writable: true, configurable: true, enumerable: true });
