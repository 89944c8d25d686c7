import type { InspectorSession } from './cdp/session.js';
import type { RequestInfo } from '../contract/record.js';
import type { RecordStore } from './store.js';
import type { HeapPoint } from '../contract/record.js';

export type { HeapPoint };

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
