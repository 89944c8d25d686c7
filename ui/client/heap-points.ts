// apptrace overview, the pause budget's part: the heap after every traced request
// (GET {base}/api/heap-points: Runtime.getHeapUsage, no snapshot, no pause) drawn under
// the heap chart, and the "next snapshot in 12 s, ~3 s pause" pill of the status strip.
// Compiled with overview.ts by ui/client/tsconfig.json; the words and byte figures come
// from the same modules as the server's (status-view.ts, format.ts). Strings reach the
// page through textContent and setAttribute only.
import type { ProfilerStatus } from '../../contract/app-deps.js';
import { formatBytes } from '../format.js';
import { nextSnapshotText } from '../status-view.js';

/** The fields of a heap point (profiler/heap-points.ts HeapPoint) that the chart draws. */
interface HeapPointView {
  index: number;
  requests: number;
  request: { method: string; url: string } | null;
  used_size: number;
  total_size: number;
}

const base = document.body.dataset.base || '/_ah/apptrace';
const POLL_MS = 2000;
const $ = (id: string): HTMLElement | null => document.getElementById(id);

const xs: number[] = [];
const used: number[] = [];
const allocated: number[] = [];
const urls: string[] = [];
let since = 0;
let requests = 0;
let chart: uPlot | null = null;
let status: ProfilerStatus | null = null;

function add(points: HeapPointView[]): void {
  for (const p of points) {
    requests += p.requests;
    xs.push(requests);
    used.push(p.used_size);
    allocated.push(p.total_size);
    urls.push(p.request ? `${p.request.method} ${p.request.url}` : '');
    since = p.index;
  }
}

function chartWidth(el: HTMLElement): number {
  return Math.max(320, Math.floor(el.clientWidth || 640));
}

function draw(): void {
  const el = $('chart-heap-points');
  if (!el || xs.length === 0 || typeof uPlot === 'undefined') return;
  const data: uPlot.AlignedData = [xs, used, allocated];
  if (chart) {
    chart.setData(data);
    return;
  }
  const bytes = (_u: uPlot, v: number | null): string => (v == null ? '—' : formatBytes(v));
  chart = new uPlot(
    {
      width: chartWidth(el),
      height: 160,
      scales: { x: { time: false }, y: { auto: true } },
      series: [
        {
          label: 'request',
          value: (_u, v, _si, idx) => (v == null || idx == null ? '—' : `${v} req · ${urls[idx] ?? ''}`),
        },
        { label: 'heap used (per request, no pause)', stroke: '#2a7ab0', width: 1.5, value: bytes },
        { label: 'heap allocated', stroke: '#9aa5b1', width: 1, dash: [4, 4], value: bytes },
      ],
      axes: [
        { label: 'traced requests (cumulative)' },
        { label: 'heap', size: 72, values: (_u, splits) => splits.map((v) => formatBytes(v)) },
      ],
      legend: { live: true },
    },
    data,
    el,
  );
}

function renderNext(): void {
  const pill = $('st-next');
  if (!pill || !status) return;
  pill.textContent = nextSnapshotText(status, Date.now());
  if (status.snapshot.warning) pill.setAttribute('title', status.snapshot.warning);
  else if (status.snapshot.skipped) pill.setAttribute('title', status.snapshot.skipped.message);
}

async function getJSON<T>(path: string): Promise<T | null> {
  const res = await fetch(base + path, { headers: { Accept: 'application/json' } });
  return res.ok ? ((await res.json()) as T) : null;
}

async function poll(): Promise<void> {
  try {
    const [points, st] = await Promise.all([
      getJSON<HeapPointView[]>(`/api/heap-points?since=${since}`),
      getJSON<ProfilerStatus>('/api/status'),
    ]);
    if (Array.isArray(points) && points.length > 0) {
      add(points);
      draw();
    }
    if (st) status = st;
    renderNext();
  } catch {
    // The profiler is restarting or gone: overview.ts says so; try again later.
  }
}

void poll();
setInterval(() => {
  if (document.visibilityState !== 'hidden') void poll();
}, POLL_MS);
// Counts down between polls.
setInterval(renderNext, 1000);
window.addEventListener('resize', () => {
  const el = $('chart-heap-points');
  if (chart && el) chart.setSize({ width: chartWidth(el), height: 160 });
});
