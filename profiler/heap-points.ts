import type { InspectorSession } from './cdp/session.js';
import type { RequestInfo } from './record.js';
import type { RecordStore } from './store.js';

/**
 * A cheap reading of the target's heap after matching requests: `Runtime.getHeapUsage`
 * asks V8 for its counters, with no snapshot and no pause. Stored in the lowdb file under
 * `points` (optional) and served at `/api/heap-points?since=N`.
 */
export interface HeapPoint {
  /** Counts points from 1. */
  index: number;
  /** ISO time of the reading. */
  at: string;
  /** Matching requests reported since the previous point (signals that came together share one). */
  requests: number;
  /** The last of them. */
  request: RequestInfo | null;
  /** V8's used heap, bytes (live objects and garbage not yet collected). */
  used_size: number;
  /** V8's heap as allocated from the system, bytes. */
  total_size: number;
  /** The inspector session it was read in (as records' `session`). */
  session: string;
  /** The index of the newest record when it was read: points after record N draw after N. */
  after_record: number;
}

export interface HeapPointsOptions {
  session: InspectorSession;
  store: RecordStore;
  /** Called with each point as it is stored. */
  onPoint?: (point: HeapPoint) => void;
}

/**
 * Takes one heap point per batch of signals, one reading at a time: signals that come while
 * a reading runs (or while a snapshot holds the target) fold into the next one.
 *
 * @example
 *   const points = new HeapPoints({ session, store, onPoint: (p) => capture.noteHeapUsage(p.used_size) });
 *   points.add([{ method: 'GET', url: '/', status: 200 }]);
 */
export class HeapPoints {
  readonly #options: HeapPointsOptions;
  #pending = 0;
  #last: RequestInfo | null = null;
  #reading: Promise<void> | null = null;
  #stopped = false;

  constructor(options: HeapPointsOptions) {
    this.#options = options;
  }

  add(requests: readonly RequestInfo[]): void {
    if (requests.length === 0 || this.#stopped) return;
    this.#pending += requests.length;
    const last = requests[requests.length - 1]!;
    this.#last = { method: last.method, url: last.url, status: last.status };
    this.#reading ??= this.#read();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#reading;
  }

  async #read(): Promise<void> {
    while (this.#pending > 0 && !this.#stopped) {
      const target = this.#options.session.current;
      const requests = this.#pending;
      const request = this.#last;
      this.#pending = 0;
      this.#last = null;
      // No target: nothing to read; those requests are in the records' counts all the same.
      if (!target) break;
      try {
        const { usedSize, totalSize } = await target.client.Runtime.getHeapUsage();
        const { store } = this.#options;
        const point = store.addPoint({
          at: new Date().toISOString(),
          requests,
          request,
          used_size: usedSize,
          total_size: totalSize,
          session: target.id,
          after_record: store.lastIndex,
        });
        this.#options.onPoint?.(point);
      } catch {
        // The target went away meanwhile: that point is lost, the next attach starts afresh.
      }
    }
    this.#reading = null;
  }
}
