// apptrace overview: draws the two charts with uPlot, fills the suspects table and keeps
// both live from the server-sent events. Compiled by ui/client/tsconfig.json; formatting,
// trend lines, status words and the chart series' grouping come from the same modules the
// server pages use. Every string from the heap or a URL reaches the page through
// textContent or setAttribute, never innerHTML.
/// <reference types="uplot" />

import type { HeapRecord, Suspect } from '../../contract/record.js';
import type { ProfilerStatus } from '../../contract/app-deps.js';
import { groupSmallFlat, sessionRuns, type ChartSeries, type SessionRun } from '../chart-series.js';
import { formatBytes, growthText, growthTitle } from '../format.js';
import { growthPathText } from '../growth-text.js';
import { sparklinePoints } from '../sparkline.js';
import { inspectorHint, inspectorText, snapshotText, suspectsEmptyText } from '../status-view.js';

const base = document.body.dataset.base || '/_ah/apptrace';

/** An element the server page always renders. */
function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`apptrace: the page has no #${id}`);
  return el;
}

function color(i: number): string {
  // Golden-angle hues keep neighbouring series apart however many there are.
  return `hsl(${((i * 137.508) % 360).toFixed(1)}, 65%, 42%)`;
}

// ---- the data, as column arrays uPlot can take as they are ----
// Every array has one item per record (null where the record does not hold that object).
interface EntrySeries extends ChartSeries {
  key: string;
}

const data = {
  lastIndex: 0,
  xs: [] as number[],
  sessions: [] as (string | undefined)[],
  cumulative: [] as number[], // cumulative matching requests at each record
  latest: [] as string[], // "GET /url → 200" of each record, for the hover legend
  entries: new Map<string, EntrySeries>(),
  modules: new Map<string, (number | null)[]>(), // module -> sum of its entries' dominated sizes
  total: [] as (number | null)[],
  requests: 0,
};

/**
 * A download link for a record whose raw snapshot the profiler kept (--keep-snapshots);
 * newest first. Older ones may have been deleted since (only the newest N are kept):
 * reloading the page shows the current list, a stale link answers 404 saying so.
 */
function keptSnapshot(record: HeapRecord): void {
  const list = document.getElementById('kept-list');
  if (!list) return;
  const item = document.createElement('li');
  const link = document.createElement('a');
  link.href = `${base}/api/records/${record.index}/snapshot`;
  link.setAttribute('download', `apptrace-${record.index}.heapsnapshot`);
  link.textContent = `#${record.index}.heapsnapshot`;
  item.appendChild(link);
  item.appendChild(document.createTextNode(` ${requestText(record)}`));
  list.insertBefore(item, list.firstChild);
  $('kept').hidden = false;
}

/** Appends records (oldest first); returns true when a new series or session appeared. */
function append(records: readonly HeapRecord[]): boolean {
  let grew = false;
  for (const record of records) {
    if (record.index <= data.lastIndex) continue;
    const pos = data.xs.length;
    data.lastIndex = record.index;
    if (record.snapshot) keptSnapshot(record);
    if (pos > 0 && data.sessions[pos - 1] !== record.session) grew = true;
    data.requests += record.requests || 0;
    data.xs.push(record.index);
    data.sessions.push(record.session);
    data.cumulative.push(data.requests);
    data.latest.push(requestText(record));
    data.total.push(record.heap ? record.heap.total_size : null);
    for (const series of data.entries.values()) series.values.push(null);
    for (const values of data.modules.values()) values.push(null);
    for (const entry of record.entries || []) {
      const key = `${entry.module_name}\u0000${entry.name}`;
      let series = data.entries.get(key);
      if (!series) {
        series = {
          key,
          label: `${entry.module_name} · ${entry.name}`,
          values: new Array<number | null>(pos + 1).fill(null),
        };
        data.entries.set(key, series);
        grew = true;
      }
      series.values[pos] = entry.dominated_size;
      let mod = data.modules.get(entry.module_name);
      if (!mod) {
        mod = new Array<number | null>(pos + 1).fill(null);
        data.modules.set(entry.module_name, mod);
        grew = true;
      }
      mod[pos] = (mod[pos] ?? 0) + entry.dominated_size;
    }
  }
  return grew;
}

function requestText(record: HeapRecord): string {
  const r = record.request;
  if (r) return `${r.method} ${r.url} → ${r.status}`;
  return record.baseline ? 'baseline (first snapshot after attaching)' : 'manual snapshot';
}

