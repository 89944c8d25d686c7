import { Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
// First: util._extend, which http-proxy takes when it loads, must not be the deprecated one.
import './util-extend.js';
import httpProxy from 'http-proxy';
import { type Upstream, sendBadGateway } from './error-page.js';
import { endToEndRawHeaders, stripRequestHopByHop } from './hop-by-hop.js';

export interface ForwarderOptions {
  host: string;
  port: number;
  /** Named in the 502 answer when this upstream is down. */
  upstream: Upstream;
  /** The proxy's own port, sent as X-Forwarded-Port. */
  listenPort: number;
}

/** Forwards requests and WebSocket upgrades to one upstream through http-proxy. */
export interface Forwarder {
  web(req: IncomingMessage, res: ServerResponse): void;
  ws(req: IncomingMessage, socket: Socket, head: Buffer): void;
  /** Closes the idle upstream connections. */
  close(): void;
}

const kUpstreamResponse = Symbol('apptrace.upstreamResponse');
type ResponseWithUpstream = ServerResponse & { [kUpstreamResponse]?: IncomingMessage };

/**
 * When the client goes away before the upstream's body has been sent (a closed tab on
 * a server-sent-event stream, an aborted download), the pipe stops and would leave the
 * upstream response paused forever, holding a connection of the dev server. Destroying
 * it frees both. http-proxy does so only in some cases (a client request that errors
 * with ECONNRESET while its socket is already destroyed); on a reused keep-alive socket
 * the upstream stayed paused (forward.test.ts: "a client that goes away mid-download").
 * One shared function, so a request costs no closure.
 */
function onClientResponseClose(this: ResponseWithUpstream): void {
  const upstream = this[kUpstreamResponse];
  if (upstream !== undefined && !upstream.complete) upstream.destroy();
}

/**
 * Copies the upstream's answer to the client: status, end-to-end headers from the raw
 * list (case, order and repeated `set-cookie` intact), then the body, streamed.
 *
 * http-proxy's own response passes (`selfHandleResponse: false`) would call
 * `res.setHeader` once per header and forward the hop-by-hop `Connection`, `Keep-Alive`
 * and `Transfer-Encoding` fields; writing the filtered raw list in one `writeHead` is
 * correct per RFC 9110 §7.6.1 and no dearer (see bench/proxy/README.md).
 */
function onUpstreamResponse(upstreamRes: IncomingMessage, _req: IncomingMessage, res: ServerResponse): void {
  if (res.headersSent || res.destroyed) {
    upstreamRes.destroy();
    return;
  }
  res.writeHead(
    upstreamRes.statusCode ?? 502,
    upstreamRes.statusMessage,
    endToEndRawHeaders(upstreamRes.rawHeaders, upstreamRes.headers),
  );
  (res as ResponseWithUpstream)[kUpstreamResponse] = upstreamRes;
  res.once('close', onClientResponseClose);
  upstreamRes.pipe(res);
}

const kReusedSocket = Symbol('apptrace.reusedSocket');
type RequestWithReuse = IncomingMessage & { [kReusedSocket]?: boolean };

/** Notes whether the upstream request went out on a kept-alive socket (see onWebError). */
function onUpstreamRequest(upstreamReq: ClientRequest, req: IncomingMessage): void {
  if (upstreamReq.reusedSocket) (req as RequestWithReuse)[kReusedSocket] = true;
}

/**
 * A GET or HEAD whose kept-alive upstream socket was reset before any answer (the dev
 * server's idle timeout fired as we reused the socket) is safe to send again, as
 * browsers do; anything else gets the 502.
 */
function mayRetry(error: Error, req: RequestWithReuse, res: ServerResponse): boolean {
  return (
    req[kReusedSocket] === true &&
    (error as NodeJS.ErrnoException).code === 'ECONNRESET' &&
    (req.method === 'GET' || req.method === 'HEAD') &&
    req.readableEnded &&
    !res.headersSent &&
    !res.destroyed
  );
}

/** An upgrade socket can fail before http-proxy attaches its own handlers; a reset must not crash the proxy. */
function onClientSocketError(this: Socket): void {
  this.destroy();
}

function onUnhandledProxyError(error: Error): void {
  // Every call passes its own callback, so this is a safety net only: http-proxy throws
  // when an error is emitted with no listener.
  process.stderr.write(`apptrace-proxy: ${error.message}\n`);
}

/**
 * http-proxy's first web pass, `deleteLength`, sets `content-length: 0` and deletes
 * `transfer-encoding` on every DELETE or OPTIONS without a content-length: a chunked
 * DELETE body is then cut off (and the upstream connection broken). A request with
 * neither header has no body anyway (RFC 9112 §6.3), so the pass only does harm;
 * it is taken out of the list of passes that http-proxy exposes on the instance.
 */
function dropDeleteLengthPass(proxy: object): void {
  const passes = (proxy as { webPasses?: Array<{ name: string }> }).webPasses;
  const index = passes?.findIndex((pass) => pass.name === 'deleteLength') ?? -1;
  if (index === -1) throw new Error('http-proxy changed: no deleteLength pass to drop; check proxy/forward.ts');
  passes!.splice(index, 1);
}

/** X-Forwarded-For/-Proto/-Host/-Port: who asked, over what, under which name and port. */
function addForwardedHeaders(req: IncomingMessage, listenPort: string): void {
  const headers = req.headers;
  const remote = req.socket.remoteAddress ?? '';
  const forwardedFor = headers['x-forwarded-for'];
  headers['x-forwarded-for'] = forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`;
  if (headers['x-forwarded-proto'] === undefined) headers['x-forwarded-proto'] = 'http';
  if (headers['x-forwarded-host'] === undefined && headers.host !== undefined)
    headers['x-forwarded-host'] = headers.host;
  if (headers['x-forwarded-port'] === undefined) headers['x-forwarded-port'] = listenPort;
}

/**
 * Builds a forwarder to `host:port`. http-proxy is configured to skip the work this
 * proxy does not need (each measured in bench/proxy):
 * - a keep-alive agent with LIFO scheduling, so warm sockets are reused;
 * - `target` given as an object, so http-proxy does not `url.parse` it per request;
 * - `toProxy`, so it takes `req.url` as the outgoing path instead of `url.parse(req.url)`;
 * - `xfwd: false`, the X-Forwarded-* headers being set here in one pass;
 * - `selfHandleResponse`, see onUpstreamResponse.
 *
 * @example
 *   const forwarder = createForwarder({ host: '127.0.0.1', port: 3000, listenPort: 8080, upstream });
 *   http.createServer((req, res) => forwarder.web(req, res));
 */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const agent = new Agent({
    keepAlive: true,
    scheduling: 'lifo',
    // With a timeout set, the agent honours the server's `Keep-Alive: timeout=N` hint and
    // drops an idle socket just before the server would, instead of reusing a dying one.
    timeout: 60_000,
  });
  // http-proxy mutates the options object it is given: hand it a fresh one.
  const proxy = httpProxy.createProxyServer({
    target: { protocol: 'http:', host: options.host, hostname: options.host, port: options.port },
    agent,
    xfwd: false,
    toProxy: true,
    selfHandleResponse: true,
  });
  // http-proxy accepts web(req, res, callback) without per-call options (it then skips
  // copying its options per request); its type declarations do not say so.
  const engine = proxy as unknown as {
    web(req: IncomingMessage, res: ServerResponse, callback: typeof onWebError): void;
  };
  dropDeleteLengthPass(proxy);
  proxy.on('proxyRes', onUpstreamResponse);
  proxy.on('proxyReq', onUpstreamRequest);
  proxy.on('error', onUnhandledProxyError);
  const listenPort = String(options.listenPort);
  const upstream = options.upstream;
  // An upgraded socket leaves the pool for good; a fresh connection per upgrade keeps the
  // keep-alive pool clean. (http-proxy copies per-call options, never mutates these.)
  const wsOptions = { agent: false as const };

  function onWebError(error: Error, req: IncomingMessage, res: ServerResponse | Socket): void {
    if (mayRetry(error, req, res as ServerResponse)) {
      (req as RequestWithReuse)[kReusedSocket] = false;
      engine.web(req, res as ServerResponse, onWebError);
      return;
    }
    sendBadGateway(req, res as ServerResponse, upstream, error);
  }

  function onWsError(error: Error, _req: IncomingMessage, res: ServerResponse | Socket): void {
    const socket = res as Socket;
    // Before the 101 has gone out the client can still read an HTTP answer.
    if (socket.writable && socket.bytesWritten === 0) {
      const body = `${upstream.role} at ${upstream.address} is not answering (${(error as NodeJS.ErrnoException).code ?? error.message}). ${upstream.hint}\n`;
      socket.write(
        `HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
  }

  return {
    web: function forwardRequest(req, res) {
      stripRequestHopByHop(req.headers, false);
      addForwardedHeaders(req, listenPort);
      engine.web(req, res, onWebError);
    },
    ws: function forwardUpgrade(req, socket, head) {
      socket.on('error', onClientSocketError);
      stripRequestHopByHop(req.headers, true);
      addForwardedHeaders(req, listenPort);
      proxy.ws(req, socket, head, wsOptions, onWsError);
    },
    close: function closeForwarder() {
      agent.destroy();
      proxy.close();
    },
  };
}
