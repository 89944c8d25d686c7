// apptrace overview, the pause budget's part: the heap after every traced request
// (GET {base}/api/heap-points: Runtime.getHeapUsage, no snapshot, no pause) drawn under
// the heap chart, and the "next snapshot in 12 s, ~3 s pause" pill of the status strip.
// Plain browser JavaScript (not compiled), on its own beside overview.js; strings reach
// the page through textContent and setAttribute only.
'use strict';

(function heapPoints() {
  const base = document.body.dataset.base || '/_ah/apptrace';
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 2000;

  const UNITS = ['B', 'KB', 'MB', 'GB'];
  function formatBytes(bytes) {
    let value = Math.abs(bytes);
    let unit = 0;
    while (value >= 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit++;
    }
    const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
    return (bytes < 0 ? '-' : '') + value.toFixed(digits) + ' ' + UNITS[unit];
  }

  // Same words as ui/status-view.ts (formatDuration, nextSnapshotText).
  function formatDuration(ms) {
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms < 10000 ? (ms / 1000).toFixed(1).replace(/\.0$/, '') : String(Math.round(ms / 1000))) + ' s';
    return (ms / 60000).toFixed(1).replace(/\.0$/, '') + ' min';
  }

  function nextSnapshotText(status, now) {
    const s = status.snapshot;
    const pause = s.estimatedPauseMs != null ? s.estimatedPauseMs : s.lastPauseMs != null ? s.lastPauseMs : null;
    const cost = pause === null ? '' : '~' + formatDuration(pause) + ' pause';
    if (s.skipped) return 'snapshot skipped: not enough free memory';
    if (s.running) return '';
    if (s.nextAt) {
      const wait = Math.max(0, Date.parse(s.nextAt) - now);
      return 'next snapshot in ' + Math.ceil(wait / 1000) + ' s' + (cost ? ', ' + cost : '');
    }
    return cost ? 'snapshots: ' + cost : '';
  }

  // ---- the points ----
  const xs = [];
  const used = [];
  const allocated = [];
  const urls = [];
  let since = 0;
  let requests = 0;
  let chart = null;
  let status = null;

  function add(points) {
    for (const p of points) {
      requests += p.requests;
      xs.push(requests);
      used.push(p.used_size);
      allocated.push(p.total_size);
      urls.push(p.request ? p.request.method + ' ' + p.request.url : '');
      since = p.index;
    }
  }

  function draw() {
    const el = $('chart-heap-points');
    if (!el || xs.length === 0 || typeof uPlot === 'undefined') return;
    const data = [xs, used, allocated];
    if (chart) {
      chart.setData(data);
      return;
    }
    chart = new uPlot(
      {
        width: Math.max(320, Math.floor(el.clientWidth || 640)),
        height: 160,
        scales: { x: { time: false }, y: { auto: true } },
        series: [
          {
            label: 'request',
            value: (u, v, si, idx) => (v == null || idx == null ? '—' : v + ' req · ' + urls[idx]),
          },
          { label: 'heap used (per request, no pause)', stroke: '#2a7ab0', width: 1.5, value: (u, v) => formatBytes(v) },
          { label: 'heap allocated', stroke: '#9aa5b1', width: 1, dash: [4, 4], value: (u, v) => formatBytes(v) },
        ],
        axes: [
          { label: 'traced requests (cumulative)' },
          { label: 'heap', size: 72, values: (u, splits) => splits.map(formatBytes) },
        ],
        legend: { live: true },
      },
      data,
      el,
    );
  }

  function renderNext() {
    const pill = $('st-next');
    if (!pill || !status) return;
    pill.textContent = nextSnapshotText(status, Date.now());
    if (status.snapshot.warning) pill.setAttribute('title', status.snapshot.warning);
    else if (status.snapshot.skipped) pill.setAttribute('title', status.snapshot.skipped.message);
  }

  async function poll() {
    try {
      const [points, st] = await Promise.all([
        fetch(base + '/api/heap-points?since=' + since, { headers: { Accept: 'application/json' } }).then((r) => (r.ok ? r.json() : [])),
        fetch(base + '/api/status', { headers: { Accept: 'application/json' } }).then((r) => (r.ok ? r.json() : null)),
      ]);
      if (Array.isArray(points) && points.length > 0) {
        add(points);
        draw();
      }
      if (st) status = st;
      renderNext();
    } catch {
      // The profiler is restarting or gone: overview.js says so; try again later.
    }
  }

  function tick() {
    if (document.visibilityState !== 'hidden') void poll();
  }

  void poll();
  setInterval(tick, POLL_MS);
  // Counts down between polls.
  setInterval(renderNext, 1000);
  window.addEventListener('resize', () => {
    const el = $('chart-heap-points');
    if (chart && el) chart.setSize({ width: Math.max(320, Math.floor(el.clientWidth || 640)), height: 160 });
  });
})();