// ---- sessions: a target restart starts a new one; the charts show one at a time ----
/** 'current' follows the newest session; a number pins that session; 'all' shows every record. */
let view: 'current' | 'all' | number = 'current';

/** The runs of the records and the positions [start, end] the charts show. */
function visible(): { runs: SessionRun[]; start: number; end: number } {
  const runs = sessionRuns(data.xs.map((index, i) => ({ index, session: data.sessions[i] })));
  const last = runs[runs.length - 1];
  if (!last || view === 'all') return { runs, start: 0, end: data.xs.length - 1 };
  const run = view === 'current' ? last : (runs.find((r) => r.number === view) ?? last);
  // The current session grows with new records: show up to the newest.
  return { runs, start: run.start, end: run === last ? data.xs.length - 1 : run.end };
}

/** The session buttons above the charts (only once there are two sessions). */
function renderSessions(runs: readonly SessionRun[]): void {
  const nav = $('sessions');
  nav.hidden = runs.length < 2;
  if (runs.length < 2) {
    nav.replaceChildren();
    return;
  }
  const items: Node[] = [document.createTextNode('Target sessions (restarts): ')];
  const current = runs[runs.length - 1]!;
  const button = (text: string, title: string, pressed: boolean, choose: () => void, session: string) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = title;
    b.dataset.session = session;
    b.setAttribute('aria-pressed', String(pressed));
    b.addEventListener('click', () => {
      choose();
      draw(true);
    });
    items.push(b);
  };
  for (const run of runs) {
    const isCurrent = run === current;
    const records = run.end - run.start + 1;
    button(
      `${run.number}${isCurrent ? ' (current)' : ''} · #${run.firstIndex}–#${run.lastIndex}`,
      `${records} record${records === 1 ? '' : 's'} of session ${run.number}`,
      isCurrent ? view === 'current' || view === run.number : view === run.number,
      () => {
        view = isCurrent ? 'current' : run.number;
      },
      String(run.number),
    );
  }
  button(
    'all',
    'every session, earlier ones dimmed',
    view === 'all',
    () => {
      view = 'all';
    },
    'all',
  );
  nav.replaceChildren(...items);
}

// ---- charts ----
const hidden = new Set<string>(); // labels the user switched off in a legend, kept across rebuilds
const charts: { entries: uPlot | null; heap: uPlot | null } = { entries: null, heap: null };
/** Draw small flat series one by one instead of as their sum. */
let ungrouped = false;

function chartWidth(el: HTMLElement): number {
  return Math.max(320, Math.floor(el.clientWidth || 640));
}

interface DrawnSeries {
  label: string;
  values: (number | null)[];
  scale?: string;
  width?: number;
  dash?: number[];
}

const POINTS_UP_TO = 60;

function bytesAxis(label: string, extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return { label, size: 72, values: (_u, splits) => splits.map((v) => formatBytes(v)), ...extra };
}

/** The view's positions of the records: [first, last] inclusive, as set by draw(). */
let shown = { start: 0, end: -1 };

/**
 * Dims the records of earlier sessions and draws a dashed line where each later one
 * begins (view 'all'); also places a labelled marker element at each boundary.
 */
function sessionHook(u: uPlot): void {
  const runs = sessionRuns(data.xs.map((index, i) => ({ index, session: data.sessions[i] })));
  for (const old of u.over.querySelectorAll('.session-sep')) old.remove();
  if (view !== 'all' || runs.length < 2) return;
  const ctx = u.ctx;
  const { left, top, width, height } = u.bbox;
  const last = runs[runs.length - 1]!;
  ctx.save();
  for (const run of runs) {
    const x0 = u.valToPos(run.firstIndex - 0.5, 'x', true);
    const x1 = u.valToPos(run.lastIndex + 0.5, 'x', true);
    if (run !== last) {
      ctx.fillStyle = 'rgba(255, 255, 255, 0.6)';
      const from = Math.max(left, x0);
      ctx.fillRect(from, top, Math.min(left + width, x1) - from, height);
    }
    if (run.number > 1) {
      ctx.strokeStyle = '#6a7380';
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(x0, top);
      ctx.lineTo(x0, top + height);
      ctx.stroke();
      const marker = document.createElement('div');
      marker.className = 'session-sep';
      marker.dataset.index = String(run.firstIndex);
      marker.style.left = `${u.valToPos(run.firstIndex - 0.5, 'x')}px`;
      marker.textContent = `restart · session ${run.number}`;
      marker.title = `the target restarted: session ${run.number} begins at record #${run.firstIndex}`;
      u.over.appendChild(marker);
    }
  }
  ctx.restore();
}

