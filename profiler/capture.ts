import { EventEmitter } from 'node:events';
import { AppError, isAppError } from '../common/errors.js';
import type { AttachedTarget, InspectorSession } from './cdp/session.js';
import type { AnalysisFactory } from './analysis-client.js';
import type { HeapRecord, RequestInfo } from './record.js';
import type { SnapshotFiles, SnapshotWriter } from './snapshot-files.js';
import type { RecordStore } from './store.js';

/** After a failed snapshot, carried-over signals wait this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** Event-loop turns given to signals already received before a snapshot claims them. */
const SIGNAL_TURNS = 3;

export interface CaptureOptions {
  session: InspectorSession;
  store: RecordStore;
  /** Starts the analysis of one snapshot (in a worker thread, see analysis-client.ts). */
  analysis: AnalysisFactory;
  /** How modules are named and which are traced, at the time of a snapshot. */
  modules: () => { root: string; patterns: string[] };
  /** Take a baseline as soon as a target is attached (default true). */
  baselineOnAttach?: boolean;
  /**
   * `--allocation-sites`: the target tracks allocations (the profiler started it, or the
   * target runs with --track-heap-objects); entries get their objects' allocation sites.
   */
  allocationSites?: boolean;
  /** `--keep-snapshots N`: where each record's raw snapshot is written as it streams. */
  snapshots?: SnapshotFiles;
}

export interface CaptureProgress {
  /** V8's progress while it builds the snapshot, in nodes. */
  done: number;
  total: number;
  /** Bytes of the snapshot streamed so far. */
  bytes: number;
  /** When the snapshot began (ms since epoch). */
  startedAt: number;
}

export declare interface Capture {
  on(event: 'record', listener: (record: HeapRecord) => void): this;
  on(event: 'progress', listener: (progress: CaptureProgress) => void): this;
  /** Running started or stopped, pending signals changed, an error happened. */
  on(event: 'change', listener: () => void): this;
  on(event: 'failed', listener: (error: AppError) => void): this;
}

/**
 * Takes one heap snapshot at a time. A signal starts one when none runs; signals that
 * arrive before it has finished streaming are folded into it (V8 blocks the target's
 * main thread while it takes the snapshot, so those are for requests served before it
 * began), later ones into the next: a record's `requests` counts them and `request` is
 * the last of them. The first snapshot after attaching is a baseline (V8 builds internal
 * caches while it takes it). A snapshot that is cut off — the target died, the session
 * closed — is discarded: no record, the store untouched, `lastError` says what happened.
 *
 * @example
 *   const capture = new Capture({ session, store, analysis: () => worker.begin(), modules: () => ({ root, patterns }) });
 *   capture.signal([{ method: 'GET', url: '/', status: 200 }]);
 */
export class Capture extends EventEmitter {
  running = false;
  progress: CaptureProgress | null = null;
  pendingSignals = 0;
  /** What went wrong with the last snapshot; cleared by the next record. */
  lastError: { at: string; message: string } | null = null;

  readonly #options: CaptureOptions;
  #lastRequest: RequestInfo | null = null;
  #waiters: { resolve: (record: HeapRecord) => void; reject: (error: unknown) => void }[] = [];
  /** Session ids that already have their baseline record. */
  #baselines = new Set<string>();
  /** Session ids whose automatic baseline has been attempted. */
  #baselineTried = new Set<string>();
  #stopped = false;
  #current: Promise<void> | null = null;
  /** The raw snapshot being written for the record #take is making (--keep-snapshots). */
  #kept: SnapshotWriter | null = null;

