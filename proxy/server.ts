import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import { APPTRACE_RESPONSE_HEADERS, createHostCheck, forbiddenHostMessage } from '../common/allowed-hosts.js';
import { AppError } from '../contract/errors.js';
import { sendBadGateway, type Upstream } from './error-page.js';
import { type Forwarder, createForwarder } from './forward.js';
import type { SignalSender } from './signal.js';
import { createRequestFilter } from './request-filter.js';
import { APPTRACE_PREFIX } from './url-match.js';

export interface ProxyServerOptions {
  target: { host: string; port: number };
  urlPatterns: readonly string[];
  /**
   * Host names `/_ah/apptrace*` answers besides loopback ones (--allowed-host and the listen
   * address); any other Host gets 403 there. The app's own traffic is not filtered.
   */
  allowedHosts?: readonly string[];
}

/**
 * The proxy's HTTP server: `/_ah/apptrace*` to the profiler, everything else to the
 * target, and a signal to the profiler after each matching response has finished.
 */
export interface ProxyServer {
  server: Server;
  /** Listens; rejects with `AppError('PORT_IN_USE')` naming the port. Resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Routes `/_ah/apptrace*` and signals to the profiler at `url` (known once it runs). */
  useProfiler(url: string, signals: SignalSender): void;
  /** Says what to answer on `/_ah/apptrace*` while there is no profiler. */
  profilerUnavailable(upstream: Upstream): void;
  close(): Promise<void>;
}

/** While a page loads, signals wait until no request has ended for this long. */
const PAGE_GRACE_MS = 500;
/** How long after its document a page is taken to be still loading. */
const PAGE_LOAD_MS = 10_000;

/**
 * A browser loading a page (whose scripts and styles it asks for next): a navigation by
 * `Sec-Fetch-Dest`, or, from a client that does not send it, one that asks for HTML first.
 */
function isPageLoad(req: IncomingMessage): boolean {
  const dest = req.headers['sec-fetch-dest'];
  if (dest !== undefined) return dest === 'document' || dest === 'iframe' || dest === 'frame';
  return /^\s*text\/html/i.test(req.headers.accept ?? '');
}

function isEventStream(req: IncomingMessage): boolean {
  return /^\s*text\/event-stream/i.test(req.headers.accept ?? '');
}

function describeHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** 403 for `/_ah/apptrace*` under a Host that is not allowed (DNS rebinding); names --allowed-host. */
function refuseHost(req: IncomingMessage, res: ServerResponse): void {
  const message = forbiddenHostMessage(req.headers.host);
  // Drain the body, so that a kept-alive connection stays usable.
  req.resume();
  res.writeHead(403, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(message),
  });
  res.end(message);
}

