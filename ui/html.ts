import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

/**
 * Escaping and the page layout shared by the UI's pages.
 *
 * Every string that reaches a page can come from the heap (binding names), from a URL
 * (recorded requests, the Host header) or from the target's source: all of it goes
 * through hono's `html` tag (which escapes every interpolated string) or `escapeHtml`.
 * `raw` is only ever applied to markup built here from escaped parts.
 */

export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** Escapes text for HTML element content and quoted attribute values (one escaper for the server side). */
export { escapeHtml } from '../common/escape-html.js';

/**
 * The Content-Security-Policy of every page: scripts and styles only from our own
 * routes (no inline script, so an escaping bug elsewhere still cannot run script),
 * fetch/EventSource only to ourselves. uPlot styles its elements through the CSSOM
 * (element.style), which style-src does not restrict.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export interface LayoutOptions {
  title: string;
  /** The prefix every route lives under, e.g. `/_ah/apptrace`. */
  base: string;
  /** Names of scripts under `{base}/static/`, loaded at the end of the body in order. */
  scripts: string[];
  /** Names of ES modules under `{base}/static/` (the compiled client), run after the scripts. */
  modules?: string[];
  /** Extra style sheets under `{base}/static/`, before our own style.css. */
  styles?: string[];
  bodyClass: string;
  body: Html;
  /** URLs the page's script will fetch at once: fetched while the scripts load. */
  preload?: string[];
}

/** A whole page: head with our style sheets, the body, then the scripts (no inline code). */
export function layout(options: LayoutOptions): Html {
  const { base } = options;
  const styles = [...(options.styles ?? []), 'style.css'];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title}</title>
<link rel="icon" href="data:,">
${(options.preload ?? []).map(
  (url) => html`<link rel="preload" href="${url}" as="fetch" crossorigin="anonymous">
`,
)}${styles.map((name) => html`<link rel="stylesheet" href="${base}/static/${name}">\n`)}
</head>
<body class="${options.bodyClass}" data-base="${base}">
${options.body}
${options.scripts.map((name) => html`<script src="${base}/static/${name}"></script>\n`)}${(options.modules ?? []).map((name) => html`<script type="module" src="${base}/static/${name}"></script>\n`)}
</body>
</html>
`;
}

export { html, raw };
