import type { IncomingHttpHeaders } from 'node:http';

/*
 * Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection, not the
 * message, so a proxy must not forward them: Connection and every field it names, plus
 * Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade. Node frames each hop
 * itself (content-length or chunked), so dropping Transfer-Encoding from a response is
 * safe: the proxy's own response is chunked again when it has no length.
 *
 * These run on every request, so they test the length of a name before lower-casing it.
 */

function isHopByHopName(name: string): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === 'te';
    case 7:
      return name.toLowerCase() === 'upgrade';
    case 10: {
      const lower = name.toLowerCase();
      return lower === 'connection' || lower === 'keep-alive';
    }
    case 16:
      return name.toLowerCase() === 'proxy-connection';
    case 17:
      return name.toLowerCase() === 'transfer-encoding';
    default:
      return false;
  }
}

/** The extra names a Connection header lists (`Connection: close, X-Foo` → `x-foo`). */
function connectionTokens(connection: string | undefined): Set<string> | undefined {
  // The usual values name no other field: no split, no allocation (Node servers send these).
  if (
    connection === undefined ||
    connection === 'keep-alive' ||
    connection === 'close' ||
    connection === 'Keep-Alive'
  ) {
    return undefined;
  }
  let tokens: Set<string> | undefined;
  for (const raw of connection.split(',')) {
    const token = raw.trim().toLowerCase();
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    (tokens ??= new Set()).add(token);
  }
  return tokens;
}

/**
 * A response's raw header list (name, value, name, value, …: order, case and repeats such
 * as several `set-cookie` kept) without the hop-by-hop fields, ready for `res.writeHead`.
 */
export function endToEndRawHeaders(rawHeaders: readonly string[], headers: IncomingHttpHeaders): string[] {
  const listed = connectionTokens(headers.connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (isHopByHopName(name)) continue;
    if (listed?.has(name.toLowerCase())) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * Removes hop-by-hop fields from a request's headers before they are forwarded.
 * `transfer-encoding` stays: it is how Node's client learns that it must chunk the body
 * it pipes upstream (for DELETE and OPTIONS it would not otherwise), so the next hop gets
 * a freshly framed body rather than the client's framing. An upgrade request keeps
 * `connection` and `upgrade`, which are what it asks for.
 */
export function stripRequestHopByHop(headers: IncomingHttpHeaders, upgrade: boolean): void {
  if (
    headers.connection === undefined &&
    headers['keep-alive'] === undefined &&
    headers['proxy-connection'] === undefined &&
    headers.te === undefined &&
    headers.upgrade === undefined
  ) {
    return;
  }
  const listed = connectionTokens(headers.connection);
  if (listed !== undefined) for (const name of listed) if (name !== 'transfer-encoding') delete headers[name];
  // Delete only what is there: each delete can make the object slower for the copies
  // http-proxy and Node's client make next.
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
  if (headers.te !== undefined) delete headers.te;
  if (!upgrade) {
    if (headers.connection !== undefined) delete headers.connection;
    if (headers.upgrade !== undefined) delete headers.upgrade;
  }
}
