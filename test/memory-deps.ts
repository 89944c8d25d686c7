import type { HeapRecord, RequestInfo } from '../contract/record.js';
import type { AppDeps, AppEvent, ProfilerStatus } from '../contract/app-deps.js';

/**
 * An AppDeps over records held in memory, for route tests and page-behaviour tests that
 * serve the UI without a profiler. `add` appends a record and tells subscribers, like the
 * profiler does after a snapshot; `setStatus` changes the status and tells them too.
 */
export class MemoryDeps implements AppDeps {
  readonly store: HeapRecord[] = [];
  private current: ProfilerStatus;
  private readonly listeners = new Set<(event: AppEvent) => void>();
  readonly signals: RequestInfo[][] = [];

  constructor(
    status: Partial<ProfilerStatus> = {},
    /** module name -> the script the "target" has loaded. */
    readonly sources: Map<string, { url: string; source: string }> = new Map(),
  ) {
    this.current = { ...defaultStatus(), ...status };
  }

  records(since = 0): HeapRecord[] {
    // Records are kept in index order, so the ones after `since` are a suffix.
    let lo = 0;
    let hi = this.store.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.store[mid]!.index <= since) lo = mid + 1;
      else hi = mid;
    }
    return this.store.slice(lo);
  }

  status(): ProfilerStatus {
    return { ...this.current, records: this.store.length, lastIndex: this.store.at(-1)?.index ?? 0 };
  }

  subscribe(listener: (event: AppEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async snapshotNow(): Promise<HeapRecord> {
    const last = this.store.at(-1);
    if (!last) throw new Error('MemoryDeps: no record to repeat');
    return this.add({ ...last, index: last.index + 1, requests: 0, request: null, at: new Date().toISOString() });
  }

  signal(requests: RequestInfo[]): void {
    this.signals.push(requests);
  }

  async moduleSource(moduleName: string): Promise<{ url: string; source: string } | undefined> {
    return this.sources.get(moduleName);
  }

  async clearRecords(): Promise<number> {
    const count = this.store.length;
    this.store.length = 0;
    this.emit({ type: 'status', status: this.status() });
    return count;
  }

  add(record: HeapRecord): HeapRecord {
    this.store.push(record);
    this.emit({ type: 'record', record });
    this.emit({ type: 'status', status: this.status() });
    return record;
  }

  setStatus(patch: Partial<ProfilerStatus>): void {
    this.current = { ...this.current, ...patch };
    this.emit({ type: 'status', status: this.status() });
  }

  private emit(event: AppEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}

export function defaultStatus(): ProfilerStatus {
  return {
    target: '127.0.0.1:3000',
    inspector: { address: '127.0.0.1:9229', state: 'connected', hint: null },
    snapshot: { running: false, progress: null, pendingSignals: 0 },
    records: 0,
    lastIndex: 0,
    lastError: null,
    urlPatterns: ['^(?!/_ah/apptrace)'],
    traceModules: ["the app's own scripts (not node_modules, not node:)"],
    db: '.apptrace/db.json',
  };
}