  constructor(options: CaptureOptions) {
    super();
    this.#options = options;
    options.session.on('attached', () => this.#kick());
  }

  /** The proxy's report of finished matching responses. Never waits. */
  signal(requests: readonly RequestInfo[]): void {
    if (requests.length === 0 || this.#stopped) return;
    this.pendingSignals += requests.length;
    this.#lastRequest = requests[requests.length - 1]!;
    this.emit('change');
    this.#kick();
  }

  /**
   * Takes a snapshot now, folded with pending signals. When one is already running, the
   * answer is the next one, which starts after it (and so sees the heap as it is now).
   */
  snapshotNow(): Promise<HeapRecord> {
    if (this.#stopped) return Promise.reject(new AppError('SNAPSHOT_ABORTED', 'the profiler is stopping'));
    if (!this.#options.session.current) {
      const { session } = this.#options;
      return Promise.reject(
        new AppError('NO_INSPECTOR', `not connected to the target's inspector at ${session.address}: ${session.hint ?? session.state}`),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** Stops taking snapshots; a running one is abandoned without writing a record. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(new AppError('SNAPSHOT_ABORTED', 'the profiler is stopping'));
    await this.#current?.catch(() => undefined);
  }

  /** Starts the next snapshot if there is a reason to and nothing runs. */
  #kick(): void {
    if (this.running || this.#stopped) return;
    const target = this.#options.session.current;
    if (!target) return;
    // The baseline is taken on its own once per session; if it fails, the next signal
    // takes it (so a broken target is not snapshotted in a loop).
    const needsBaseline = this.#options.baselineOnAttach !== false && !this.#baselineTried.has(target.id);
    if (this.pendingSignals === 0 && this.#waiters.length === 0 && !needsBaseline) return;
    this.running = true;
    this.#baselineTried.add(target.id);
    this.#current = this.#runOne(target).then((ok) => {
      this.running = false;
      this.progress = null;
      this.#current = null;
      this.emit('change');
      // Whatever arrived meanwhile goes into the next snapshot; after a failure, not at
      // once: a target that cannot be snapshotted must not be hammered.
      if (ok) queueMicrotask(() => this.#kick());
      else setTimeout(() => this.#kick(), RETRY_AFTER_FAILURE_MS).unref();
    });
  }

  /**
   * Names the raw snapshot of the record about to be appended after that record's index
   * (the store numbers records one after the other), or undefined when none is kept.
   */
  async #keepSnapshot(): Promise<string | undefined> {
    const kept = this.#kept;
    if (kept === null) return undefined;
    const ok = await kept.finish();
    this.#kept = null;
    if (this.#stopped || !ok) {
      kept.abort();
      if (this.#stopped) throw new AppError('SNAPSHOT_ABORTED', 'the profiler stopped during the snapshot');
      return undefined;
    }
    return kept.commit(this.#options.store.lastIndex + 1);
  }

  /** Takes one snapshot; resolves false when it failed (never rejects). */
  async #runOne(target: AttachedTarget): Promise<boolean> {
    const waiters = this.#waiters.splice(0);
    const claims: { requests: number; request: RequestInfo | null }[] = [];
    // The signals this snapshot covers are the ones that arrived before it finished
    // streaming: V8 blocks the target's main thread while it takes the snapshot, so a
    // signal that comes in until then is for a request served before the snapshot began,
    // whose effect is in this heap (the proxy signals after the response has finished).
    const claim = () => {
      const claimed = { requests: this.pendingSignals, request: this.#lastRequest };
      claims.push(claimed);
      this.pendingSignals = 0;
      this.#lastRequest = null;
      this.emit('change');
      return claimed;
    };
    try {
      const record: Omit<HeapRecord, 'index'> = await this.#take(target, claim);
      if (this.#stopped) throw new AppError('SNAPSHOT_ABORTED', 'the profiler stopped during the snapshot');
      const snapshot = await this.#keepSnapshot();
      if (snapshot !== undefined) record.snapshot = snapshot;
      // Shown at once; the file is written meanwhile (a big store takes a while to write).
      const { record: stored, written } = this.#options.store.append(record);
      if (snapshot !== undefined) for (const index of this.#options.snapshots!.prune()) this.#options.store.dropSnapshot(index);
      this.#baselines.add(target.id);
      // The error was about an earlier snapshot; the terminal has shown it.
      this.lastError = null;
      this.emit('record', stored);
      for (const waiter of waiters) waiter.resolve(stored);
      written.catch((error: unknown) => {
        const appError = error as AppError;
        this.lastError = { at: new Date().toISOString(), message: appError.message };
        this.emit('failed', appError);
      });
      return true;
    } catch (error) {
      this.#kept?.abort();
      this.#kept = null;
      const appError = isAppError(error)
        ? error
        : new AppError('SNAPSHOT_ABORTED', `snapshot failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      // The heap those requests changed is gone when the target went away, and a snapshot
      // the engine cannot read will not get better; otherwise the next one covers them.
      const targetGone = this.#options.session.current?.id !== target.id;
      if (targetGone) {
        this.pendingSignals = 0;
        this.#lastRequest = null;
        this.emit('change');
      } else if (!this.#stopped && appError.code !== 'BAD_SNAPSHOT') {
        for (const claimed of claims) {
          this.pendingSignals += claimed.requests;
          this.#lastRequest ??= claimed.request;
        }
      }
      this.lastError = { at: new Date().toISOString(), message: appError.message };
      for (const waiter of waiters) waiter.reject(appError);
      this.emit('failed', appError);
      return false;
    }
  }

  async #take(
    target: AttachedTarget,
    claim: () => { requests: number; request: RequestInfo | null },
  ): Promise<Omit<HeapRecord, 'index'>> {
    const { session } = this.#options;
    const { client } = target;
    const baseline = !this.#baselines.has(target.id);
    await session.idle(client);

    const analysis = this.#options.analysis();
    const kept = (this.#kept = this.#options.snapshots?.begin() ?? null);
    const progress: CaptureProgress = { done: 0, total: 0, bytes: 0, startedAt: Date.now() };
    this.progress = progress;
    const offChunk = client.HeapProfiler.addHeapSnapshotChunk(({ chunk }) => {
      progress.bytes += chunk.length;
      analysis.write(chunk);
      kept?.write(chunk);
      this.emit('progress', progress);
    });
    const offProgress = client.HeapProfiler.reportHeapSnapshotProgress(({ done, total }) => {
      progress.done = done;
      progress.total = total;
      this.emit('progress', progress);
    });
    const started = performance.now();
    try {
      await client.HeapProfiler.takeHeapSnapshot({ reportProgress: true });
    } catch (error) {
      analysis.abort();
      throw new AppError(
        'SNAPSHOT_ABORTED',
        `the snapshot was cut off after ${formatBytes(progress.bytes)} (${(error as Error)?.message ?? String(error)}); nothing was recorded`,
        { cause: error },
      );
    } finally {
      offChunk();
      offProgress();
    }
    const streamed = performance.now();
    // Signals that reached our sockets while the snapshot streamed may still wait to be
    // parsed: let the event loop turn a few times (no timer: requests the target serves
    // after the snapshot need a network round trip, longer than this).
    for (let i = 0; i < SIGNAL_TURNS; i++) await new Promise((resolve) => setImmediate(resolve));
    const { requests, request } = claim();
    if (session.current?.id !== target.id) {
      analysis.abort();
      throw new AppError('SNAPSHOT_ABORTED', 'the target went away while the snapshot streamed; nothing was recorded');
    }
    await session.refreshScripts();
    const { root, patterns } = this.#options.modules();
    const result = await analysis.finish({
      root,
      patterns,
      scriptUrls: [...session.scriptUrls],
      sources: [...session.sources],
      ...(this.#options.allocationSites ? { allocationSites: true } : {}),
    });
    const finished = performance.now();
    return {
      at: new Date().toISOString(),
      requests,
      request,
      baseline,
      session: target.id,
      heap: { total_size: result.total_size, node_count: result.node_count, edge_count: result.edge_count },
      ...(result.allocation_tracking ? { allocation_tracking: true } : {}),
      // capture: from the request to the last chunk, parsing included (it runs while the
      // chunks arrive); analysis: what is left once the stream has ended. Together they
      // span the snapshot: it began capture_ms + analysis_ms before `at`.
      timings: { capture_ms: Math.round(streamed - started), analysis_ms: Math.round(finished - streamed) },
      entries: result.entries,
    };
  }
}

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes} B`;
  if (abs < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
