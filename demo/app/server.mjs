/**
 * The apptrace demo: a small guestbook on node:http, with a memory leak on purpose.
 *
 *   node --inspect=127.0.0.1:9229 demo/app/server.mjs       # PORT=3000 HOST=127.0.0.1 by default
 *
 * GET / shows the messages and a form, POST /sign adds a message, GET /healthz answers
 * "ok" (for health checks; it records nothing).
 *
 * What apptrace should show, module by module:
 * - analytics.cjs `requestLog`: THE LEAK, an array that grows with every request.
 * - server.mjs `visitors`: a bounded LRU cache of visitors by cookie; a browser keeps its
 *   cookie (one visitor: flat), clients without cookies fill it, then it stays flat.
 * - server.mjs `guestbook`: one more message per signature, the newest 50 only; it climbs
 *   while people sign and levels off (plateaued) when they stop.
 * - `config`, the classes `Guestbook` and `LruCache`, the helper functions: flat.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import analytics from './analytics.cjs';
import render from './render.cjs';
import { Guestbook } from './guestbook.mjs';
import { LruCache } from './lru-cache.mjs';

/** Settings, read once. Not a leak: nothing adds to it. */
const config = Object.freeze({
  title: 'apptrace demo guestbook',
  host: process.env.HOST || '127.0.0.1',
  port: Number(process.env.PORT || 3000),
  maxMessages: 50,
  // A visitor is remembered (their name fills the form) in a cache of this many entries.
  visitorCacheSize: 8,
  maxBodyBytes: 4096,
});

const guestbook = new Guestbook(config.maxMessages);

/** Visitors by cookie id. Bounded: at most `config.visitorCacheSize` entries. */
const visitors = new LruCache(config.visitorCacheSize);

const VISITOR_COOKIE = 'gb_visitor';

/** The visitor of this request, from their cookie, or a new one (a client without a cookie is new every time). */
function visitorFor(req, res) {
  const match = new RegExp(`(?:^|;\\s*)${VISITOR_COOKIE}=([\\w-]{1,64})`).exec(req.headers.cookie ?? '');
  let visitor = match ? visitors.get(match[1]) : undefined;
  if (!visitor) {
    visitor = { id: randomUUID(), name: '', firstSeen: Date.now() };
    res.setHeader('set-cookie', `${VISITOR_COOKIE}=${visitor.id}; Path=/; HttpOnly; SameSite=Lax`);
  }
  visitors.set(visitor.id, visitor);
  return visitor;
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > config.maxBodyBytes) reject(Object.assign(new Error('message too long'), { status: 413 }));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function sendPage(req, res, visitor, status = 200, error = '') {
  const html = render.renderPage({
    title: config.title,
    messages: guestbook.list(),
    visitorName: visitor.name,
    requestCount: analytics.requestCount(),
    error,
  });
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(req.method === 'HEAD' ? undefined : html);
}

async function sign(req, res, visitor) {
  const form = await readForm(req);
  const name = (form.get('name') ?? '').trim().slice(0, 60);
  const text = (form.get('message') ?? '').trim().slice(0, 500);
  if (!name || !text) {
    sendPage(req, res, visitor, 400, 'Please give your name and a message.');
    return;
  }
  visitor.name = name;
  guestbook.add(name, text);
  // Post/redirect/get: reloading the page does not sign twice.
  res.writeHead(303, { location: '/' });
  res.end();
}

async function handleRequest(req, res) {
  const path = new URL(req.url ?? '/', 'http://guestbook').pathname;
  if (path === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  analytics.recordRequest(req);
  const visitor = visitorFor(req, res);
  if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return sendPage(req, res, visitor);
  if (path === '/sign' && req.method === 'POST') return sign(req, res, visitor);
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`Not found: ${req.method} ${path}. Try GET / or POST /sign.\n`);
}

const server = createServer((req, res) => {
  handleRequest(req, res).catch((error) => {
    if (!res.headersSent) res.writeHead(error.status ?? 500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${error.status ? error.message : 'internal error'}\n`);
    if (!error.status) console.error(error);
  });
});

server.on('error', (error) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `guestbook: port ${config.port} is in use; start it with PORT=<another port>.`
      : `guestbook: ${error.message}`,
  );
  process.exitCode = 1;
});

server.listen(config.port, config.host, () => {
  const { address, port } = server.address();
  console.log(`guestbook listening on http://${address.includes(':') ? `[${address}]` : address}:${port}/`);
});

// In a container node is process 1 and gets no default signal handlers: stop on
// SIGTERM/SIGINT ourselves, closing keep-alive connections so the exit is quick.
function stop(signal) {
  console.log(`guestbook: ${signal}, stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