/**
 * uPlot options for one chart. `series` items may carry a `scale`; `yAxes` are the y axes
 * (the x axis is the record number).
 */
function chartOptions(
  el: HTMLElement,
  series: readonly DrawnSeries[],
  height: number,
  yAxes: uPlot.Axis[],
): uPlot.Options {
  const scales: uPlot.Scales = { x: { time: false } };
  // Sizes start at zero, so a line's height compares with the others'; the heap total
  // ranges over its data instead, or its changes would not show.
  for (const axis of yAxes) {
    const key = axis.scale ?? 'y';
    scales[key] =
      key === 'total' ? { auto: true } : { auto: true, range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] };
  }
  const count = shown.end - shown.start + 1;
  return {
    width: chartWidth(el),
    height,
    scales,
    series: [
      {
        label: 'record',
        value: (_u, v, _si, idx) =>
          v === null || idx === null || (positions[idx] ?? -1) < 0
            ? '—'
            : `#${v} · ${data.cumulative[positions[idx]!]} req · ${data.latest[positions[idx]!]}`,
      },
      ...series.map(
        (s, i): uPlot.Series => ({
          label: s.label,
          scale: s.scale ?? 'y',
          stroke: color(i),
          width: s.width ?? 1.5,
          ...(s.dash ? { dash: s.dash } : {}),
          show: !hidden.has(s.label),
          value: (_u, v) => formatBytes(v),
          points: { show: count <= POINTS_UP_TO },
        }),
      ),
    ],
    axes: [
      {
        label: 'record # (one snapshot after each traced request)',
        values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')),
      },
      ...yAxes,
    ],
    cursor: { points: { size: 6 } },
    legend: { live: true },
    hooks: {
      draw: [sessionHook],
      setSeries: [
        (u, si) => {
          if (si === null || si === 0) return;
          const s = u.series[si];
          if (!s || typeof s.label !== 'string') return;
          if (s.show) hidden.delete(s.label);
          else hidden.add(s.label);
        },
      ],
    },
  };
}

function lastOf(values: readonly (number | null)[]): number {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined) return v;
  }
  return 0;
}

/**
 * The entry series of the records shown, largest (latest value) first, so the legend
 * starts with what matters; small flat ones as one group unless the user asked otherwise.
 */
function entrySeries(): DrawnSeries[] {
  const list: ChartSeries[] = [];
  for (const s of data.entries.values()) {
    const values = pick(s.values);
    if (values.some((v) => v !== null)) list.push({ label: s.label, values });
  }
  list.sort((a, b) => lastOf(b.values) - lastOf(a.values));
  const grouped = groupSmallFlat(list);
  const toggle = $('toggle-flat') as HTMLButtonElement;
  toggle.hidden = grouped.group === null;
  toggle.textContent = ungrouped
    ? 'group small flat objects'
    : `show the ${grouped.members.length} small flat objects one by one`;
  toggle.title = grouped.members.join('\n');
  if (ungrouped || !grouped.group) return list;
  return [...grouped.shown, { ...grouped.group, dash: [6, 3] }];
}

function heapSeries(): DrawnSeries[] {
  // The total is megabytes, the traced modules often kilobytes: two scales, or the
  // modules' lines would lie flat on the axis.
  const modules: ChartSeries[] = [];
  for (const [module, values] of data.modules) modules.push({ label: `module ${module}`, values: pick(values) });
  const grouped = groupSmallFlat(modules, { noun: 'modules' });
  const shownModules = ungrouped || !grouped.group ? modules : [...grouped.shown, { ...grouped.group, dash: [6, 3] }];
  return [
    { label: 'heap total', values: pick(data.total), scale: 'total', width: 2 },
    ...shownModules.map((m) => ({ ...m, scale: 'y' })),
  ];
}

/**
 * The record positions the charts show, oldest first, with -1 between two sessions: a
 * gap there (null in every series), so no line joins the old session to the new one.
 */
let positions: number[] = [];

