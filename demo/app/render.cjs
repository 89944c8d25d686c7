'use strict';
/**
 * HTML for the guestbook's one page. Plain functions and no state: nothing here grows.
 * (CommonJS, like analytics.cjs; its exports show in apptrace as functions.)
 */

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Visitors write the messages: escape everything that comes from them. */
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function renderMessage(message) {
  const when = new Date(message.at).toLocaleString('en-GB', { timeZone: 'UTC' });
  return `<li><strong>${escapeHtml(message.name)}</strong> <small>${escapeHtml(when)} UTC</small>
  <p>${escapeHtml(message.text)}</p></li>`;
}

/**
 * The whole page: the messages (newest first), the form, and a footer with the
 * number of requests the analytics module has kept so far.
 */
function renderPage({ title, messages, visitorName, requestCount, error }) {
  const list = messages.length
    ? `<ul class="messages">${messages.map(renderMessage).join('\n')}</ul>`
    : '<p>No messages yet. Be the first to sign.</p>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  .messages { list-style: none; padding: 0; } .messages li { border-bottom: 1px solid #ddd; padding: .5rem 0; }
  .messages p { margin: .25rem 0; } form { display: grid; gap: .75rem; margin: 1rem 0 2rem; }
  label { display: grid; gap: .25rem; } input, textarea, button { font: inherit; padding: .35rem; }
  .error { color: #b00020; } footer { color: #666; font-size: .9rem; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/sign">
  <label>Your name <input name="name" maxlength="60" required value="${escapeHtml(visitorName)}"></label>
  <label>Message <textarea name="message" maxlength="500" rows="3" required></textarea></label>
  <button type="submit">Sign the guestbook</button>
</form>
${list}
<footer>${requestCount} requests served. This app leaks memory on purpose:
open <a href="/_ah/apptrace">/_ah/apptrace</a> (through apptrace-proxy) to watch it.</footer>
</body>
</html>
`;
}

module.exports = { escapeHtml, renderPage };
