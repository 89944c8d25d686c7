// apptrace code browser: brings the marked line (the object's definition) into view.
// Plain browser JavaScript (not compiled).
'use strict';

(function codeBrowser() {
  const marked = document.querySelector('.line[data-marked]');
  const target = location.hash.startsWith('#L') ? document.getElementById(location.hash.slice(1)) : null;
  const line = marked || target;
  if (line) line.scrollIntoView({ block: 'center' });
})();
