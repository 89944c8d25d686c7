import type { AppDeps, AppEvent, ProfilerStatus } from '../ui/deps.js';
import type { AnalysisFactory } from './capture.js';
import { Capture } from './capture.js';
import { InspectorSession } from './cdp/session.js';
import type { ModuleMatcher } from './heap/module-match.js';
import type { HeapRecord, RequestInfo } from './record.js';
import type { RecordStore } from './store.js';

export interface ProfilerOptions {
  inspect: { host: string; port: number };
  store: RecordStore;
  modules: ModuleMatcher;
  analysis: AnalysisFactory;
  /** Shown in the status: the dev server behind the proxy, when known. */
  target?: string | null;
  urlPatterns?: string[];
  traceModules?: string[];
  /** How the target is started, for hints (`server.js`). */
  targetHint?: string;
  retry?: { minMs: number; maxMs: number };
}

/**
 * The live profiler: one inspector session, the capture queue and the store, put
 * together behind the `AppDeps` the Hono app serves. Listeners get every record and
 * every status change (progress at most every 200 ms).
 *
 * @example
 *   const profiler = new Profiler({ inspect, store, modules, analysis });
 *   profiler.start();
 *   serve({ fetch: createApp(profiler).fetch, port: 9300 });
 */
export class Profiler implements AppDeps {
  readonly session: InspectorSession;
  readonly capture: Capture;
  readonly #options: ProfilerOptions;
  readonly #listeners = new Set<(event: AppEvent) => void>();
  #lastProgressEvent = 0;
  #progressTimer: NodeJS.Timeout | null = null;

  constructor(options: ProfilerOptions) {
    this.#options = options;
    this.session = new InspectorSession({
      host: options.inspect.host,
      port: options.inspect.port,
      moduleName: (url) => options.modules.traced(url),
      ...(options.targetHint ? { targetHint: options.targetHint } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
    });
    this.capture = new Capture({
      session: this.session,
      store: options.store,
      analysis: options.analysis,
      traced: (url) => options.modules.traced(url),
      filename: (url) => options.modules.filename(url),
    });
    this.session.on('state', () => this.#emitStatus());
    this.capture.on('change', () => this.#emitStatus());
    this.capture.on('failed', () => this.#emitStatus());
    this.capture.on('progress', () => this.#emitProgress());
    this.capture.on('record', (record) => this.#emit({ type: 'record', record }));
  }

  start(): void {
    this.session.start();
  }

  /** Abandons a running snapshot (no partial record), closes CDP, waits for the store. */
  async stop(): Promise<void> {
    if (this.#progressTimer) clearTimeout(this.#progressTimer);
    const stopping = this.capture.stop();
    await this.session.close();
    await stopping;
    await this.#options.store.flush();
  }

  records(since = 0): HeapRecord[] {
    return this.#options.store.since(since);
  }

  status(): ProfilerStatus {
    const { session, capture } = this;
    const store = this.#options.store;
    const progress = capture.progress;
    return {
      target: this.#options.target ?? null,
      inspector: { address: session.address, state: session.state, hint: session.hint },
      snapshot: {
        running: capture.running,
        progress: progress ? progressOf(progress) : null,
        pendingSignals: capture.pendingSignals,
      },
      records: store.size,
      lastIndex: store.lastIndex,
      lastError: capture.lastError,
      urlPatterns: this.#options.urlPatterns ?? [],
      traceModules: this.#options.traceModules ?? [],
      db: store.path,
    };
  }

  subscribe(listener: (event: AppEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  snapshotNow(): Promise<HeapRecord> {
    return this.capture.snapshotNow();
  }

  signal(requests: RequestInfo[]): void {
    this.capture.signal(requests);
  }

  moduleSource(moduleName: string): Promise<{ url: string; source: string } | undefined> {
    return this.session.moduleSource(moduleName);
  }

  #emit(event: AppEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // One broken listener (a closed SSE stream) must not stop the others.
      }
    }
  }

  #emitStatus(): void {
    this.#lastProgressEvent = Date.now();
    this.#emit({ type: 'status', status: this.status() });
  }

  /** Progress arrives per chunk; pass it on at most every 200 ms. */
  #emitProgress(): void {
    if (this.#progressTimer) return;
    const wait = Math.max(0, this.#lastProgressEvent + 200 - Date.now());
    this.#progressTimer = setTimeout(() => {
      this.#progressTimer = null;
      if (this.capture.running) this.#emitStatus();
    }, wait);
  }
}

/**
 * V8 reports progress in nodes while it builds the snapshot, then streams it; the status
 * shows the first as done/total and, once V8 is done, the bytes streamed so far.
 */
function progressOf(progress: { done: number; total: number; bytes: number }): { done: number; total: number } {
  if (progress.total > 0 && progress.done < progress.total) return { done: progress.done, total: progress.total };
  return { done: progress.bytes, total: 0 };
}