function viewPositions(start: number, end: number): number[] {
  const out: number[] = [];
  for (let p = start; p <= end; p++) {
    if (p > start && data.sessions[p] !== data.sessions[p - 1]) out.push(-1);
    out.push(p);
  }
  return out;
}

/** A per-record array's values at the positions shown (null in the gaps). */
function pick(values: readonly (number | null)[]): (number | null)[] {
  return positions.map((p) => (p < 0 ? null : (values[p] ?? null)));
}

function columns(series: readonly DrawnSeries[]): uPlot.AlignedData {
  // A gap sits halfway between the last record of one session and the first of the next.
  const xs = positions.map((p, i) =>
    p >= 0 ? data.xs[p]! : (data.xs[positions[i - 1]!]! + data.xs[positions[i + 1]!]!) / 2,
  );
  return [xs, ...series.map((s) => s.values)];
}

function draw(rebuild: boolean): void {
  if (data.xs.length === 0) return;
  const entriesEl = $('chart-entries');
  const heapEl = $('chart-heap');
  const { runs, start, end } = visible();
  const before = shown;
  shown = { start, end };
  positions = viewPositions(start, end);
  renderSessions(runs);
  // A new record only extends the view when the view ends at the newest record and shows
  // the same series: otherwise rebuild (points are drawn on short series only, too).
  const count = end - start + 1;
  if (before.start !== start || count === POINTS_UP_TO + 1) rebuild = true;
  const ds = document.body.dataset;
  ds.viewFirst = String(data.xs[start]);
  ds.viewLast = String(data.xs[end]);
  ds.sessions = String(runs.length);
  if (rebuild || !charts.entries || !charts.heap) {
    charts.entries?.destroy();
    charts.heap?.destroy();
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
    // Same series, one more record: refresh the values (and the group's sum) in place.
    const fresh = entrySeries();
    if (fresh.length !== entryOrder.length || fresh.some((s, i) => s.label !== entryOrder[i]!.label)) {
      draw(true);
      return;
    }
    entryOrder = fresh;
    heapOrder = heapSeries();
    charts.entries.setData(columns(entryOrder));
    charts.heap.setData(columns(heapOrder));
  }
}

let entryOrder: DrawnSeries[] = [];
let heapOrder: DrawnSeries[] = [];

if (typeof ResizeObserver === 'function') {
  let pending = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      for (const [chart, el] of [
        [charts.entries, $('chart-entries')],
        [charts.heap, $('chart-heap')],
      ] as const) {
        if (chart) chart.setSize({ width: chartWidth(el), height: chart.height });
      }
    });
  }).observe($('chart-entries'));
}

$('toggle-flat').addEventListener('click', () => {
  ungrouped = !ungrouped;
  draw(true);
});

// ---- suspects table ----
const SVG = 'http://www.w3.org/2000/svg';

/** A trend line (the same points as the server pages' sparklineSvg). */
function sparkline(history: readonly number[], width: number, height: number): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const points = sparklinePoints(history, width, height);
  if (points === '') return svg;
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', 'currentColor');
  line.setAttribute('stroke-width', '1.5');
  line.setAttribute('points', points);
  svg.appendChild(line);
  return svg;
}

function cell(row: HTMLTableRowElement, text: string | null, cls?: string): HTMLTableCellElement {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  if (text !== null) td.textContent = text;
  row.appendChild(td);
  return td;
}

function codeHref(s: Suspect, line?: number): string {
  const params = new URLSearchParams({ module: s.module_name, name: s.name });
  const at = line ?? (s.lineno > 0 ? s.lineno : undefined);
  return `${base}/code?${params.toString()}${at === undefined ? '' : `#L${at}`}`;
}