export function createProxyServer(options: ProxyServerOptions): ProxyServer {
  const targetAddress = describeHostPort(options.target.host, options.target.port);
  const isTraced = createRequestFilter(options.urlPatterns);
  const isAllowedHost = createHostCheck(options.allowedHosts ?? []);
  const server = createServer({
    // A dev proxy: a slow upload to a local server must not be cut after 5 minutes.
    requestTimeout: 0,
  });
  let target: Forwarder | undefined;
  let profiler: Forwarder | undefined;
  let signals: SignalSender | undefined;
  let unavailable: Upstream = {
    role: 'the apptrace profiler',
    address: '(starting)',
    hint: 'The profiler is starting; try again in a moment.',
  };

  // Bound once, so that a traced request adds one listener and no closure. On `close`,
  // which follows `finish` and also comes when the client abandons the request: the
  // target did (or does) the work all the same, so it counts (issue #14).
  function onTracedResponseClose(this: ServerResponse): void {
    const req = this.req;
    signals?.send(req.method ?? 'GET', req.url ?? '/', this.statusCode, Date.now(), !this.writableFinished);
  }

  // The app's traffic, so that signals wait for a quiet moment (signal.ts, holdWhileBusy):
  // no request in flight and, while a page loads, none for a short grace, since its
  // browser asks for more scripts as the first ones run. A snapshot freezes the app;
  // started while a page loads, it would stall that page for the whole pause (issue #14).
  let inFlight = 0;
  let pageEndedAt = Number.NEGATIVE_INFINITY;
  let lastEndedAt = 0;
  function busyFor(): number {
    if (inFlight > 0) return Number.POSITIVE_INFINITY;
    const now = Date.now();
    if (now - pageEndedAt > PAGE_LOAD_MS) return 0;
    return Math.max(0, lastEndedAt + PAGE_GRACE_MS - now);
  }
  function onTargetResponseClose(this: ServerResponse): void {
    inFlight--;
    lastEndedAt = Date.now();
    if (isPageLoad(this.req)) pageEndedAt = lastEndedAt;
    signals?.poke();
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url.startsWith(APPTRACE_PREFIX)) {
      for (const [name, value] of Object.entries(APPTRACE_RESPONSE_HEADERS)) res.setHeader(name, value);
      if (!isAllowedHost(req.headers.host)) {
        refuseHost(req, res);
        return;
      }
      if (profiler !== undefined) profiler.web(req, res);
      else sendBadGateway(req, res, unavailable, new Error('no profiler'));
      return;
    }
    if (signals !== undefined && isTraced(req)) res.once('close', onTracedResponseClose);
    // An event stream (an HMR channel) stays open as long as the page: it is no work in flight.
    if (!isEventStream(req)) {
      inFlight++;
      res.once('close', onTargetResponseClose);
    }
    target!.web(req, res);
  }

  function handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if ((req.url ?? '/').startsWith(APPTRACE_PREFIX)) {
      if (!isAllowedHost(req.headers.host)) {
        socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
        return;
      }
      if (profiler !== undefined) profiler.ws(req, socket, head);
      else socket.destroy();
      return;
    }
    target!.ws(req, socket, head);
  }

  server.on('request', handleRequest);
  server.on('upgrade', handleUpgrade);
  // A client that speaks garbage gets a 400 and its socket closed, never a crash.
  server.on('clientError', function onClientError(_error: Error, socket: Socket) {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    listen(host, port) {
      return new Promise<number>((resolve, reject) => {
        function onError(error: NodeJS.ErrnoException): void {
          server.off('listening', onListening);
          if (error.code === 'EADDRINUSE') {
            reject(
              new AppError(
                'PORT_IN_USE',
                `port ${port} on ${host} is already in use (another apptrace-proxy, or your dev server?). ` +
                  `Stop that process or pick another port, e.g. --listen ${host}:${port + 1}.`,
                { cause: error },
              ),
            );
          } else if (error.code === 'EACCES') {
            reject(
              new AppError(
                'PORT_IN_USE',
                `not allowed to listen on ${host}:${port}; pick a port above 1023 with --listen.`,
                { cause: error },
              ),
            );
          } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
            reject(
              new AppError('BAD_FLAG', `--listen ${host}:${port}: this machine has no address ${host}.`, {
                cause: error,
              }),
            );
          } else reject(error);
        }
        function onListening(): void {
          server.off('error', onError);
          const address = server.address();
          const bound = typeof address === 'object' && address !== null ? address.port : port;
          target = createForwarder({
            host: options.target.host,
            port: options.target.port,
            listenPort: bound,
            upstream: {
              role: 'the dev server',
              address: targetAddress,
              hint: `Start your app so that it listens on ${targetAddress} (for example \`node --inspect server.js\`), or point --target at where it runs.`,
            },
          });
          resolve(bound);
        }
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(port, host);
      });
    },
    useProfiler(url, sender) {
      const parsed = new URL(url);
      const address = server.address();
      profiler?.close();
      profiler = createForwarder({
        host: parsed.hostname.replace(/^\[|\]$/g, ''),
        port: Number(parsed.port || 80),
        listenPort: typeof address === 'object' && address !== null ? address.port : 0,
        upstream: {
          role: 'the apptrace profiler',
          address: url,
          hint: 'Traffic to your app still flows. Restart apptrace-proxy to start a new profiler, or check the one given with --profiler.',
        },
      });
      signals = sender;
      sender.holdWhileBusy(busyFor);
    },
    profilerUnavailable(upstream) {
      profiler?.close();
      profiler = undefined;
      signals?.close();
      signals = undefined;
      unavailable = upstream;
    },
    close() {
      return new Promise<void>((resolve) => {
        signals?.close();
        target?.close();
        profiler?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
