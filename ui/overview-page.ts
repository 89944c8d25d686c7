import type { HeapRecord } from '../contract/record.js';
import type { ProfilerStatus } from '../contract/app-deps.js';
import { html, layout, type Html } from './html.js';
import { CLIENT_MODULES } from './static.js';
import {
  inspectorHint,
  inspectorText,
  nextSnapshotText,
  recordsText,
  rootIsTraced,
  snapshotText,
} from './status-view.js';
import { setupWarnings, suspectsEmptyText } from './warnings-view.js';

/**
 * The overview at {base}: status strip, the "no inspector" and "no records yet" notices,
 * two chart containers and the suspects table. The server renders the status so the page
 * is useful at once; ui/client/overview.ts (compiled) fetches the records and suspects, draws the
 * charts with uPlot and keeps everything live from the event stream.
 */
export function overviewPage(base: string, status: ProfilerStatus, latest: HeapRecord | undefined): Html {
  const connected = status.inspector.state === 'connected';
  const hasRecords = status.records > 0 || latest !== undefined;
  const body = html`<header class="top">
  <h1><a href="${base}">apptrace</a></h1>
  <div id="status" class="status-strip" role="status">
    <span id="st-inspector" class="pill state-${status.inspector.state}">${inspectorText(status)}</span>
    <span id="st-snapshot" class="pill${status.snapshot.running ? ' busy' : ''}">${snapshotText(status)}</span>
    <span id="st-next" class="pill" title="${status.snapshot.warning ?? 'snapshots pause the target; they are spaced to keep within --max-pause-share'}">${nextSnapshotText(status)}</span>
    <span id="st-records" class="pill">${recordsText(status)}</span>
    <span id="st-live" class="pill" title="the event stream from the profiler">connecting…</span>
    <span id="st-latest" class="pill latest">${latest ? latestText(latest) : ''}</span>
    <span id="st-error" class="pill error"${status.lastError ? '' : html` hidden`}>${
      status.lastError ? `last error: ${status.lastError.message}` : ''
    }</span>
    <button id="snapshot-now" type="button" title="POST ${base}/api/snapshot">Snapshot now</button>
    <a id="download-csv" class="pill" href="${base}/api/records.csv" download title="every record × object, for a spreadsheet. It holds your app's request URLs and names from its heap: share it like a secret.">records.csv</a>
    <button id="clear-records" type="button" title="delete every record from ${status.db} (asks first)"${status.records > 0 ? '' : html` disabled`}>Clear records</button>
  </div>
</header>
<section id="no-inspector" class="notice warn"${connected ? html` hidden` : ''}>
  <h2>Not connected to the target's inspector</h2>
  <p>The profiler takes heap snapshots through the target's V8 inspector at
    <code id="ni-address">${status.inspector.address}</code>
    (now: <span id="ni-state">${status.inspector.state}</span>).</p>
  <p id="ni-hint" class="hint">${inspectorHint(status)}</p>
</section>
${setupWarnings(status)}
<section id="empty" class="notice"${hasRecords ? html` hidden` : ''}>
  <h2>No records yet</h2>
  <p>apptrace records a heap snapshot after requests through the proxy (as often as its pause budget allows) that match:</p>
  <ul id="empty-patterns">${
    status.urlPatterns.length > 0
      ? status.urlPatterns.map((source) => html`<li><code>${source}</code></li>`)
      : html`<li>documents and API calls: not static files, source maps, HMR nor dev-server internals, nor <code>${base}</code>… (no <code>--url-pattern</code> given)</li>`
  }</ul>
  ${
    rootIsTraced(status)
      ? html`<p>To make one, open <a id="empty-example" href="/">/</a> of your app through the proxy
    (the address of this page without <code>${base}</code>), then come back: records appear here live.</p>`
      : html`<p>To make one, request a URL of your app that matches a pattern above through the proxy
    (the address of this page without <code>${base}</code>); records appear here live.</p>`
  }
  <p>Traced modules: ${status.traceModules.map((m, i) => html`${i > 0 ? ', ' : ''}<code>${m}</code>`)}.
    Store: <code>${status.db}</code>.</p>
</section>
<main class="overview-grid">
  <div class="charts">
    <nav id="sessions" class="sessions" aria-label="target sessions" hidden></nav>
    <figure class="chart">
      <figcaption>Dominated size by object <small>(retained bytes of each top-level binding, per record)</small>
        <button id="toggle-flat" type="button" class="link-button" hidden></button></figcaption>
      <div id="chart-entries" class="chart-box"></div>
    </figure>
    <figure class="chart">
      <figcaption>Heap <small>(snapshot total and the sum per traced module)</small></figcaption>
      <div id="chart-heap" class="chart-box"></div>
      <div id="chart-heap-points" class="chart-box" title="V8's used heap after each traced request (Runtime.getHeapUsage: no snapshot, no pause)"></div>
    </figure>
  </div>
  <aside class="suspects">
    <h2>Suspects <small>ranked by growth per request</small></h2>
    <table id="suspects">
      <thead><tr><th>name · module</th><th class="num">first</th><th class="num">last</th>
        <th class="num">growth</th><th>trend</th><th>verdict</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="suspects-empty" class="muted">${suspectsEmptyText(status)}</p>
    <section id="kept" hidden>
      <h2>Kept snapshots <small>open in Chrome DevTools › Memory › Load</small></h2>
      <p id="kept-secret" class="notice warn">A snapshot is your app's whole heap: its session tokens, passwords and keys too. Keep these files (and records.csv, which holds request URLs) as secrets; do not attach them to public issues.</p>
      <ul id="kept-list" class="kept-list"></ul>
    </section>
  </aside>
</main>`;
  return layout({
    title: 'apptrace',
    base,
    bodyClass: 'page-overview',
    styles: ['uplot.css'],
    scripts: ['uplot.js'],
    modules: [CLIENT_MODULES.overview, CLIENT_MODULES.heapPoints],
    // The records are most of the page's bytes: start fetching them with the scripts.
    preload: [`${base}/api/records?since=0`],
    body,
  });
}

/** "#12 GET /path → 200", "#1 baseline (…)" or "#12 manual snapshot" (overview.ts says the same for live records). */
export function latestText(record: HeapRecord): string {
  const request = record.request;
  if (request) return `#${record.index} ${request.method} ${request.url} → ${request.status}`;
  return record.baseline
    ? `#${record.index} baseline (first snapshot after attaching)`
    : `#${record.index} manual snapshot`;
}