function renderSuspects(suspects: readonly Suspect[]): void {
  const tbody = ($('suspects') as HTMLTableElement).tBodies[0]!;
  const rows = document.createDocumentFragment();
  for (const s of suspects) {
    const tr = document.createElement('tr');
    tr.className = `verdict-${s.verdict}`;
    const nameCell = cell(tr, null, 'name');
    const a = document.createElement('a');
    a.href = codeHref(s);
    a.textContent = s.name;
    a.title = `${s.obj_type} defined at ${s.filename}:${s.lineno}`;
    nameCell.appendChild(a);
    const mod = document.createElement('div');
    mod.className = 'module';
    mod.textContent = s.module_name;
    nameCell.appendChild(mod);
    // Where it grows (analyses/growth-compare.ts) and the lines that add to it.
    const pathText = growthPathText(s.growth_path);
    if (pathText && s.growth_path) {
      const growth = document.createElement('div');
      growth.className = 'growth-path';
      growth.textContent = pathText;
      growth.title = s.growth_path.steps.map((step) => `${step.edge || s.name} → ${step.name || step.type}`).join('\n');
      nameCell.appendChild(growth);
    }
    const lines = (s.marked_lines ?? []).filter((m) => !m.module_name || m.module_name === s.module_name);
    if (lines.length > 0) {
      const marks = document.createElement('div');
      marks.className = 'marked-lines';
      marks.appendChild(document.createTextNode(lines.length === 1 ? 'line ' : 'lines '));
      lines.slice(0, 4).forEach((m, i) => {
        if (i > 0) marks.appendChild(document.createTextNode(', '));
        const link = document.createElement('a');
        link.href = codeHref(s, m.line);
        link.textContent = String(m.line);
        link.title = m.reason + (m.kind === 'reference' ? ' (found in the source)' : ' (allocation site)');
        marks.appendChild(link);
      });
      if (lines.length > 4) marks.appendChild(document.createTextNode(' …'));
      nameCell.appendChild(marks);
    }
    cell(tr, formatBytes(s.first_size), 'num');
    cell(tr, formatBytes(s.last_size), 'num');
    cell(tr, growthText(s.verdict, s.growth_per_request), 'num rate').title = growthTitle(s.verdict);
    cell(tr, null, 'trend').appendChild(
      sparkline(
        s.history.map((h) => h.size),
        72,
        22,
      ),
    );
    const verdict = cell(tr, null, 'verdict');
    const badge = document.createElement('span');
    badge.className = `badge ${s.verdict}`;
    badge.textContent = s.verdict;
    verdict.appendChild(badge);
    rows.appendChild(tr);
  }
  tbody.replaceChildren(rows);
  $('suspects-empty').hidden = suspects.length > 0;
}

// ---- status strip and notices (the words of ui/status-view.ts) ----
let lastStatus: ProfilerStatus | null = null;
function renderStatus(status: ProfilerStatus): void {
  // A new, smaller store (records cleared, or the profiler restarted on another --db): start over.
  if (status.lastIndex < data.lastIndex) {
    location.reload();
    return;
  }
  lastStatus = status;
  const inspector = $('st-inspector');
  inspector.textContent = inspectorText(status);
  inspector.className = `pill state-${status.inspector.state}`;
  $('st-snapshot').textContent = snapshotText(status);
  $('st-snapshot').classList.toggle('busy', status.snapshot.running);
  renderCounts(Math.max(status.records, data.xs.length), Math.max(status.lastIndex, data.lastIndex));
  const error = $('st-error');
  error.hidden = !status.lastError;
  error.textContent = status.lastError ? `last error: ${status.lastError.message}` : '';
  if (status.lastError) error.title = status.lastError.at;
  const connected = status.inspector.state === 'connected';
  $('no-inspector').hidden = connected;
  $('ni-address').textContent = status.inspector.address;
  $('ni-state').textContent = status.inspector.state;
  $('ni-hint').textContent = inspectorHint(status);
  renderWarnings(status);
}

/** The setup warnings (ui/warnings-view.ts renders the same into the page) and the empty table's words. */
function renderWarnings(status: ProfilerStatus): void {
  const warnings = status.warnings ?? [];
  $('warnings-list').replaceChildren(
    ...warnings.map((w) => {
      const li = document.createElement('li');
      li.dataset.code = w.code;
      li.textContent = w.message;
      return li;
    }),
  );
  $('warnings').hidden = warnings.length === 0;
  $('suspects-empty').textContent = suspectsEmptyText(status);
}

function renderCounts(count: number, lastIndex: number): void {
  $('st-records').textContent =
    `${count} record${count === 1 ? '' : 's'}${lastIndex > 0 ? ` · latest #${lastIndex}` : ''}`;
  ($('clear-records') as HTMLButtonElement).disabled = count === 0;
}

function renderLatest(): void {
  const n = data.xs.length;
  if (n === 0) return;
  $('st-latest').textContent = `#${data.xs[n - 1]} ${data.latest[n - 1]}`;
  $('empty').hidden = true;
  const status = lastStatus;
  renderCounts(Math.max(status ? status.records : 0, n), Math.max(status ? status.lastIndex : 0, data.lastIndex));
}

