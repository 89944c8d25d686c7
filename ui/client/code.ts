// apptrace code browser: brings the marked line (the object's definition) into view,
// below the sticky header. Compiled by ui/client/tsconfig.json.

function reveal(): void {
  const marked = document.querySelector('.line[data-marked]');
  const target = location.hash.startsWith('#L') ? document.getElementById(location.hash.slice(1)) : null;
  const line = marked ?? target;
  if (line) line.scrollIntoView({ block: 'center' });
}

reveal();
// The browser scrolls to a #L<n> fragment itself once the page has loaded; centre
// the marked line again after that so it is not left under the header.
window.addEventListener('load', () => requestAnimationFrame(reveal));
