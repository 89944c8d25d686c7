// apptrace overview: draws the two charts with uPlot, fills the suspects table and keeps
// both live from the server-sent events. Plain browser JavaScript (not compiled).
// Every string from the heap or a URL reaches the page through textContent or
// setAttribute, never innerHTML.
'use strict';

(function overview() {
  const base = document.body.dataset.base || '/_ah/apptrace';
  const $ = (id) => document.getElementById(id);

  // ---- formatting (same rules as ui/format.ts) ----
  const UNITS = ['B', 'KB', 'MB', 'GB'];
  function formatBytes(bytes) {
    if (bytes == null || Number.isNaN(bytes)) return '—';
    const sign = bytes < 0 ? '-' : '';
    let value = Math.abs(bytes);
    let unit = 0;
    while (value >= 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit++;
    }
    const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
    return sign + value.toFixed(digits) + ' ' + UNITS[unit];
  }
  function formatGrowth(bytesPerRequest) {
    const rounded = Math.round(bytesPerRequest);
    return (rounded > 0 ? '+' : '') + formatBytes(rounded) + '/req';
  }
  function color(i) {
    // Golden-angle hues keep neighbouring series apart however many there are.
    return 'hsl(' + ((i * 137.508) % 360).toFixed(1) + ', 65%, 42%)';
  }

  // ---- the data, as column arrays uPlot can take as they are ----
  // xs[i] is the record index of the i-th record; every series has one value per record
  // (null where the record does not hold that object).
  const data = {
    lastIndex: 0,
    xs: [],
    cumulative: [], // cumulative matching requests at each record
    latest: [], // "GET /url → 200" of each record, for the hover legend
    entries: new Map(), // key -> { label, values }
    modules: new Map(), // module -> values (sum of its entries' dominated sizes)
    total: [],
    requests: 0,
  };

  /**
   * A download link for a record whose raw snapshot the profiler kept (--keep-snapshots);
   * newest first. Older ones may have been deleted since (only the newest N are kept):
   * reloading the page shows the current list, a stale link answers 404 saying so.
   */
  function keptSnapshot(record) {
    const list = $('kept-list');
    if (!list) return;
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = base + '/api/records/' + record.index + '/snapshot';
    link.setAttribute('download', 'apptrace-' + record.index + '.heapsnapshot');
    link.textContent = '#' + record.index + '.heapsnapshot';
    item.appendChild(link);
    item.appendChild(document.createTextNode(' ' + requestText(record)));
    list.insertBefore(item, list.firstChild);
    $('kept').hidden = false;
  }

  /** Appends records (oldest first); returns true when a new series appeared. */
  function append(records) {
    let grew = false;
    for (const record of records) {
      if (record.index <= data.lastIndex) continue;
      const pos = data.xs.length;
      data.lastIndex = record.index;
      if (record.snapshot) keptSnapshot(record);
      data.requests += record.requests || 0;
      data.xs.push(record.index);
      data.cumulative.push(data.requests);
      data.latest.push(requestText(record));
      data.total.push(record.heap ? record.heap.total_size : null);
      for (const series of data.entries.values()) series.values.push(null);
      for (const values of data.modules.values()) values.push(null);
      for (const entry of record.entries || []) {
        const key = entry.module_name + '\u0000' + entry.name;
        let series = data.entries.get(key);
        if (!series) {
          series = { label: entry.module_name + ' · ' + entry.name, values: new Array(pos + 1).fill(null) };
          data.entries.set(key, series);
          grew = true;
        }
        series.values[pos] = entry.dominated_size;
        let mod = data.modules.get(entry.module_name);
        if (!mod) {
          mod = new Array(pos + 1).fill(null);
          data.modules.set(entry.module_name, mod);
          grew = true;
        }
        mod[pos] = (mod[pos] || 0) + entry.dominated_size;
      }
    }
    return grew;
  }

  function requestText(record) {
    const r = record.request;
    if (r) return r.method + ' ' + r.url + ' → ' + r.status;
    return record.baseline ? 'baseline (first snapshot after attaching)' : 'manual snapshot';
  }

  // ---- charts ----
  const hidden = new Set(); // labels the user switched off in a legend, kept across rebuilds
  const charts = { entries: null, heap: null };

  function chartWidth(el) {
    return Math.max(320, Math.floor(el.clientWidth || 640));
  }

  function xSeries() {
    return {
      label: 'record',
      value: (u, v, si, idx) =>
        v == null || idx == null ? '—' : '#' + v + ' · ' + data.cumulative[idx] + ' req · ' + data.latest[idx],
    };
  }

  const POINTS_UP_TO = 60;

  const bytesAxis = (label, extra) =>
    Object.assign({ label, size: 72, values: (u, splits) => splits.map(formatBytes) }, extra || {});

  /**
   * uPlot options for one chart. `series` items may carry a `scale`; `axes` are the
   * y axes (the x axis is the record number).
   */
  function chartOptions(el, series, height, yAxes) {
    const scales = { x: { time: false } };
    // Sizes start at zero, so a line's height compares with the others'; the heap total
    // ranges over its data instead, or its changes would not show.
    for (const axis of yAxes) {
      const key = axis.scale || 'y';
      scales[key] = key === 'total' ? { auto: true } : { auto: true, range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] };
    }
    return {
      width: chartWidth(el),
      height,
      scales,
      series: [xSeries()].concat(
        series.map((s, i) => ({
          label: s.label,
          scale: s.scale || 'y',
          stroke: color(i),
          width: s.width || 1.5,
          show: !hidden.has(s.label),
          value: (u, v) => formatBytes(v),
          points: { show: data.xs.length <= POINTS_UP_TO },
        })),
      ),
      axes: [
        {
          label: 'record # (one snapshot after each traced request)',
          values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')),
        },
      ].concat(yAxes),
      cursor: { points: { size: 6 } },
      legend: { live: true },
      hooks: {
        setSeries: [
          (u, si) => {
            if (si == null || si === 0) return;
            const s = u.series[si];
            if (s.show) hidden.delete(s.label);
            else hidden.add(s.label);
          },
        ],
      },
    };
  }

  /** The entry series, largest (latest value) first, so the legend starts with what matters. */
  function entrySeries() {
    const list = Array.from(data.entries.values());
    const lastOf = (values) => {
      for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
      return 0;
    };
    list.sort((a, b) => lastOf(b.values) - lastOf(a.values));
    return list;
  }

  function heapSeries() {
    // The total is megabytes, the traced modules often kilobytes: two scales, or the
    // modules' lines would lie flat on the axis.
    const list = [{ label: 'heap total', values: data.total, scale: 'total', width: 2 }];
    for (const [module, values] of data.modules) list.push({ label: 'module ' + module, values, scale: 'y' });
    return list;
  }

  let entryOrder = [];
  let heapOrder = [];

  function draw(rebuild) {
    if (data.xs.length === 0) return;
    const entriesEl = $('chart-entries');
    const heapEl = $('chart-heap');
    // Points are drawn on short series only; rebuild once when the series grow past that.
    if (data.xs.length === POINTS_UP_TO + 1) rebuild = true;
    if (rebuild || !charts.entries) {
      if (charts.entries) charts.entries.destroy();
      if (charts.heap) charts.heap.destroy();
      entryOrder = entrySeries();
      heapOrder = heapSeries();
      charts.entries = new uPlot(
        chartOptions(entriesEl, entryOrder, 300, [bytesAxis('retained')]),
        columns(entryOrder),
        entriesEl,
      );
      charts.heap = new uPlot(
        chartOptions(heapEl, heapOrder, 220, [
          bytesAxis('heap total', { scale: 'total' }),
          bytesAxis('traced modules', { scale: 'y', side: 1, grid: { show: false } }),
        ]),
        columns(heapOrder),
        heapEl,
      );
    } else {
      charts.entries.setData(columns(entryOrder));
      charts.heap.setData(columns(heapOrder));
    }
  }

  function columns(series) {
    const out = [data.xs];
    for (const s of series) out.push(s.values);
    return out;
  }

  if (typeof ResizeObserver === 'function') {
    let pending = 0;
    new ResizeObserver(() => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        for (const [chart, el] of [
          [charts.entries, $('chart-entries')],
          [charts.heap, $('chart-heap')],
        ]) {
          if (chart) chart.setSize({ width: chartWidth(el), height: chart.height });
        }
      });
    }).observe($('chart-entries'));
  }

  // ---- suspects table ----
  const SVG = 'http://www.w3.org/2000/svg';
  // Below this, a change is V8's own noise (the suspects' flat threshold).
  const NOISE_BYTES = 1024;
  /**
   * A trend line. Long histories are thinned to at most 60 points; the vertical span is
   * at least a tenth of the largest value and at least NOISE_BYTES, so a flat line with
   * noise of a few bytes reads flat instead of as a zigzag (same rules as ui/sparkline.ts).
   */
  function sparkline(history, width, height) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    const values = thin(history, 60);
    if (values.length === 0) return svg;
    const pad = 2;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const span = Math.max(max - min, Math.abs(max) / 10, NOISE_BYTES) || 1;
    const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
    const points = values
      .map((v, i) => (pad + i * step).toFixed(1) + ',' + (height - pad - ((v - min) / span) * (height - 2 * pad)).toFixed(1))
      .join(' ');
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', 'currentColor');
    line.setAttribute('stroke-width', '1.5');
    line.setAttribute('points', points);
    svg.appendChild(line);
    return svg;
  }

  function thin(values, most) {
    if (values.length <= most) return values;
    const out = [];
    for (let i = 0; i < most; i++) out.push(values[Math.round((i * (values.length - 1)) / (most - 1))]);
    return out;
  }

  function cell(row, text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    if (text != null) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function codeHref(s) {
    const params = new URLSearchParams({ module: s.module_name, name: s.name });
    return base + '/code?' + params.toString() + (s.lineno > 0 ? '#L' + s.lineno : '');
  }

  function renderSuspects(suspects) {
    const tbody = $('suspects').tBodies[0];
    const rows = document.createDocumentFragment();
    for (const s of suspects) {
      const tr = document.createElement('tr');
      tr.className = 'verdict-' + s.verdict;
      const nameCell = cell(tr, null, 'name');
      const a = document.createElement('a');
      a.href = codeHref(s);
      a.textContent = s.name;
      a.title = s.obj_type + ' defined at ' + s.filename + ':' + s.lineno;
      nameCell.appendChild(a);
      const mod = document.createElement('div');
      mod.className = 'module';
      mod.textContent = s.module_name;
      nameCell.appendChild(mod);
      // Where it grows (profiler/growth-compare.ts) and the lines that add to it.
      if (s.growth_path) {
        const growth = document.createElement('div');
        growth.className = 'growth-path';
        growth.textContent = s.growth_path.summary;
        growth.title = s.growth_path.steps.map((step) => (step.edge || s.name) + ' → ' + (step.name || step.type)).join('\n');
        nameCell.appendChild(growth);
      }
      const lines = (s.marked_lines || []).filter((m) => !m.module_name || m.module_name === s.module_name);
      if (lines.length > 0) {
        const marks = document.createElement('div');
        marks.className = 'marked-lines';
        marks.appendChild(document.createTextNode(lines.length === 1 ? 'line ' : 'lines '));
        lines.slice(0, 4).forEach((m, i) => {
          if (i > 0) marks.appendChild(document.createTextNode(', '));
          const link = document.createElement('a');
          link.href = base + '/code?' + new URLSearchParams({ module: s.module_name, name: s.name }).toString() + '#L' + m.line;
          link.textContent = String(m.line);
          link.title = m.reason + (m.kind === 'reference' ? ' (found in the source)' : ' (allocation site)');
          marks.appendChild(link);
        });
        if (lines.length > 4) marks.appendChild(document.createTextNode(' …'));
        nameCell.appendChild(marks);
      }
      cell(tr, formatBytes(s.first_size), 'num');
      cell(tr, formatBytes(s.last_size), 'num');
      cell(tr, formatGrowth(s.growth_per_request), 'num');
      cell(tr, null, 'trend').appendChild(sparkline((s.history || []).map((h) => h.size), 72, 22));
      const verdict = cell(tr, null, 'verdict');
      const badge = document.createElement('span');
      badge.className = 'badge ' + s.verdict;
      badge.textContent = s.verdict;
      verdict.appendChild(badge);
      rows.appendChild(tr);
    }
    tbody.replaceChildren(rows);
    $('suspects-empty').hidden = suspects.length > 0;
  }

  // ---- status strip and notices (same words as ui/status-view.ts) ----
  let lastStatus = null;
  function renderStatus(status) {
    // A new, smaller store (the profiler restarted on another --db): start over.
    if (status.lastIndex < data.lastIndex) {
      location.reload();
      return;
    }
    lastStatus = status;
    const inspector = $('st-inspector');
    inspector.textContent = 'inspector ' + status.inspector.state + ' · ' + status.inspector.address;
    inspector.className = 'pill state-' + status.inspector.state;
    const snap = status.snapshot;
    let text = 'idle';
    if (snap.running) {
      text =
        snap.progress && snap.progress.total > 0
          ? 'snapshot ' + Math.min(100, Math.floor((snap.progress.done / snap.progress.total) * 100)) + '%'
          : snap.progress && snap.progress.done > 0
            ? 'snapshot: ' + formatBytes(snap.progress.done) + ' streamed'
            : 'snapshot running';
    }
    if (snap.pendingSignals > 0) text += ' · ' + snap.pendingSignals + ' pending';
    $('st-snapshot').textContent = text;
    $('st-snapshot').classList.toggle('busy', !!snap.running);
    renderCounts(Math.max(status.records, data.xs.length), Math.max(status.lastIndex, data.lastIndex));
    const error = $('st-error');
    error.hidden = !status.lastError;
    error.textContent = status.lastError ? 'last error: ' + status.lastError.message : '';
    if (status.lastError) error.title = status.lastError.at;
    const connected = status.inspector.state === 'connected';
    $('no-inspector').hidden = connected;
    $('ni-address').textContent = status.inspector.address;
    $('ni-state').textContent = status.inspector.state;
    $('ni-hint').textContent =
      status.inspector.hint ||
      'Start the target with its inspector on: node --inspect=' + status.inspector.address + ' server.js';
    renderWarnings(status.warnings || []);
  }

  // Setup warnings and the empty suspects text (same words as ui/warnings-view.ts).
  function renderWarnings(warnings) {
    $('warnings-list').replaceChildren(
      ...warnings.map((w) => {
        const li = document.createElement('li');
        li.dataset.code = w.code;
        li.textContent = w.message;
        return li;
      }),
    );
    $('warnings').hidden = warnings.length === 0;
    $('suspects-empty').textContent = warnings.some((w) => w.code === 'TRACE_MODULE_UNMATCHED')
      ? 'No suspects: --trace-module matches none of the scripts the app has loaded (see "Check the setup" above).'
      : 'Suspects appear after a few records.';
  }

  function renderCounts(count, lastIndex) {
    $('st-records').textContent =
      count + ' record' + (count === 1 ? '' : 's') + (lastIndex > 0 ? ' · latest #' + lastIndex : '');
  }

  function renderLatest() {
    const n = data.xs.length;
    if (n === 0) return;
    $('st-latest').textContent = '#' + data.xs[n - 1] + ' ' + data.latest[n - 1];
    $('empty').hidden = true;
    const status = lastStatus;
    renderCounts(Math.max(status ? status.records : 0, n), Math.max(status ? status.lastIndex : 0, data.lastIndex));
  }

  // ---- fetching ----
  async function getJSON(path) {
    const res = await fetch(base + path, { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
    return res.json();
  }

  // The trend column draws at most this many points: the rest of a long history is not sent.
  const SUSPECT_HISTORY = 60;
  let suspectsTimer = 0;
  function refreshSuspects() {
    clearTimeout(suspectsTimer);
    // Records can arrive in bursts; one suspects request per burst is enough.
    suspectsTimer = setTimeout(() => {
      getJSON('/api/suspects?history=' + SUSPECT_HISTORY).then(renderSuspects, report);
    }, 50);
  }

  let catchingUp = null;
  function catchUp() {
    // One request at a time; a record that arrives meanwhile is picked up by the next one.
    if (catchingUp) return catchingUp.then(() => catchUpNow());
    return catchUpNow();
  }
  function catchUpNow() {
    catchingUp = getJSON('/api/records?since=' + data.lastIndex)
      .then((records) => {
        if (records.length === 0) return;
        draw(append(records));
        renderLatest();
        refreshSuspects();
      }, report)
      .finally(() => {
        catchingUp = null;
      });
    return catchingUp;
  }

  function onRecord(record) {
    if (!catchingUp && record && record.index === data.lastIndex + 1 && Array.isArray(record.entries)) {
      draw(append([record]));
      renderLatest();
      refreshSuspects();
    } else {
      catchUp();
    }
  }

  function report(error) {
    const el = $('st-error');
    el.hidden = false;
    el.textContent = 'UI: ' + (error && error.message ? error.message : String(error));
  }

  $('snapshot-now').addEventListener('click', () => {
    const button = $('snapshot-now');
    button.disabled = true;
    fetch(base + '/api/snapshot', { method: 'POST' })
      .then((res) => {
        if (!res.ok) return res.text().then((t) => report(new Error('snapshot: HTTP ' + res.status + ' ' + t.slice(0, 200))));
        return catchUp();
      }, report)
      .finally(() => {
        button.disabled = false;
      });
  });

  const example = $('empty-example');
  if (example) example.textContent = location.origin + '/';

  async function start() {
    const t0 = performance.now();
    const [records, status] = await Promise.all([getJSON('/api/records?since=0'), getJSON('/api/status')]);
    const t1 = performance.now();
    renderStatus(status);
    append(records);
    draw(true);
    renderLatest();
    const t2 = performance.now();
    // Load figures for the scale test and the curious: since navigation start, fetching
    // and parsing the records, building the series and drawing.
    const ds = document.body.dataset;
    ds.loadMs = String(Math.round(t2));
    ds.fetchMs = String(Math.round(t1 - t0));
    ds.drawMs = String(Math.round(t2 - t1));
    ds.records = String(data.xs.length);
    getJSON('/api/suspects?history=' + SUSPECT_HISTORY).then(renderSuspects, report);
    connect();
  }

  let everOpened = false;
  function connect() {
    const events = new EventSource(base + '/events');
    const live = $('st-live');
    events.addEventListener('open', () => {
      live.textContent = 'live';
      live.className = 'pill state-connected';
      // After a reconnect, fetch what was missed while the stream was down.
      if (everOpened) catchUp();
      everOpened = true;
    });
    events.addEventListener('error', () => {
      live.textContent = 'reconnecting…';
      live.className = 'pill state-disconnected';
      // EventSource retries a dropped stream by itself, but gives up after an HTTP error
      // (the proxy's 502 while the profiler restarts): then retry here.
      if (events.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    });
    events.addEventListener('record', (e) => {
      let record = null;
      try {
        record = JSON.parse(e.data);
      } catch (_) {
        record = null;
      }
      onRecord(record);
    });
    events.addEventListener('status', (e) => {
      try {
        renderStatus(JSON.parse(e.data));
      } catch (_) {
        /* a malformed status event changes nothing */
      }
    });
  }

  start().catch(report);
})();