// ---- fetching ----
async function getJSON<T>(path: string): Promise<T> {
  const res = await fetch(base + path, { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** A state-changing request: always a JSON body (the API refuses anything else from a page). */
function postJSON(path: string, body: unknown): Promise<Response> {
  return fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
}

// The trend column draws at most this many points: the rest of a long history is not sent.
const SUSPECT_HISTORY = 60;
let suspectsTimer = 0;
function refreshSuspects(): void {
  clearTimeout(suspectsTimer);
  // Records can arrive in bursts; one suspects request per burst is enough.
  suspectsTimer = window.setTimeout(() => {
    getJSON<Suspect[]>(`/api/suspects?history=${SUSPECT_HISTORY}`).then(renderSuspects, report);
  }, 50);
}

let catchingUp: Promise<void> | null = null;
function catchUp(): Promise<void> {
  // One request at a time; a record that arrives meanwhile is picked up by the next one.
  if (catchingUp) return catchingUp.then(() => catchUpNow());
  return catchUpNow();
}
function catchUpNow(): Promise<void> {
  const request: Promise<void> = getJSON<HeapRecord[]>(`/api/records?since=${data.lastIndex}`)
    .then((records) => {
      if (records.length === 0) return;
      draw(append(records));
      renderLatest();
      refreshSuspects();
    }, report)
    .finally(() => {
      catchingUp = null;
    });
  catchingUp = request;
  return request;
}

function onRecord(record: HeapRecord | null): void {
  if (!catchingUp && record && record.index === data.lastIndex + 1 && Array.isArray(record.entries)) {
    draw(append([record]));
    renderLatest();
    refreshSuspects();
  } else {
    void catchUp();
  }
}

function report(error: unknown): void {
  const el = $('st-error');
  el.hidden = false;
  el.textContent = `UI: ${error instanceof Error ? error.message : String(error)}`;
}

$('snapshot-now').addEventListener('click', () => {
  const button = $('snapshot-now') as HTMLButtonElement;
  button.disabled = true;
  postJSON('/api/snapshot', {})
    .then(async (res) => {
      if (!res.ok) return report(new Error(`snapshot: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`));
      return catchUp();
    }, report)
    .finally(() => {
      button.disabled = false;
    });
});

$('clear-records').addEventListener('click', () => {
  const button = $('clear-records') as HTMLButtonElement;
  const count = Math.max(lastStatus?.records ?? 0, data.xs.length);
  const db = lastStatus?.db ?? 'the store';
  const question =
    `Delete all ${count} record${count === 1 ? '' : 's'} from ${db}?\n\n` +
    'The charts and suspects start again from the next snapshot. This cannot be undone ' +
    '(download records.csv first to keep them).';
  if (!window.confirm(question)) return;
  button.disabled = true;
  postJSON('/api/clear', { confirm: true })
    .then(async (res) => {
      if (!res.ok) return report(new Error(`clear: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`));
      // Start over from the empty store (the status event would also reload the page).
      location.reload();
      return undefined;
    }, report)
    .finally(() => {
      button.disabled = false;
    });
});

const example = document.getElementById('empty-example');
if (example) example.textContent = `${location.origin}/`;

async function start(): Promise<void> {
  const t0 = performance.now();
  const [records, status] = await Promise.all([
    getJSON<HeapRecord[]>('/api/records?since=0'),
    getJSON<ProfilerStatus>('/api/status'),
  ]);
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
  getJSON<Suspect[]>(`/api/suspects?history=${SUSPECT_HISTORY}`).then(renderSuspects, report);
  connect();
}

let everOpened = false;
function connect(): void {
  const events = new EventSource(`${base}/events`);
  const live = $('st-live');
  events.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'pill state-connected';
    // After a reconnect, fetch what was missed while the stream was down.
    if (everOpened) void catchUp();
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
    let record: HeapRecord | null = null;
    try {
      record = JSON.parse((e as MessageEvent<string>).data) as HeapRecord;
    } catch {
      record = null;
    }
    onRecord(record);
  });
  events.addEventListener('status', (e) => {
    let status: ProfilerStatus;
    try {
      status = JSON.parse((e as MessageEvent<string>).data) as ProfilerStatus;
    } catch {
      return; // a malformed status event changes nothing
    }
    renderStatus(status);
  });
}

start().catch(report);
