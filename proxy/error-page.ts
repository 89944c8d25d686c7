import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml } from '../common/escape-html.js';

/** What could not be reached, for the 502 answer. */
export interface Upstream {
  /** `the dev server` or `the apptrace profiler`. */
  role: string;
  /** host:port or URL, as the user typed it. */
  address: string;
  /** One sentence: how to bring it up. */
  hint: string;
}

/**
 * True when the client ranks JSON above HTML (fetch() and API clients), following the
 * q-values of its Accept header; browsers that send text/html first get the page.
 */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = -1;
  let html = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) || 0 : 1;
    if (type === 'application/json' || type.endsWith('+json')) json = Math.max(json, q);
    else if (type === 'text/html' || type === '*/*' || type === 'text/*')
      html = Math.max(html, type === 'text/html' ? q : q - 0.001);
  }
  return json > 0 && json >= html;
}

/**
 * Answers 502 Bad Gateway saying which upstream is down and how to start it: a JSON body
 * when the client asked for JSON, a small HTML page otherwise. When the upstream failed
 * after the response began, a 502 can no longer be sent and the connection is cut, which
 * is how the client learns that the body is incomplete.
 */
export function sendBadGateway(req: IncomingMessage, res: ServerResponse, upstream: Upstream, error: Error): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const code = (error as NodeJS.ErrnoException).code ?? error.message;
  const reason = `${upstream.role} at ${upstream.address} is not answering (${code})`;
  let body: string;
  let type: string;
  if (prefersJson(req.headers.accept)) {
    type = 'application/json; charset=utf-8';
    body = JSON.stringify({
      error: 'bad_gateway',
      message: `${reason}. ${upstream.hint}`,
      upstream: upstream.address,
      code,
      hint: upstream.hint,
    });
  } else {
    type = 'text/html; charset=utf-8';
    body = [
      '<!doctype html><html><head><meta charset="utf-8"><title>502 · apptrace-proxy</title>',
      '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}code{background:#eee;padding:.1em .3em}</style>',
      '</head><body>',
      `<h1>502 · ${escapeHtml(upstream.role)} is not answering</h1>`,
      `<p>apptrace-proxy forwarded <code>${escapeHtml(req.method ?? 'GET')} ${escapeHtml(req.url ?? '/')}</code> to <code>${escapeHtml(upstream.address)}</code> and got <code>${escapeHtml(code)}</code>.</p>`,
      `<p>${escapeHtml(upstream.hint)}</p>`,
      '<p>Reload this page once it is up.</p>',
      '</body></html>',
    ].join('\n');
  }
  res.writeHead(502, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
