import type { Writable } from 'node:stream';
import type { AppError } from '../contract/errors.js';
import type { HeapRecord } from '../contract/record.js';
import { formatBytes } from '../common/format-bytes.js';
import type { AppEvent } from '../contract/app-deps.js';
import type { Profiler } from './profiler.js';
import type { RecordStore } from './store.js';
import { formatDuration } from './pause-budget.js';
import { biggestMover } from '../analyses/suspects.js';

/** Progress is shown once a snapshot has run this long (small ones finish before). */
const PROGRESS_AFTER_MS = 1_000;
const PROGRESS_EVERY_MS = 250;

/**
 * What the profiler says on its terminal: where to browse and what is traced at start,
 * inspector state changes, one line per record, and — on a TTY — progress while a large
 * snapshot streams.
 *
 * @example
 *   #4  3 requests   6.6 MB  capture 350 ms  analysis 40 ms  +12.3 KB guestbook.mjs · messages
 */
export class TerminalReport {
  readonly #out: Writable & { isTTY?: boolean };
  readonly #profiler: Profiler;
  #previous: HeapRecord | undefined;
  #progressShown = false;
  readonly #offs: (() => void)[] = [];

  constructor(out: Writable & { isTTY?: boolean }, profiler: Profiler) {
    this.#out = out;
    this.#profiler = profiler;
  }

  start(info: {
    url: string;
    store: RecordStore;
    urlPatterns: string[];
    target: string | null;
    sidecar: boolean;
  }): void {
    const { store } = info;
    // As the proxy's sidecar its port is an internal one: the proxy prints the address to open.
    this.line(
      `apptrace-profiler listening on ${info.url}${info.sidecar ? ' (sidecar: open the UI through apptrace-proxy)' : ''}`,
    );
    this.#previous = store.since(Math.max(0, store.lastIndex - 1))[0];
    if (info.target) this.line(`  target:    ${info.target}`);
    this.line(`  inspector: ${this.#profiler.session.address}`);
    this.line(`  traced:    ${this.#profiler.traceModules.join(', ')}`);
    if (info.urlPatterns.length > 0) this.line(`  URLs:      ${info.urlPatterns.join('  ')}`);
    this.line(`  store:     ${store.path} (${store.size} record${store.size === 1 ? '' : 's'})`);

    const { session, capture } = this.#profiler;
    let traced = this.#profiler.traceModules.join(', ');
    const onState = (state: string, hint: string | null) => {
      const id = session.current?.id;
      this.line(
        `inspector ${session.address}: ${state}${state === 'connected' && id ? ` (session ${id})` : ''}${hint ? ` — ${hint}` : ''}`,
      );
      const now = this.#profiler.traceModules.join(', ');
      if (now !== traced) {
        traced = now;
        this.line(`  traced:    ${now}`);
      }
    };
    const onRecord = (record: HeapRecord) => {
      this.line(this.#recordLine(record));
      this.#previous = record;
    };
    const onFailed = (error: AppError) =>
      this.line(
        error.code === 'STORE_UNREADABLE'
          ? `store: ${error.message}`
          : error.code === 'LOW_MEMORY'
            ? `snapshot skipped: ${error.message}`
            : `snapshot discarded: ${error.message}`,
      );
    // The pause budget: when signals wait, say for how long and what the snapshot will cost.
    const onDeferred = (at: number, estimatedPauseMs: number) => {
      const wait = at - Date.now();
      if (wait < 1_000) return;
      this.line(
        `next snapshot in ${Math.ceil(wait / 1000)} s, ~${formatDuration(estimatedPauseMs)} pause ` +
          `(${capture.pendingSignals} request${capture.pendingSignals === 1 ? '' : 's'} wait; --max-pause-share ${capture.budget.share})`,
      );
    };
    const onWarning = (message: string) => this.line(`warning: ${message}`);
    let shownAt = 0;
    const onProgress = (p: { done: number; total: number; bytes: number; startedAt: number }) => {
      const now = Date.now();
      if (!this.#out.isTTY || now - p.startedAt < PROGRESS_AFTER_MS || now - shownAt < PROGRESS_EVERY_MS) return;
      shownAt = now;
      const phase = p.total > 0 && p.done < p.total ? `building ${Math.floor((100 * p.done) / p.total)}%` : 'streaming';
      this.#out.write(
        `\r\x1b[Ksnapshot: ${phase}, ${formatBytes(p.bytes)} received, ${((Date.now() - p.startedAt) / 1000).toFixed(1)} s`,
      );
      this.#progressShown = true;
    };
    // Setup warnings (contract/app-deps.ts StatusWarning), each printed when it appears.
    let warned = new Set<string>();
    const onStatus = (event: AppEvent) => {
      if (event.type !== 'status') return;
      const now = new Set((event.status.warnings ?? []).map((w) => w.message));
      for (const message of now) if (!warned.has(message)) this.line(`warning: ${message}`);
      warned = now;
    };
    const unsubscribe = this.#profiler.subscribe(onStatus);
    this.#offs.push(() => void unsubscribe());
    session.on('state', onState);
    capture.on('record', onRecord);
    capture.on('failed', onFailed);
    capture.on('progress', onProgress);
    capture.on('deferred', onDeferred);
    capture.on('warning', onWarning);
    this.#offs.push(
      () => capture.off('deferred', onDeferred),
      () => capture.off('warning', onWarning),
      () => session.off('state', onState),
      () => capture.off('record', onRecord),
      () => capture.off('failed', onFailed),
      () => capture.off('progress', onProgress),
    );
  }

  stop(): void {
    for (const off of this.#offs.splice(0)) off();
  }

  /** Writes one line, first clearing a progress line. */
  line(text: string): void {
    if (this.#progressShown) {
      this.#out.write('\r\x1b[K');
      this.#progressShown = false;
    }
    this.#out.write(`${text}\n`);
  }

  #recordLine(record: HeapRecord): string {
    const what = record.baseline
      ? 'baseline'
      : record.requests === 0
        ? 'manual'
        : `${record.requests} request${record.requests === 1 ? '' : 's'}`;
    const mover = record.baseline ? undefined : biggestMover(this.#previous, record);
    const moved = mover
      ? `  ${mover.delta > 0 ? '+' : ''}${formatBytes(mover.delta)} ${mover.entry.module_name} · ${mover.entry.name}`
      : '';
    return (
      `#${record.index}  ${what.padEnd(11)} ${(record.heap.total_size / 1024 / 1024).toFixed(1).padStart(6)} MB` +
      `  capture ${record.timings.capture_ms} ms${record.timings.pause_ms !== undefined ? ` (paused ${record.timings.pause_ms} ms)` : ''}  analysis ${record.timings.analysis_ms} ms  ${record.entries.length} entries${moved}`
    );
  }
}
